// SPDX-License-Identifier: GPL-2.0
/*
 * uprobe_race.c - uprobe hits against VMA changes in the same mm.
 *
 * Usage: uprobe_race [--overlay] [-t THREADS] [-n CALLS] [--no-race]
 *        uprobe_race --calls N
 *
 * Places a uprobe (tracefs uprobe_events) on probed(), a function of this
 * program. THREADS threads call it CALLS times each while another thread
 * maps, mprotects (splitting and merging) and unmaps anonymous memory in
 * the same mm, so that every hit's VMA lookup - speculative under RCU, or
 * under mmap_lock when speculation fails - runs against a writer of the
 * VMA tree. Checks, one KTAP result each (kselftest.h):
 * - "probed() computes right": the probed instruction is executed out of
 *   line or emulated on every hit, and the results are what they should be;
 * - "hit count equals calls": the hit count in uprobe_profile is exactly
 *   the number of calls (no hit lost, none counted twice);
 * - "race exercised": the writer completed operations while the hitters
 *   ran. --no-race switches the writer off, so the program must fail that
 *   check with "race not exercised" (a negative control).
 *
 * --overlay: the hits go through VMAs whose file is freed under them. It
 * mounts a tmpfs on /tmp/vmrc-ovl with an overlay (lower, upper, work ->
 * merged) holding a copy of this program, and places the uprobe on probed()
 * in merged/uprobe_race (that is, on the lower file's inode) instead of in
 * /proc/self/exe. A VMA mapping an overlay file holds a "backing file",
 * which the kernel kfree()s at the last fput() with no RCU grace period,
 * while the speculative uprobe lookup follows vma->vm_file->f_inode under
 * RCU alone. The hitters call probed() through an alias mapping of the
 * overlay file (PROT_READ|PROT_EXEC, the pages around probed(); probed() is
 * a leaf without relocations, so it runs at any address), whose fd is
 * closed at once: the VMA holds the only reference to its backing file. A
 * remapper thread keeps replacing the alias: open the file again, mmap() it
 * elsewhere, close the fd, and mremap(MREMAP_FIXED) the new mapping onto the
 * alias, which unmaps the old one and drops its backing file - freed when
 * the remapper returns to user space. Not mmap(MAP_FIXED) onto the alias:
 * uprobe_mmap() puts the breakpoint into a new mapping by faulting the
 * file's page in and then replacing it, and a hitter running on another CPU
 * in between executes probed() unprobed (24% to 70% of the hits were lost
 * that way in three runs, on the unpatched base too); mremap() moves the
 * page tables with the breakpoint's page, and the hitters never see a hole
 * either (a fault in the gap waits for mmap_lock). A spawner thread meanwhile runs
 * merged/uprobe_race --calls N (posix_spawn, i.e. clone(CLONE_VM|
 * CLONE_VFORK) + exec: no copy of the hitters' mm, whose write lock would
 * only fail their speculative lookups) over and over: processes that exec
 * the overlay executable, hit the probe and exit while hits are in flight.
 * The hit count must equal the hitters' calls plus the children's (nothing
 * else calls the overlay copy: the program's own text is another inode);
 * the race happened if replacements completed while the hitters ran.
 * --no-race switches the remapper and the spawner off. The overlay and the
 * tmpfs are unmounted at the end. Two more checks: "replacements and
 * children succeeded", "overlay unmounted". Needs CONFIG_OVERLAY_FS. Every
 * thread and child keeps the comm "uprobe_race" (for vmrc_debug
 * comm=uprobe_race).
 *
 * --calls N: call probed() N times and exit (0 if every result was right),
 * printing no KTAP of its own; what --overlay's children run.
 * Exit: 0 every check passed, 1 a check failed (or the probe could not be
 * placed), 2 usage.
 */
#define _GNU_SOURCE
#include <getopt.h>
#include <pthread.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ktap.h"
#include "probe.h"
#include "uprobe.h"

#define EVENT "vmrc_race"
#define OVL_EVENT "vmrc_ovl"
#define OVL_DIR "/tmp/vmrc-ovl"
#define OVL_EXE OVL_DIR "/merged/uprobe_race"
#define CHILD_CALLS 100

extern char **environ;

static long nthreads = 2, ncalls = 20000;
static int race = 1;
static atomic_int hitters_running, go;
static atomic_long writer_ops_during;

/* --overlay: the alias mapping and what the remapper and spawner did */
static char *alias;
static size_t alias_len;
static off_t alias_off;
static int (*alias_probed)(int);
static atomic_long remaps, remaps_during, remap_errors;
static atomic_long children, children_during, children_bad;

