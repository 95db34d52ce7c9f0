// SPDX-License-Identifier: GPL-2.0
/*
 * maps_race.c - /proc/PID/maps and PROCMAP_QUERY against a process whose
 * VMAs change under the reader.
 *
 * A child process owns a region of 20 pages at a known address, inside a
 * PROT_NONE reservation whose untouched parts are guard VMAs on both sides
 * of it, and cycles the region through eight states, one syscall a step:
 *
 *   0  A = anon rw-p pages [0,8)          F = file rw-s pages [12,18)
 *   1  F split: mprotect(F[2,4), PROT_READ) gives rw-s | r--s | rw-s
 *   2  merged back: mprotect(F[2,4), PROT_READ | PROT_WRITE)      (= 0)
 *   3  F grown in place to [12,20) by mremap
 *   4  F shrunk back to [12,18) by mremap                          (= 0)
 *   5  mmap(MAP_FIXED) of anon r--p over A[2,4): rw-p | r--p | rw-p
 *   6  mmap(MAP_FIXED) of anon rw-p over A[2,4): merged again      (= 0)
 *   7  A[6,7) moved to page 10 by mremap: rw-p [0,6), [7,8), [10,11)
 *   (8 = 0: A[6,7) moved back, merged)
 *
 * Pages 8-11 and 18-19 are holes (unmapped) in state 0. The parent, the
 * reader, knows every state, hence every VMA the region can show (start,
 * end, permissions, file offset, device, inode, name: the legal set), and
 * which pages are mapped in every state (A's pages but 6, F's first six).
 * Its other mappings (and the child's: filler VMAs placed below the region
 * so that the region straddles the first 4 KiB of the maps file, where a
 * page-sized read ends) never change while the test runs.
 *
 * The reader reads /proc/CHILD/maps whole in one of six ways in turn:
 * 64 KiB, 4096, 1, 7, 64 and 100 bytes per read() (seq_file fills its
 * buffer up to a page at a time and takes the lock anew at each refill, so
 * a small read drops it between lines: one pass of the file spans many
 * changes); then, three times, 1, 7 and 64 bytes per read() from the lower
 * guard's line (lseek: the lines before it never change) to the upper
 * guard's, where most of the reads that span a change come from; and it
 * queries the region, its guards and every other VMA with PROCMAP_QUERY.
 * Checks, one KTAP result each:
 *
 * - "quiescent states as modelled": with the child paused (a pipe
 *   handshake) after each step of one cycle, the region's lines are
 *   exactly the model's state and the other lines the snapshot taken at
 *   the start; and every change of the child succeeded.
 * - "quiescent output identical": with the child paused, the file read
 *   whole, read 1 and 7 bytes at a time, and the VMA header lines of
 *   /proc/CHILD/smaps (which has its own iterator and the same line
 *   format) are byte-identical.
 * - "lines well-formed and ordered": every line parses, start < end, and
 *   each line starts at or after the end of the one before (so starts
 *   ascend strictly) - except that a region line may overlap a region line
 *   before it: when the VMAs change between two refills, the walk resumes
 *   where it stopped and shows the new state of a VMA whose old state it
 *   already showed. It must still end past the line before: no VMA twice,
 *   no going back.
 * - "region lines legal": every line that intersects the region is a VMA
 *   of some state.
 * - "no mapped page skipped": every page mapped in all states is covered
 *   by a region line of the read.
 * - "other VMAs intact": every VMA outside the region appears exactly once,
 *   in order and byte-identical to the snapshot; the guards always appear.
 * - "PROCMAP_QUERY consistent": for each page of the region and its
 *   guards, the covering VMA is a legal VMA containing the address (or
 *   none, only if the page is not mapped in every state; for a guard,
 *   exactly the guard), and with PROCMAP_QUERY_COVERING_OR_NEXT_VMA the
 *   VMA returned is legal, ends past the address and skips no always-mapped
 *   page (or is the snapshot's next VMA); every other VMA is returned
 *   exactly as in the snapshot.
 * - "race exercised": some read's region lines came from different steps of
 *   the cycle (a sequence of lines that is no state of the model, e.g. an
 *   old and a new state of one VMA). --no-race keeps the child from
 *   changing anything during the race: the check must fail, "race not
 *   exercised".
 *
 * The deltas of /proc/vmstat's vma_iter_locked and vma_iter_fallback (the
 * series' maps iterator, when the kernel has them) are printed, not judged.
 *
 * Usage: maps_race [-d seconds] [--no-race]
 * Exit: 0 every check passed, 1 a check failed, 2 usage.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <linux/fs.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ktap.h"
#include "probe.h"

/* 6.11's UAPI; the build uses the base tree's headers, a host's may lack it. */
#ifndef PROCMAP_QUERY
struct procmap_query {
	__u64 size;
	__u64 query_flags;
	__u64 query_addr;
	__u64 vma_start;
	__u64 vma_end;
	__u64 vma_flags;
	__u64 vma_page_size;
	__u64 vma_offset;
	__u64 inode;
	__u32 dev_major;
	__u32 dev_minor;
	__u32 vma_name_size;
	__u32 build_id_size;
	__u64 vma_name_addr;
	__u64 build_id_addr;
};
#define PROCMAP_QUERY _IOWR('f', 17, struct procmap_query)
#define PROCMAP_QUERY_VMA_READABLE 0x01
#define PROCMAP_QUERY_VMA_WRITABLE 0x02
#define PROCMAP_QUERY_VMA_EXECUTABLE 0x04
#define PROCMAP_QUERY_VMA_SHARED 0x08
#define PROCMAP_QUERY_COVERING_OR_NEXT_VMA 0x10
#endif