__attribute__((noinline)) int probed(int x)
{
	asm volatile("" ::: "memory");
	return x * 3 + 1;
}

static void *hitter(void *arg)
{
	int (*fn)(int) = alias_probed;
	long sum = 0, want = 0;

	(void)arg;
	while (!atomic_load(&go))
		;
	for (long i = 0; i < ncalls; i++) {
		sum += fn ? fn((int)(i & 1023)) : probed((int)(i & 1023));
		want += (i & 1023) * 3 + 1;
	}
	atomic_fetch_sub(&hitters_running, 1);
	return (void *)(intptr_t)(sum == want);
}

/* writer: map 4 pages, protect the middle two (split), unprotect (merge), unmap */
static void *writer(void *arg)
{
	size_t pg = sysconf(_SC_PAGESIZE);
	long ops = 0;

	(void)arg;
	while (!atomic_load(&go))
		;
	while (atomic_load(&hitters_running) > 0) {
		char *p = mmap(NULL, 4 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		if (p == MAP_FAILED)
			continue;
		p[0] = 1;
		mprotect(p + pg, 2 * pg, PROT_READ);
		mprotect(p + pg, 2 * pg, PROT_READ | PROT_WRITE);
		munmap(p, 4 * pg);
		if (atomic_load(&hitters_running) > 0)
			ops++;
	}
	atomic_store(&writer_ops_during, ops);
	return NULL;
}

/*
 * map_alias(): map the overlay file's pages around probed() and close the
 * fd, so that the VMA holds the only reference to its backing file.
 * Returns the mapping or MAP_FAILED (errno).
 */
static void *map_alias(void)
{
	int fd = open(OVL_EXE, O_RDONLY | O_CLOEXEC);
	void *p;

	if (fd < 0)
		return MAP_FAILED;
	p = mmap(NULL, alias_len, PROT_READ | PROT_EXEC, MAP_PRIVATE, fd, alias_off);
	close(fd);
	return p;
}

/*
 * replace_alias(): a new mapping of the file (uprobe_mmap() puts the
 * breakpoint in it before mmap() returns), moved onto the alias by
 * mremap(MREMAP_FIXED), which unmaps the old alias and drops its backing
 * file in the same mmap_lock section. 0 ok, -1 (errno).
 */
static int replace_alias(void)
{
	void *p = map_alias();

	if (p == MAP_FAILED)
		return -1;
	if (mremap(p, alias_len, alias_len, MREMAP_MAYMOVE | MREMAP_FIXED, alias) == MAP_FAILED) {
		munmap(p, alias_len);
		return -1;
	}
	return 0;
}

static void *remapper(void *arg)
{
	static int budget = 3;

	(void)arg;
	while (!atomic_load(&go))
		;
	while (atomic_load(&hitters_running) > 0) {
		if (replace_alias()) {
			atomic_fetch_add(&remap_errors, 1);
			ktap_diag_limited(&budget, "FAIL: replacing the alias mapping: %s", strerror(errno));
			continue;
		}
		atomic_fetch_add(&remaps, 1);
		if (atomic_load(&hitters_running) > 0)
			atomic_fetch_add(&remaps_during, 1);
	}
	return NULL;
}

static void *spawner(void *arg)
{
	static int budget = 3;
	char n[16], *argv[] = { OVL_EXE, "--calls", n, NULL };
	int st, err;
	pid_t pid;

	(void)arg;
	snprintf(n, sizeof(n), "%d", CHILD_CALLS);
	while (!atomic_load(&go))
		;
	while (atomic_load(&hitters_running) > 0) {
		err = posix_spawn(&pid, OVL_EXE, NULL, NULL, argv, environ);
		if (err || waitpid(pid, &st, 0) != pid) {
			atomic_fetch_add(&children_bad, 1);
			ktap_diag_limited(&budget, "FAIL: running %s: %s", OVL_EXE, strerror(err ? err : errno));
			break;
		}
		if (!WIFEXITED(st) || WEXITSTATUS(st)) {
			atomic_fetch_add(&children_bad, 1);
			ktap_diag_limited(&budget, "FAIL: %s --calls %s: status 0x%x", OVL_EXE, n, st);
			continue;
		}
		atomic_fetch_add(&children, 1);
		if (atomic_load(&hitters_running) > 0)
			atomic_fetch_add(&children_during, 1);
	}
	return NULL;
}

/* copy(from, to, mode): 0 or -1 with a message */
static int copy(const char *from, const char *to, mode_t mode)
{
	int in = open(from, O_RDONLY), out = open(to, O_WRONLY | O_CREAT | O_TRUNC, mode);
	char buf[65536];
	ssize_t n = -1;

	while (in >= 0 && out >= 0 && (n = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, n) != n) {
			n = -1;
			break;
		}
	if (out >= 0 && close(out))
		n = -1;
	if (n)
		ktap_diag("FAIL: copying %s to %s: %s", from, to, strerror(errno));
	if (in >= 0)
		close(in);
	return n ? -1 : 0;
}

/* ovl_umount(): unmount the overlay and the tmpfs; 0 or -1 with a message */
static int ovl_umount(void)
{
	int ret = 0;

	if (umount(OVL_DIR "/merged") && errno != EINVAL) {
		ktap_diag("FAIL: umount " OVL_DIR "/merged: %s", strerror(errno));
		ret = -1;
	}
	if (umount(OVL_DIR)) {
		ktap_diag("FAIL: umount " OVL_DIR ": %s", strerror(errno));
		ret = -1;
	}
	return ret;
}

/* ovl_mount(): tmpfs on OVL_DIR, this program in lower/, the overlay on merged/ */
static int ovl_mount(void)
{
	static const char *const dirs[] = { "lower", "upper", "work", "merged" };
	char path[128];

	mkdir(OVL_DIR, 0755);
	if (mount("tmpfs", OVL_DIR, "tmpfs", 0, "size=32m")) {
		ktap_diag("FAIL: mount tmpfs on " OVL_DIR ": %s", strerror(errno));
		return -1;
	}
	for (int i = 0; i < 4; i++) {
		snprintf(path, sizeof(path), OVL_DIR "/%s", dirs[i]);
		if (mkdir(path, 0755)) {
			ktap_diag("FAIL: mkdir %s: %s", path, strerror(errno));
			goto fail;
		}
	}
	if (copy("/proc/self/exe", OVL_DIR "/lower/uprobe_race", 0755))
		goto fail;
	if (mount("overlay", OVL_DIR "/merged", "overlay", 0,
		  "lowerdir=" OVL_DIR "/lower,upperdir=" OVL_DIR "/upper,workdir=" OVL_DIR "/work")) {
		ktap_diag("FAIL: mount overlay on " OVL_DIR "/merged: %s%s", strerror(errno),
			  errno == ENODEV ? " (kernel without CONFIG_OVERLAY_FS)" : "");
		goto fail;
	}
	return 0;
fail:
	umount(OVL_DIR);
	return -1;
}

/*
 * overlay(): the --overlay mode. Sets up the overlay, the alias mapping
 * and the probe; returns 0 with the probe in place, else -1 (cleaned up).
 */
static int overlay(void)
{
	size_t pg = sysconf(_SC_PAGESIZE);
	char path[256];
	long off;

	if (ovl_mount())
		return -1;
	off = file_offset((void *)probed, path, sizeof(path));
	if (off < 0) {
		ktap_diag("FAIL: probed() is in no file mapping of /proc/self/maps");
		goto fail;
	}
	alias_off = off & ~(off_t)(pg - 1);
	alias_len = 2 * pg;	/* probed() may cross into the next page */
	alias = map_alias();
	if (alias == MAP_FAILED) {
		ktap_diag("FAIL: mapping " OVL_EXE ": %s", strerror(errno));
		goto fail;
	}
	alias_probed = (int (*)(int))(alias + (off - alias_off));
	if (memcmp((void *)alias_probed, (void *)probed, 16)) {
		ktap_diag("FAIL: the alias of probed() at %p does not hold its code", (void *)alias_probed);
		goto fail_unmap;
	}
	/* uprobe.h finds the alias in /proc/self/maps as OVL_EXE: the probe goes there */
	if (uprobe_add(OVL_EVENT, (void *)alias_probed))
		goto fail_unmap;
	ktap_diag("overlay: probed() at file offset 0x%lx of %s, alias at %p", off, OVL_EXE,
		  (void *)alias_probed);
	return 0;
fail_unmap:
	munmap(alias, alias_len);
fail:
	ovl_umount();
	return -1;
}

static int calls_only(long n)
{
	long sum = 0, want = 0;

	for (long i = 0; i < n; i++) {
		sum += probed((int)(i & 1023));
		want += (i & 1023) * 3 + 1;
	}
	if (sum != want)
		ktap_diag("FAIL: probed() returned wrong values in pid %d", (int)getpid());
	return sum == want ? 0 : 1;
}

/* cleanup(event, ovl): remove the probe (and the alias and overlay); 0 or -1 */
static int cleanup(const char *event, int ovl)
{
	uprobe_del(event);
	if (!ovl)
		return 0;
	munmap(alias, alias_len);
	return ovl_umount();
}

static int usage(void)
{
	fprintf(stderr, "usage: uprobe_race [--overlay] [-t THREADS (1..16)] [-n CALLS] [--no-race]\n"
		"       uprobe_race --calls N\n");
	return 2;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "no-race", no_argument, NULL, 'R' },
		{ "overlay", no_argument, NULL, 'O' },
		{ "calls", required_argument, NULL, 'C' },
		{ NULL, 0, NULL, 0 },
	};
	pthread_t tid[16], wtid, stid;
	const char *event = EVENT;
	long long hits, want;
	int c, ovl = 0, bad = 0, unmounted;
	long during;
	double t0, t1;

	while ((c = getopt_long(argc, argv, "t:n:", longopts, NULL)) != -1) {
		switch (c) {
		case 't': nthreads = atol(optarg); break;
		case 'n': ncalls = atol(optarg); break;
		case 'R': race = 0; break;
		case 'O': ovl = 1; break;
		case 'C': return calls_only(atol(optarg));
		default: return usage();
		}
	}
	if (optind < argc || nthreads < 1 || nthreads > 16 || ncalls < 1)
		return usage();
	ksft_print_header();
	ksft_set_plan(ovl ? 5 : 3);
	if (ovl) {
		event = OVL_EVENT;
		if (overlay())
			ksft_exit_fail_msg("cannot set up the overlay and its uprobe\n");
	} else if (uprobe_add(EVENT, (void *)probed)) {
		ksft_exit_fail_msg("cannot place the uprobe\n");
	}
	hits = uprobe_hits(event);
	if (hits != 0) {
		cleanup(event, ovl);
		ksft_exit_fail_msg("new uprobe %s has hit count %lld, not 0\n", event, hits);
	}
	atomic_store(&hitters_running, nthreads);
	for (long i = 0; i < nthreads; i++)
		pthread_create(&tid[i], NULL, hitter, NULL);
	if (race)
		pthread_create(&wtid, NULL, ovl ? remapper : writer, NULL);
	if (race && ovl)
		pthread_create(&stid, NULL, spawner, NULL);
	t0 = now();
	atomic_store(&go, 1);
	for (long i = 0; i < nthreads; i++) {
		void *good;

		pthread_join(tid[i], &good);
		if (!good) {
			ktap_diag("probed() returned wrong values in thread %ld", i);
			bad++;
		}
	}
	t1 = now();
	if (race)
		pthread_join(wtid, NULL);
	if (race && ovl)
		pthread_join(stid, NULL);
	hits = uprobe_hits(event);
	unmounted = !cleanup(event, ovl);
	want = (long long)nthreads * ncalls;
	if (ovl) {
		during = atomic_load(&remaps_during);
		want += atomic_load(&children) * CHILD_CALLS;
		ktap_diag("uprobe hits %lld, calls %lld (%ld threads x %ld through the alias mapping, %ld children x %d)",
			  hits, want, nthreads, ncalls, atomic_load(&children), CHILD_CALLS);
		ktap_diag("alias replacements %ld (%ld during the %.1f s of hits), children exec'd %ld (%ld during the hits)",
			  atomic_load(&remaps), during, t1 - t0, atomic_load(&children),
			  atomic_load(&children_during));
	} else {
		during = atomic_load(&writer_ops_during);
		ktap_diag("uprobe hits %lld, calls %lld; writer operations during the hits: %ld",
			  hits, want, during);
	}
	ktap_check(!bad, "probed() computes right", "%d of %ld hitter threads got wrong results",
		   bad, nthreads);
	ktap_check(hits == want, "hit count equals calls",
		   "uprobe_profile counts %lld hits for %lld calls", hits, want);
	ktap_check(during >= 10, "race exercised", "race not exercised (%ld %s while probes were hit)",
		   during, ovl ? "alias replacements" : "writer operations");
	if (ovl) {
		ktap_check(!atomic_load(&remap_errors) && !atomic_load(&children_bad),
			   "replacements and children succeeded",
			   "%ld failed replacements, %ld failed children",
			   atomic_load(&remap_errors), atomic_load(&children_bad));
		ktap_check(unmounted, "overlay unmounted", "the overlay or its tmpfs stayed mounted");
	}
	ksft_finished();
}