/* The region, in pages from its start (see the table above). */
#define REGION_PAGES	20
#define GUARD_PAGES	4
#define A_PAGE		0
#define A_PAGES		8
#define PARK_PAGE	10
#define F_PAGE		12
#define F_PAGES		6
#define F_GROWN		8
#define NSTATES		8
#define MAX_STATE_VMAS	4
/* Filler VMAs at most: enough to push the region past 4 KiB of text. */
#define MAX_FILLERS	120

/* One VMA of a state: pages [first, last) of the region; fpage < 0: anon */
struct mvma {
	int first, last;
	const char *perms;
	int fpage;
};

struct mstate {
	int n;
	struct mvma v[MAX_STATE_VMAS];
};

#define V_A	{ A_PAGE, A_PAGE + A_PAGES, "rw-p", -1 }
#define V_F	{ F_PAGE, F_PAGE + F_PAGES, "rw-s", 0 }

static const struct mstate model[NSTATES] = {
	{ 2, { V_A, V_F } },
	{ 4, { V_A, { F_PAGE, F_PAGE + 2, "rw-s", 0 }, { F_PAGE + 2, F_PAGE + 4, "r--s", 2 },
	       { F_PAGE + 4, F_PAGE + 6, "rw-s", 4 } } },
	{ 2, { V_A, V_F } },
	{ 2, { V_A, { F_PAGE, F_PAGE + F_GROWN, "rw-s", 0 } } },
	{ 2, { V_A, V_F } },
	{ 4, { { A_PAGE, A_PAGE + 2, "rw-p", -1 }, { A_PAGE + 2, A_PAGE + 4, "r--p", -1 },
	       { A_PAGE + 4, A_PAGE + A_PAGES, "rw-p", -1 }, V_F } },
	{ 2, { V_A, V_F } },
	{ 4, { { A_PAGE, A_PAGE + 6, "rw-p", -1 }, { A_PAGE + 7, A_PAGE + 8, "rw-p", -1 },
	       { PARK_PAGE, PARK_PAGE + 1, "rw-p", -1 }, V_F } },
};

/* A VMA as a maps line shows it (or PROCMAP_QUERY returns it). */
struct mline {
	unsigned long start, end;
	char perms[5];
	unsigned long long off;
	unsigned int maj, min;
	unsigned long ino;
	const char *name;	/* not NUL-terminated: namelen bytes */
	size_t namelen;
	const char *text;	/* the whole line, '\n' included (maps only) */
	size_t len;
};

/* The control block the parent and the child share. */
struct ctl {
	atomic_int pause;	/* the parent wants the child to stop and report */
	atomic_long steps;	/* steps the child made */
	int err, err_step;	/* the first step that failed, and its errno */
};

static int duration = 3, race = 1;
static size_t pg;
static char *region;			/* the region's first page */
static struct ctl *ctl;
static int cmd_fd, ack_fd;		/* parent -> child, child -> parent */
static pid_t child;
static char maps_path[64], smaps_path[64], file_path[64];
static int file_fd;
static struct stat file_st;

/* The legal set, the always-mapped pages and each state's class. */
#define MAX_LEGAL	(NSTATES * MAX_STATE_VMAS)
static struct mline legal[MAX_LEGAL];
static int nlegal;
static uint32_t always_mapped;		/* bit p: page p is mapped in every state */
static int state_class[NSTATES];	/* the first state with the same VMAs */

/* The snapshot: the lines outside the region, in the quiescent child. */
#define MAX_LINES	512
static char *snap_text;
static struct mline snap[MAX_LINES];
static int nsnap, snap_guard_lo = -1, snap_guard_hi = -1;

/* The checks, and what failed in each. */
enum { C_MODEL, C_QUIET, C_FORM, C_REGION, C_SKIP, C_OTHER, C_QUERY, C_RACE, NCHECKS };
static const char *const check_name[NCHECKS] = {
	"quiescent states as modelled", "quiescent output identical",
	"lines well-formed and ordered", "region lines legal", "no mapped page skipped",
	"other VMAs intact", "PROCMAP_QUERY consistent", "race exercised",
};
static long long failures[NCHECKS];
static int report_budget = 20, dump_budget = 2;

/*
 * The ways of reading the file during the race, and what each saw: whole
 * passes, and passes that seek to the lower guard's line (the lines before
 * it never change, so its offset is fixed) and read on until the upper
 * guard's: many more refills inside the region per second.
 */
static const struct read_mode {
	size_t chunk;
	int focused;
} modes[] = {
	{ 65536, 0 }, { 4096, 0 }, { 1, 0 }, { 7, 0 }, { 64, 0 }, { 100, 0 },
	{ 1, 1 }, { 7, 1 }, { 64, 1 },
};
#define NMODES (sizeof(modes) / sizeof(modes[0]))
#define NWHOLE 6
struct mode_stats {
	long long reads, mixed, overlaps;
	uint32_t classes_seen;
	double seconds;
};
static struct mode_stats stats[NMODES];
static off_t focus_offset;	/* where the lower guard's line starts */
static long long n_queries;

#define BUF_SIZE	(1 << 20)
static char buf_a[BUF_SIZE], buf_b[BUF_SIZE], buf_c[BUF_SIZE];

static unsigned long page_addr(int page)
{
	return (unsigned long)region + (long)page * pg;
}

static int in_region(unsigned long start, unsigned long end)
{
	return start < page_addr(REGION_PAGES) && end > page_addr(0);
}

/* fail(check, "fmt", ...): count a failure of @check and say why (limited) */
#define fail(check, ...)							\
	do {									\
		failures[check]++;						\
		ktap_diag_limited(&report_budget, __VA_ARGS__);			\
	} while (0)

/* ---- the model ---- */

static void mvma_to_line(const struct mvma *v, struct mline *l)
{
	memset(l, 0, sizeof(*l));
	l->start = page_addr(v->first);
	l->end = page_addr(v->last);
	memcpy(l->perms, v->perms, 5);
	if (v->fpage >= 0) {
		l->off = (unsigned long long)v->fpage * pg;
		l->maj = major(file_st.st_dev);
		l->min = minor(file_st.st_dev);
		l->ino = file_st.st_ino;
		l->name = file_path;
		l->namelen = strlen(file_path);
	} else {
		l->name = "";
	}
}

/* same_vma(a, b): the same VMA as far as maps and PROCMAP_QUERY tell */
static int same_vma(const struct mline *a, const struct mline *b)
{
	return a->start == b->start && a->end == b->end && !memcmp(a->perms, b->perms, 4) &&
	       a->off == b->off && a->maj == b->maj && a->min == b->min && a->ino == b->ino &&
	       a->namelen == b->namelen && !memcmp(a->name, b->name, a->namelen);
}

static int same_state(const struct mstate *a, const struct mstate *b)
{
	if (a->n != b->n)
		return 0;
	for (int i = 0; i < a->n; i++)
		if (a->v[i].first != b->v[i].first || a->v[i].last != b->v[i].last ||
		    strcmp(a->v[i].perms, b->v[i].perms) || a->v[i].fpage != b->v[i].fpage)
			return 0;
	return 1;
}

/* legal_index(l): which VMA of the legal set @l is, or -1 */
static int legal_index(const struct mline *l)
{
	for (int i = 0; i < nlegal; i++)
		if (same_vma(l, &legal[i]))
			return i;
	return -1;
}

/* build_model(): the legal set, the always-mapped pages, the state classes */
static void build_model(void)
{
	always_mapped = (1u << REGION_PAGES) - 1;
	for (int k = 0; k < NSTATES; k++) {
		uint32_t mapped = 0;

		state_class[k] = k;
		for (int j = 0; j < k; j++)
			if (same_state(&model[j], &model[k])) {
				state_class[k] = state_class[j];
				break;
			}
		for (int i = 0; i < model[k].n; i++) {
			struct mline l;

			mvma_to_line(&model[k].v[i], &l);
			if (legal_index(&l) < 0)
				legal[nlegal++] = l;
			for (int p = model[k].v[i].first; p < model[k].v[i].last; p++)
				mapped |= 1u << p;
		}
		always_mapped &= mapped;
	}
}

/* ---- the child ---- */

/* step(k): take the region from state k to state k + 1; 0 or -errno */
static int step(int k)
{
	void *p = NULL;

	switch (k) {
	case 0:
		return mprotect((void *)page_addr(F_PAGE + 2), 2 * pg, PROT_READ) ? -errno : 0;
	case 1:
		return mprotect((void *)page_addr(F_PAGE + 2), 2 * pg,
				PROT_READ | PROT_WRITE) ? -errno : 0;
	case 2:
		p = mremap((void *)page_addr(F_PAGE), F_PAGES * pg, F_GROWN * pg, 0);
		break;
	case 3:
		p = mremap((void *)page_addr(F_PAGE), F_GROWN * pg, F_PAGES * pg, 0);
		break;
	case 4:
	case 5:
		/* A new VMA replaces two pages of A: first r--p, then rw-p (merges). */
		p = mmap((void *)page_addr(A_PAGE + 2), 2 * pg,
			 k == 4 ? PROT_READ : PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
		break;
	case 6:
		p = mremap((void *)page_addr(A_PAGE + 6), pg, pg, MREMAP_MAYMOVE | MREMAP_FIXED,
			   (void *)page_addr(PARK_PAGE));
		break;
	case 7:
		p = mremap((void *)page_addr(PARK_PAGE), pg, pg, MREMAP_MAYMOVE | MREMAP_FIXED,
			   (void *)page_addr(A_PAGE + 6));
		break;
	}
	return p == MAP_FAILED ? -errno : 0;
}

/* child_step(k): one step, or none if one failed already; the new state */
static int child_step(int k)
{
	int err;

	if (ctl->err)
		return k;
	err = step(k);
	if (err) {
		ctl->err = -err;
		ctl->err_step = k;
		return k;
	}
	atomic_fetch_add(&ctl->steps, 1);
	return (k + 1) % NSTATES;
}

/* child_setup(): map A and F into the region, punch the holes; 0 or -errno */
static int child_setup(void)
{
	if (mmap((void *)page_addr(A_PAGE), A_PAGES * pg, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) == MAP_FAILED ||
	    mmap((void *)page_addr(F_PAGE), F_PAGES * pg, PROT_READ | PROT_WRITE,
		 MAP_SHARED | MAP_FIXED, file_fd, 0) == MAP_FAILED ||
	    munmap((void *)page_addr(A_PAGE + A_PAGES), (F_PAGE - A_PAGE - A_PAGES) * pg) ||
	    munmap((void *)page_addr(F_PAGE + F_PAGES), (REGION_PAGES - F_PAGE - F_PAGES) * pg))
		return -errno;
	/* Pages behind the VMAs: anon_vma and page tables move with them. */
	for (int p = 0; p < A_PAGES; p++)
		region[(A_PAGE + p) * pg] = 1;
	for (int p = 0; p < F_PAGES; p++)
		region[(F_PAGE + p) * pg] = 1;
	return 0;
}

/*
 * child_main(): set the region up, then obey the parent: 's' one step,
 * 'r' steps until ctl->pause (with --no-race: wait, changing nothing),
 * 'q' exit. After each command, the state it is in goes back as one byte.
 * No stdio, no malloc: nothing but the region may change in this mm.
 */
static void __attribute__((noreturn)) child_main(void)
{
	unsigned char k = 0;
	char c;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (child_setup()) {
		ctl->err = errno;
		ctl->err_step = -1;
	}
	for (;;) {
		if (write(ack_fd, &k, 1) != 1 || read(cmd_fd, &c, 1) != 1)
			_exit(1);
		if (c == 'q')
			_exit(0);
		if (c == 's')
			k = child_step(k);
		while (c == 'r' && !atomic_load_explicit(&ctl->pause, memory_order_relaxed)) {
			if (race)
				k = child_step(k);
			else
				usleep(1000);
		}
	}
}

/* child_ack(): wait for the child to report the state it is in */
static int child_ack(void)
{
	unsigned char k;

	if (read(ack_fd, &k, 1) != 1)
		ksft_exit_fail_msg("the child is gone\n");
	return k;
}

/* child_cmd(c): send a command ('s', 'r', 'q'), without waiting */
static void child_cmd(char c)
{
	if (write(cmd_fd, &c, 1) != 1)
		ksft_exit_fail_msg("the child is gone\n");
}

/* child_pause(): stop the child's race; the state it stopped in */
static int child_pause(void)
{
	int k;

	atomic_store(&ctl->pause, 1);
	k = child_ack();
	atomic_store(&ctl->pause, 0);
	return k;
}

/* ---- reading and parsing ---- */

/*
 * read_file(path, chunk, buf): the whole file into @buf (BUF_SIZE),
 * @chunk bytes per read(); its length, or -1.
 */
static ssize_t read_file(const char *path, size_t chunk, char *buf)
{
	int fd = open(path, O_RDONLY);
	size_t len = 0;
	ssize_t n;

	if (fd < 0)
		return -1;
	for (;;) {
		size_t want = chunk < BUF_SIZE - len ? chunk : BUF_SIZE - len;

		n = want ? read(fd, buf + len, want) : -1;
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += n;
	}
	close(fd);
	return n < 0 ? -1 : (ssize_t)len;
}

/* parse_line(s, len, &l): one maps line (with its '\n'); 0, or -1 if malformed */
static int parse_line(const char *s, size_t len, struct mline *l)
{
	char tmp[512];
	int n = 0;

	if (len == 0 || len >= sizeof(tmp) || s[len - 1] != '\n')
		return -1;
	memcpy(tmp, s, len);
	tmp[len] = 0;
	memset(l, 0, sizeof(*l));
	if (sscanf(tmp, "%lx-%lx %4s %llx %x:%x %lu %n", &l->start, &l->end, l->perms, &l->off,
		   &l->maj, &l->min, &l->ino, &n) != 7 || n == 0)
		return -1;
	if (strlen(l->perms) != 4 || !strchr("r-", l->perms[0]) || !strchr("w-", l->perms[1]) ||
	    !strchr("x-", l->perms[2]) || !strchr("sp", l->perms[3]))
		return -1;
	/* " %n" ate the padding, and the '\n' too when there is no name. */
	l->name = s + n;
	l->namelen = (size_t)n < len ? len - 1 - n : 0;
	l->text = s;
	l->len = len;
	return 0;
}

/* next_line(buf, len, &pos): the length of the line at @pos, which advances */
static size_t next_line(const char *buf, size_t len, size_t *pos)
{
	const char *nl = memchr(buf + *pos, '\n', len - *pos);
	size_t n = nl ? (size_t)(nl - (buf + *pos)) + 1 : len - *pos;

	*pos += n;
	return n;
}

/* dump(what, buf, len): the text of a read that failed, a few times per run */
static void dump(const char *what, const char *buf, size_t len)
{
	size_t pos = 0;

	if (__atomic_sub_fetch(&dump_budget, 1, __ATOMIC_RELAXED) < 0)
		return;
	ktap_diag("%s:", what);
	while (pos < len) {
		const char *s = buf + pos;
		size_t n = next_line(buf, len, &pos);

		ktap_diag("  %.*s", (int)(n && s[n - 1] == '\n' ? n - 1 : n), s);
	}
}

/* ---- judging one read of the maps file ---- */

static long long total_failures(void)
{
	long long n = 0;

	for (int c = 0; c < NCHECKS; c++)
		n += failures[c];
	return n;
}

struct reading {
	int nregion, region[64];	/* the region's lines, as legal indices */
	int overlap;			/* a region line overlapped the one before */
	int cls;			/* the state class they are, or -1 (mixed) */
	long long failed;		/* failures found in this read */
};

/* same_text(l, s): @l is byte-identical to snapshot line @s */
static int same_text(const struct mline *l, const struct mline *s)
{
	return l->len == s->len && !memcmp(l->text, s->text, l->len);
}

/*
 * other_line(l, &oi, last, what): judge a line outside the region: it must
 * be snapshot line *oi (those before it are missing), *oi < @last
 */
static void other_line(const struct mline *l, int *oi, int last, const char *what)
{
	int j;

	if (*oi < last && same_text(l, &snap[*oi])) {
		(*oi)++;
		return;
	}
	for (j = *oi + 1; j < last; j++)
		if (same_text(l, &snap[j]))
			break;
	if (j == last) {
		fail(C_OTHER, "%s: a line outside the region that is not in the snapshot "
		     "(changed, or shown twice): %.*s", what, (int)l->len - 1, l->text);
		return;
	}
	for (; *oi < j; (*oi)++)
		fail(C_OTHER, "%s: missing %s%.*s", what,
		     *oi == snap_guard_lo || *oi == snap_guard_hi ? "guard VMA " : "",
		     (int)snap[*oi].len - 1, snap[*oi].text);
	(*oi)++;
}

/* classify(r): the state class the region's lines are, or -1 */
static int classify(const struct reading *r)
{
	for (int k = 0; k < NSTATES; k++) {
		int i;

		if (state_class[k] != k || model[k].n != r->nregion)
			continue;
		for (i = 0; i < r->nregion; i++) {
			struct mline l;

			mvma_to_line(&model[k].v[i], &l);
			if (!same_vma(&l, &legal[r->region[i]]))
				break;
		}
		if (i == r->nregion)
			return k;
	}
	return -1;
}

/*
 * judge(buf, len, what, focused, &r): check one read of the maps file (with
 * @focused, of the lines from the lower guard to the upper one); fills @r;
 * every failure is counted against its check.
 */
static void judge(const char *buf, size_t len, const char *what, int focused,
		  struct reading *r)
{
	long long before = total_failures();
	struct mline prev = { 0 }, l;
	int prev_region = 0, have_prev = 0;
	int oi = focused ? snap_guard_lo : 0, last = focused ? snap_guard_hi + 1 : nsnap;
	uint32_t covered = 0;
	size_t pos = 0;

	memset(r, 0, sizeof(*r));
	while (pos < len) {
		const char *s = buf + pos;
		size_t n = next_line(buf, len, &pos);
		int reg;

		if (parse_line(s, n, &l) || l.start >= l.end) {
			fail(C_FORM, "%s: malformed line: %.*s", what, (int)n, s);
			continue;
		}
		reg = in_region(l.start, l.end);
		if (have_prev && l.start < prev.end) {
			if (!reg || !prev_region || l.end <= prev.end)
				fail(C_FORM, "%s: %lx-%lx after %lx-%lx: out of order", what,
				     l.start, l.end, prev.start, prev.end);
			else
				r->overlap = 1;
		}
		if (reg) {
			int i = legal_index(&l);

			if (i < 0)
				fail(C_REGION, "%s: region line in no state: %.*s", what,
				     (int)n - 1, s);
			else if (r->nregion < 64)
				r->region[r->nregion++] = i;
			for (int p = 0; p < REGION_PAGES; p++)
				if (l.start <= page_addr(p) && l.end >= page_addr(p + 1))
					covered |= 1u << p;
		} else {
			other_line(&l, &oi, last, what);
		}
		prev = l;
		prev_region = reg;
		have_prev = 1;
	}
	for (; oi < last; oi++)
		fail(C_OTHER, "%s: missing at the end %s%.*s", what,
		     oi == snap_guard_lo || oi == snap_guard_hi ? "guard VMA " : "",
		     (int)snap[oi].len - 1, snap[oi].text);
	if (always_mapped & ~covered)
		fail(C_SKIP, "%s: pages mapped in every state not shown: mask %#x", what,
		     always_mapped & ~covered);
	r->cls = classify(r);
	r->failed = total_failures() - before;
	if (r->failed)
		dump(what, buf, len);
}

/* ---- the snapshot and the quiescent checks ---- */

/* take_snapshot(buf, len): remember the lines outside the region */
static void take_snapshot(const char *buf, size_t len)
{
	size_t pos = 0;

	snap_text = malloc(len);
	if (!snap_text)
		ksft_exit_fail_msg("malloc\n");
	memcpy(snap_text, buf, len);
	while (pos < len && nsnap < MAX_LINES) {
		const char *s = snap_text + pos;
		size_t n = next_line(snap_text, len, &pos);
		struct mline *l = &snap[nsnap];

		if (parse_line(s, n, l))
			ksft_exit_fail_msg("unparsable line in the quiescent maps: %.*s\n", (int)n, s);
		if (in_region(l->start, l->end))
			continue;
		if (l->start == page_addr(-GUARD_PAGES) && l->end == page_addr(0) &&
		    !memcmp(l->perms, "---p", 4))
			snap_guard_lo = nsnap;
		if (l->start == page_addr(REGION_PAGES) &&
		    l->end == page_addr(REGION_PAGES + GUARD_PAGES) && !memcmp(l->perms, "---p", 4))
			snap_guard_hi = nsnap;
		nsnap++;
	}
	if (snap_guard_lo < 0 || snap_guard_hi < 0) {
		dump("quiescent maps", buf, len);
		ksft_exit_fail_msg("the guard VMAs are not where they were put\n");
	}
	focus_offset = snap[snap_guard_lo].text - snap_text;
}

/* smaps_headers(buf, len): keep only the VMA header lines; the new length */
static size_t smaps_headers(char *buf, size_t len)
{
	size_t pos = 0, out = 0;
	struct mline l;

	while (pos < len) {
		char *s = buf + pos;
		size_t n = next_line(buf, len, &pos);

		if (!parse_line(s, n, &l)) {
			memmove(buf + out, s, n);
			out += n;
		}
	}
	return out;
}

/*
 * quiescent(k, full): with the child paused in state @k, the file read
 * whole must show exactly that state and the snapshot; with @full, read
 * 1 and 7 bytes at a time and smaps' headers must be the same bytes.
 */
static void quiescent(int k, int full)
{
	static const struct { size_t chunk; const char *what; } ways[] = {
		{ 1, "maps read 1 byte at a time" }, { 7, "maps read 7 bytes at a time" },
	};
	ssize_t len = read_file(maps_path, 65536, buf_a), n;
	struct reading r;
	char what[64];

	if (len < 0)
		ksft_exit_fail_msg("%s: %s\n", maps_path, strerror(errno));
	if (ctl->err)
		fail(C_MODEL, "the child's step %d failed: %s", ctl->err_step, strerror(ctl->err));
	snprintf(what, sizeof(what), "quiescent state %d", k);
	judge(buf_a, len, what, 0, &r);
	if (r.cls != state_class[k]) {
		if (r.cls < 0)
			fail(C_MODEL, "%s: the region's lines are no state of the model", what);
		else
			fail(C_MODEL, "%s: the region's lines are state %d", what, r.cls);
		dump(what, buf_a, len);
	} else if (r.failed) {
		fail(C_MODEL, "%s: the read at rest failed the checks above", what);
	}
	if (!full)
		return;
	for (size_t i = 0; i < sizeof(ways) / sizeof(ways[0]); i++) {
		n = read_file(maps_path, ways[i].chunk, buf_b);
		if (n != len || memcmp(buf_a, buf_b, len)) {
			fail(C_QUIET, "state %d: %s differs from one read", k, ways[i].what);
			dump(ways[i].what, buf_b, n < 0 ? 0 : n);
		}
	}
	n = read_file(smaps_path, 65536, buf_b);
	n = n < 0 ? -1 : (ssize_t)smaps_headers(buf_b, n);
	if (n != len || memcmp(buf_a, buf_b, len)) {
		fail(C_QUIET, "state %d: the VMA lines of smaps differ from maps", k);
		dump("smaps headers", buf_b, n < 0 ? 0 : n);
	}
}

/* ---- PROCMAP_QUERY ---- */

/* query(fd, addr, flags, &l, name): one PROCMAP_QUERY; 0 or -errno */
static int query(int fd, unsigned long addr, unsigned int flags, struct mline *l, char *name)
{
	struct procmap_query q = {
		.size = sizeof(q), .query_flags = flags, .query_addr = addr,
		.vma_name_size = 256, .vma_name_addr = (uintptr_t)name,
	};

	n_queries++;
	if (ioctl(fd, PROCMAP_QUERY, &q))
		return -errno;
	memset(l, 0, sizeof(*l));
	l->start = q.vma_start;
	l->end = q.vma_end;
	l->perms[0] = q.vma_flags & PROCMAP_QUERY_VMA_READABLE ? 'r' : '-';
	l->perms[1] = q.vma_flags & PROCMAP_QUERY_VMA_WRITABLE ? 'w' : '-';
	l->perms[2] = q.vma_flags & PROCMAP_QUERY_VMA_EXECUTABLE ? 'x' : '-';
	l->perms[3] = q.vma_flags & PROCMAP_QUERY_VMA_SHARED ? 's' : 'p';
	l->off = q.vma_offset;
	l->maj = q.dev_major;
	l->min = q.dev_minor;
	l->ino = q.inode;
	l->name = name;
	l->namelen = q.vma_name_size ? q.vma_name_size - 1 : 0;
	return 0;
}

/* always_between(a, b): some page in [a, b) of the region is mapped in every state */
static int always_between(unsigned long a, unsigned long b)
{
	for (int p = 0; p < REGION_PAGES; p++)
		if ((always_mapped & 1u << p) && page_addr(p + 1) > a && page_addr(p) < b)
			return 1;
	return 0;
}

/* query_next(fd, addr): judge the VMA covering @addr or the next one */
static void query_next(int fd, unsigned long addr)
{
	char name[256];
	struct mline l;
	int err = query(fd, addr, PROCMAP_QUERY_COVERING_OR_NEXT_VMA, &l, name);

	if (err) {
		fail(C_QUERY, "query next %lx: %s", addr, strerror(-err));
		return;
	}
	if (l.end <= addr || (l.start > addr && always_between(addr, l.start)))
		fail(C_QUERY, "query next %lx: %lx-%lx skips a page mapped in every state",
		     addr, l.start, l.end);
	else if (in_region(l.start, l.end) ? legal_index(&l) < 0 :
		 !same_vma(&l, &snap[snap_guard_hi]))
		fail(C_QUERY, "query next %lx: %lx-%lx %.4s %llx %.*s: no such VMA", addr,
		     l.start, l.end, l.perms, l.off, (int)l.namelen, l.name);
}

/* query_page(fd, p, addr): judge the VMA covering @addr, in page @p of the region */
static void query_page(int fd, int p, unsigned long addr)
{
	int guard = p < 0 ? snap_guard_lo : p >= REGION_PAGES ? snap_guard_hi : -1;
	char name[256];
	struct mline l;
	int err = query(fd, addr, 0, &l, name);

	if (err == -ENOENT && guard < 0 && !(always_mapped & 1u << p))
		return;		/* in a hole of this state */
	if (err) {
		fail(C_QUERY, "query %lx (page %d): %s", addr, p, strerror(-err));
		return;
	}
	if (l.start > addr || l.end <= addr ||
	    (guard >= 0 ? !same_vma(&l, &snap[guard]) : legal_index(&l) < 0))
		fail(C_QUERY, "query %lx (page %d): %lx-%lx %.4s %llx %.*s: no such VMA", addr, p,
		     l.start, l.end, l.perms, l.off, (int)l.namelen, l.name);
}

/* query_others(fd, end): every VMA outside the region, at its start or @end */
static void query_others(int fd, int end)
{
	for (int i = 0; i < nsnap; i++) {
		unsigned long addr = end ? snap[i].end - 1 : snap[i].start;
		char name[256];
		struct mline l;
		int err = query(fd, addr, 0, &l, name);

		/* The gate VMA ([vsyscall]) is outside the VMA tree. */
		if (err == -ENOENT && snap[i].start >= 1UL << 47)
			continue;
		if (err || !same_vma(&l, &snap[i]))
			fail(C_QUERY, "query %lx: %s, expected %.*s", addr,
			     err ? strerror(-err) : "another VMA", (int)snap[i].len - 1,
			     snap[i].text);
	}
}

/* query_round(fd, n): one round of queries; @n varies the addresses */
static void query_round(int fd, long long n)
{
	for (int p = -GUARD_PAGES; p < REGION_PAGES + GUARD_PAGES; p++) {
		unsigned long addr = page_addr(p) + ((n + p) & 1 ? pg - 1 : 0);

		query_page(fd, p, addr);
		if (p >= 0 && p < REGION_PAGES)
			query_next(fd, addr);
	}
	/* The other VMAs never change: every sixth round, start or end by turns. */
	if (n % 6 == 0)
		query_others(fd, n / 6 & 1);
}

/* ---- the race ---- */

/*
 * read_focused(chunk, buf): from the lower guard's line to the end of the
 * upper guard's, @chunk bytes per read(); the length, or -1.
 */
static ssize_t read_focused(size_t chunk, char *buf)
{
	const struct mline *hi = &snap[snap_guard_hi];
	int fd = open(maps_path, O_RDONLY);
	size_t len = 0;
	ssize_t n = -1;

	if (fd < 0 || lseek(fd, focus_offset, SEEK_SET) != focus_offset)
		goto out;
	while (len < BUF_SIZE - chunk) {
		char *end;

		n = read(fd, buf + len, chunk);
		if (n <= 0)
			break;
		len += n;
		end = memmem(buf, len, hi->text, hi->len);
		if (end) {
			len = end + hi->len - buf;
			break;
		}
	}
out:
	if (fd >= 0)
		close(fd);
	return n < 0 ? -1 : (ssize_t)len;
}

/* race_read(mode): one pass over the maps file in mode @mode, judged */
static void race_read(int mode)
{
	const struct read_mode *m = &modes[mode];
	struct mode_stats *st = &stats[mode];
	double t = now();
	ssize_t len = m->focused ? read_focused(m->chunk, buf_c) :
		read_file(maps_path, m->chunk, buf_c);
	struct reading r;
	char what[64];

	st->seconds += now() - t;
	if (len < 0)
		ksft_exit_fail_msg("%s: %s\n", maps_path, strerror(errno));
	snprintf(what, sizeof(what), "%sread(%zu) pass %lld", m->focused ? "focused " : "",
		 m->chunk, st->reads);
	judge(buf_c, len, what, m->focused, &r);
	st->reads++;
	st->overlaps += r.overlap;
	if (r.cls >= 0)
		st->classes_seen |= 1u << r.cls;
	else if (!r.failed)
		st->mixed++;
}

static int popcount(uint32_t x)
{
	return __builtin_popcount(x);
}

/* What the race showed: reads that spanned a change, states seen whole. */
static long long race_reads, race_mixed, race_steps;
static uint32_t race_seen;

/* run_race(): read and query for the duration while the child cycles; its last state */
static int run_race(void)
{
	long long locked0 = vmstat_read("vma_iter_locked");
	long long fallback0 = vmstat_read("vma_iter_fallback");
	long long steps0 = atomic_load(&ctl->steps), n = 0;
	int k;
	int qfd = open(maps_path, O_RDONLY);
	double end = now() + duration;

	if (qfd < 0)
		ksft_exit_fail_msg("%s: %s\n", maps_path, strerror(errno));
	child_cmd('r');
	/*
	 * Each round: a whole pass, the focused passes three times (where
	 * most of the reads that span a change come from), the queries.
	 */
	while (now() < end) {
		race_read(n % NWHOLE);
		for (int i = 0; i < 3; i++)
			for (size_t m = NWHOLE; m < NMODES; m++)
				race_read(m);
		query_round(qfd, n);
		n++;
	}
	k = child_pause();
	race_steps = atomic_load(&ctl->steps) - steps0;
	close(qfd);
	for (size_t m = 0; m < NMODES; m++) {
		ktap_diag("%sread(%zu): %lld passes (%.1f ms each), %lld spanned a change, "
			  "%lld had an overlap, %d distinct states seen whole",
			  modes[m].focused ? "focused " : "", modes[m].chunk, stats[m].reads,
			  stats[m].reads ? stats[m].seconds * 1000 / stats[m].reads : 0.0,
			  stats[m].mixed, stats[m].overlaps, popcount(stats[m].classes_seen));
		race_mixed += stats[m].mixed;
		race_reads += stats[m].reads;
		race_seen |= stats[m].classes_seen;
	}
	ktap_diag("child steps %lld, queries %lld", race_steps, n_queries);
	vmstat_print_delta("vma_iter_locked", locked0);
	vmstat_print_delta("vma_iter_fallback", fallback0);
	return k;
}

/* ---- setting up ---- */

/* anon_line_len(start, end): the length of the maps line of an anon VMA */
static size_t anon_line_len(unsigned long start, unsigned long end)
{
	char tmp[128];

	return snprintf(tmp, sizeof(tmp), "%08lx-%08lx ---p 00000000 00:00 0 \n", start, end);
}

/*
 * fillers_needed(res): how many filler VMAs put the region's first line
 * just before the end of the maps file's first page (where seq_file's
 * first buffer, and a page-sized read, ends), so that the region's next
 * lines come from the next refill. The lines before the reservation are
 * this process's, which the child inherits.
 */
static int fillers_needed(const char *res)
{
	ssize_t len = read_file("/proc/self/maps", 65536, buf_a);
	size_t pos = 0, at = 0, line = anon_line_len((unsigned long)res, (unsigned long)res);
	long n;

	while (len > 0 && pos < (size_t)len) {
		size_t start = pos, nl = next_line(buf_a, len, &pos);
		struct mline l;

		if (!parse_line(buf_a + start, nl, &l) && l.start <= (unsigned long)res &&
		    l.end > (unsigned long)res) {
			at = start;
			break;
		}
	}
	/* the spacer, the fillers, the lower guard and A's line */
	n = ((long)pg - 1 - (long)at - 3 * (long)line) / (long)line;
	return n < 1 ? 1 : n > MAX_FILLERS ? MAX_FILLERS : n;
}

/*
 * layout(): the reservation, from the bottom: a PROT_NONE spacer, the
 * fillers (alternately r-- and rw-: one VMA each), the lower guard, the
 * region (PROT_NONE until the child maps it), the upper guard and a r--
 * cap page, so that neither guard can merge with a neighbour.
 */
static int layout(void)
{
	size_t pages = 1 + MAX_FILLERS + 2 * GUARD_PAGES + REGION_PAGES + 1;
	char *res = mmap(NULL, pages * pg, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
			 -1, 0);
	int n;

	if (res == MAP_FAILED)
		ksft_exit_fail_msg("mmap: %s\n", strerror(errno));
	region = res + (1 + MAX_FILLERS + GUARD_PAGES) * pg;
	n = fillers_needed(res);
	for (int i = 0; i < n; i++)
		if (mprotect((void *)page_addr(-GUARD_PAGES - n + i), pg,
			     i & 1 ? PROT_READ | PROT_WRITE : PROT_READ))
			ksft_exit_fail_msg("mprotect: %s\n", strerror(errno));
	if (mprotect((void *)page_addr(REGION_PAGES + GUARD_PAGES), pg, PROT_READ))
		ksft_exit_fail_msg("mprotect: %s\n", strerror(errno));
	return n;
}

static pid_t file_owner;

static void unlink_file(void)
{
	if (getpid() == file_owner)
		unlink(file_path);
}

/* make_file(): the file behind F, 8 pages; unlinked at exit */
static void make_file(void)
{
	snprintf(file_path, sizeof(file_path), "/tmp/maps_race.%d", getpid());
	file_fd = open(file_path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (file_fd < 0 || ftruncate(file_fd, F_GROWN * pg) || fstat(file_fd, &file_st))
		ksft_exit_fail_msg("%s: %s\n", file_path, strerror(errno));
	file_owner = getpid();
	atexit(unlink_file);
}

/* start_child(): fork the child, wait until it has set the region up */
static void start_child(void)
{
	int cmd[2], ack[2];

	if (pipe(cmd) || pipe(ack))
		ksft_exit_fail_msg("pipe: %s\n", strerror(errno));
	fflush(stdout);
	child = fork();
	if (child < 0)
		ksft_exit_fail_msg("fork: %s\n", strerror(errno));
	if (child == 0) {
		cmd_fd = cmd[0];
		ack_fd = ack[1];
		close(cmd[1]);
		close(ack[0]);
		child_main();
	}
	cmd_fd = cmd[1];
	ack_fd = ack[0];
	close(cmd[0]);
	close(ack[1]);
	snprintf(maps_path, sizeof(maps_path), "/proc/%d/maps", child);
	snprintf(smaps_path, sizeof(smaps_path), "/proc/%d/smaps", child);
	if (child_ack() != 0 || ctl->err)
		ksft_exit_fail_msg("the child could not set the region up: %s\n",
				   strerror(ctl->err));
}

/* first_region_byte(buf, len): where the region's first line starts */
static size_t first_region_byte(const char *buf, size_t len)
{
	size_t pos = 0;

	while (pos < len) {
		size_t start = pos, n = next_line(buf, len, &pos);
		struct mline l;

		if (!parse_line(buf + start, n, &l) && in_region(l.start, l.end))
			return start;
	}
	return len;
}

static int usage(void)
{
	fprintf(stderr, "usage: maps_race [-d seconds] [--no-race]\n");
	return 2;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "no-race", no_argument, NULL, 'R' },
		{ NULL, 0, NULL, 0 },
	};
	int c, k, fillers;
	ssize_t len;

	while ((c = getopt_long(argc, argv, "d:", longopts, NULL)) != -1) {
		switch (c) {
		case 'd': duration = atoi(optarg); break;
		case 'R': race = 0; break;
		default: return usage();
		}
	}
	if (optind < argc || duration < 1)
		return usage();
	ksft_print_header();
	ksft_set_plan(NCHECKS);
	pg = sysconf(_SC_PAGESIZE);
	/* Mapped before layout() measures the lines below the reservation. */
	ctl = mmap(NULL, sizeof(*ctl), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (ctl == MAP_FAILED)
		ksft_exit_fail_msg("mmap: %s\n", strerror(errno));
	fillers = layout();
	make_file();
	build_model();
	start_child();

	/* The snapshot: the child as it is now, paused in state 0. */
	len = read_file(maps_path, 65536, buf_a);
	if (len < 0)
		ksft_exit_fail_msg("%s: %s\n", maps_path, strerror(errno));
	take_snapshot(buf_a, len);
	ktap_diag("child %d: region at %p, %d fillers, its first line at byte %zu of %zd; "
		  "%d legal VMAs, always-mapped pages %#x; changes during the race %s", child,
		  (void *)region, fillers, first_region_byte(buf_a, len), len, nlegal,
		  always_mapped, race ? "on" : "off");

	/* One cycle step by step, each state judged at rest. */
	k = 0;
	for (int i = 0; i < NSTATES; i++) {
		quiescent(k, i < 2);
		child_cmd('s');
		k = child_ack();
	}
	if (k != 0)
		fail(C_MODEL, "the child is in state %d after a cycle", k);

	/* At rest again after the race, in whatever state it ended. */
	quiescent(run_race(), 1);
	child_cmd('q');
	waitpid(child, NULL, 0);

	for (c = 0; c < C_RACE; c++)
		ktap_check(!failures[c], check_name[c], "%s: %lld failures", check_name[c],
			   failures[c]);
	ktap_check(race_mixed > 0, check_name[C_RACE],
		   "race not exercised: no read of %lld spanned a change of the region "
		   "(%d distinct states seen whole, child steps %lld)", race_reads,
		   popcount(race_seen), race_steps);
	ksft_finished();
}
