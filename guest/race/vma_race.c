// SPDX-License-Identifier: GPL-2.0
/*
 * vma_race.c - page faults racing one kind of VMA change, one mode each.
 *
 * Faulter threads own pages of a region; on each visit to a page a faulter
 * reads the value it left there last time, writes a new unique tag and
 * reads it back. A mutator thread changes the region's VMAs in the way the
 * mode names. What those reads may legally return depends on the mode:
 *
 *   mprotect  toggle write permission on sub-ranges (split, merge, and a
 *             writer that must wait for the readers of the VMA); a write
 *             to a read-only window faults (SIGSEGV); data is kept: only
 *             the tag is legal.
 *   madvise   MADV_DONTNEED on sub-ranges: the tag or 0.
 *   mremap    move a sub-range away and back (MREMAP_FIXED): data moves
 *             with it; the tag or SIGSEGV (the hole while it is away).
 *   resize    shrink the region with mremap and grow it back: the tail
 *             comes back zeroed; the tag, 0 or SIGSEGV.
 *   fork      fork children; each checks a canary area the parent filled
 *             just before the fork (copy-on-write snapshot) and scribbles
 *             on it; the parent checks the child's writes never show.
 *             Faulters: only the tag.
 *   threads   short-lived threads that fault and exit (their stacks are
 *             VMAs that come and go). Faulters: only the tag.
 *   maps      /proc/self/maps and smaps read in a loop while the mutator
 *             toggles mprotect; every range must be sane and end past the
 *             previous one.
 *
 * Anything else read back is corruption: the test fails. Self-check: the
 * mutator changed the region and the mode's race evidence is there (faults
 * that met a changed VMA, snapshots checked, maps read during changes),
 * else "race not exercised"; and faults were served under the per-VMA lock
 * (vma_lock_success grew). --no-race runs without the mutator: it must
 * fail the "race exercised" check.
 *
 * Output: KTAP (kselftest.h), one result per check: "data intact", "race
 * exercised", "faults under the per-VMA lock".
 *
 * Usage: vma_race MODE [-t faulters] [-d seconds] [--seed N] [--no-race]
 * The seed of the threads' random choices is printed at the start.
 * Exit: 0 every check passed, 1 a check failed, 2 usage.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ktap.h"
#include "probe.h"

/* At most this many corruption reports are printed (all are counted). */
static int report_budget = 10;

#define MAX_FAULTERS	16
#define NPAGES		64
#define CANARY_PAGES	8

enum legal { L_TAG = 1, L_ZERO = 2, L_SEGV = 4 };

static const char *mode;
static int nfaulters = 2, duration = 3, race = 1, legal;
static uint64_t seed;
static size_t pg;
static char *region, *parking, *canary;
static atomic_int stop;
static atomic_llong n_writes, n_zero, n_segv, n_corrupt, n_mut, n_evidence;


/*
 * probe(p, tag, &old, &got): load the old value, store @tag, load it back.
 * Returns 1 if SIGSEGV interrupted it (then nothing is known of *p).
 */
static int __attribute__((noinline)) probe(volatile uint64_t *p, uint64_t tag, uint64_t *old,
					   uint64_t *got)
{
	return PROBE(*old = *p, *p = tag, *got = *p);
}

static void corrupt(const char *what, size_t page, uint64_t tag, uint64_t got)
{
	atomic_fetch_add(&n_corrupt, 1);
	ktap_diag_limited(&report_budget, "CORRUPT (%s) page %zu: wrote %#llx read %#llx", what, page,
		  (unsigned long long)tag, (unsigned long long)got);
}

#define UNKNOWN	UINT64_MAX

static void *faulter(void *arg)
{
	long id = (long)arg;
	uint64_t rnd = seed_stream(seed, id), seq = 0, old, got;
	uint64_t last[NPAGES];

	/* Pages start zero-filled: that is what a first visit must find. */
	for (int i = 0; i < NPAGES; i++)
		last[i] = 0;
	while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
		size_t page = xorshift(&rnd) % (NPAGES / nfaulters) * nfaulters + id;
		volatile uint64_t *p = (volatile uint64_t *)(region + page * pg);
		uint64_t tag = ((uint64_t)(id + 1) << 48) | ++seq;

		if (probe(p, tag, &old, &got)) {
			atomic_fetch_add(&n_segv, 1);
			if (!(legal & L_SEGV))
				corrupt("unexpected fault", page, tag, 0);
			last[page] = UNKNOWN;
			continue;
		}
		atomic_fetch_add(&n_writes, 1);
		/* What we left here last time must still be here... */
		if (last[page] != UNKNOWN && old != last[page]) {
			if (old == 0 && (legal & L_ZERO))
				atomic_fetch_add(&n_zero, 1);	/* ...unless zapped */
			else
				corrupt("data changed behind our back", page, last[page], old);
		}
		last[page] = tag;
		if (got == tag)
			continue;
		if (got == 0 && (legal & L_ZERO)) {
			atomic_fetch_add(&n_zero, 1);
			last[page] = 0;
			continue;
		}
		corrupt(mode, page, tag, got);
		last[page] = UNKNOWN;
	}
	return NULL;
}

/* sub(&rnd, &off, &len): a random page-aligned sub-range of the region */
static void sub(uint64_t *rnd, size_t *off, size_t *len)
{
	size_t a = xorshift(rnd) % NPAGES, b = xorshift(rnd) % NPAGES;

	if (a > b) {
		size_t t = a;

		a = b;
		b = t;
	}
	*off = a * pg;
	*len = (b - a + 1) * pg;
}

static void mut_mprotect(uint64_t *rnd)
{
	size_t off, len;

	sub(rnd, &off, &len);
	mprotect(region + off, len, PROT_READ);
	mprotect(region + off, len, PROT_READ | PROT_WRITE);
}

static void mut_madvise(uint64_t *rnd)
{
	size_t off, len;

	sub(rnd, &off, &len);
	madvise(region + off, len, MADV_DONTNEED);
}

static void mut_mremap(uint64_t *rnd)
{
	size_t off, len;
	void *p;

	sub(rnd, &off, &len);
	p = mremap(region + off, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, parking);
	if (p == MAP_FAILED)
		return;
	if (mremap(parking, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, region + off) == MAP_FAILED) {
		ktap_diag("FAIL: cannot move the range back: %s", strerror(errno));
		atomic_fetch_add(&n_corrupt, 1);
		atomic_store(&stop, 1);
	}
}

static void mut_resize(uint64_t *rnd)
{
	size_t keep = (1 + xorshift(rnd) % (NPAGES - 1)) * pg;

	if (mremap(region, NPAGES * pg, keep, 0) == MAP_FAILED)
		return;
	/* Grow back in place; the pages past @keep come back as zero pages. */
	if (mremap(region, keep, NPAGES * pg, 0) == MAP_FAILED) {
		/* Something took the hole: map it ourselves, or give up. */
		if (mmap(region + keep, NPAGES * pg - keep, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0) == MAP_FAILED) {
			ktap_diag("FAIL: cannot grow the region back: %s", strerror(errno));
			atomic_fetch_add(&n_corrupt, 1);
			atomic_store(&stop, 1);
		}
	}
}

/* One fork: the child must see the canary as it was at fork time. */
static void mut_fork(uint64_t *rnd)
{
	uint64_t gen = xorshift(rnd) | 1;
	int status;
	pid_t pid;

	for (size_t i = 0; i < CANARY_PAGES * pg / 8; i++)
		((uint64_t *)canary)[i] = gen;
	pid = fork();
	if (pid < 0)
		return;
	if (pid == 0) {
		for (size_t i = 0; i < CANARY_PAGES * pg / 8; i++) {
			if (((uint64_t *)canary)[i] != gen)
				_exit(1);
			((uint64_t *)canary)[i] = ~gen;
		}
		_exit(0);
	}
	waitpid(pid, &status, 0);
	if (!WIFEXITED(status) || WEXITSTATUS(status)) {
		ktap_diag_limited(&report_budget, "CORRUPT: the child saw a canary that is not its fork-time copy");
		atomic_fetch_add(&n_corrupt, 1);
	}
	for (size_t i = 0; i < CANARY_PAGES * pg / 8; i++) {
		if (((uint64_t *)canary)[i] != gen) {
			ktap_diag_limited(&report_budget, "CORRUPT: the child's copy-on-write leaked into the parent");
			atomic_fetch_add(&n_corrupt, 1);
			break;
		}
	}
	atomic_fetch_add(&n_evidence, 1);
}

static void *short_thread(void *arg)
{
	volatile char buf[3 * 4096];

	(void)arg;
	for (size_t i = 0; i < sizeof(buf); i += 4096)
		buf[i] = 1;
	return NULL;
}

static void mut_threads(uint64_t *rnd)
{
	pthread_t t;
	pthread_attr_t a;

	pthread_attr_init(&a);
	/* A fresh stack mapping each time (no cached stacks of that size). */
	pthread_attr_setstacksize(&a, (64 + xorshift(rnd) % 64) * 4096);
	if (!pthread_create(&t, &a, short_thread, NULL)) {
		pthread_join(t, NULL);
		atomic_fetch_add(&n_evidence, 1);
	}
	pthread_attr_destroy(&a);
}

/*
 * Read /proc/self/{maps,smaps}; every range must be sane and end past the
 * previous one. (A range may start before the previous end: when the VMAs
 * change between two read() calls, the walk resumes at the last end and a
 * VMA that merged across it is shown again. That is allowed.)
 */
static void *maps_reader(void *arg)
{
	static const char *const files[] = { "/proc/self/maps", "/proc/self/smaps" };
	char line[512];

	(void)arg;
	for (int n = 0; !atomic_load(&stop); n++) {
		FILE *f = fopen(files[n & 1], "r");
		unsigned long start, end, last = 0;

		if (!f) {
			ktap_diag("FAIL: cannot read %s (CONFIG_PROC_PAGE_MONITOR?)", files[n & 1]);
			atomic_fetch_add(&n_corrupt, 1);
			atomic_store(&stop, 1);
			break;
		}
		while (fgets(line, sizeof(line), f)) {
			if (sscanf(line, "%lx-%lx ", &start, &end) != 2)
				continue;	/* smaps field lines */
			if (start >= end || end <= last) {
				ktap_diag_limited(&report_budget, "CORRUPT: %s: bad range %lx-%lx after %lx", files[n & 1],
					  start, end, last);
				atomic_fetch_add(&n_corrupt, 1);
			}
			last = end;
		}
		fclose(f);
		atomic_fetch_add(&n_evidence, 1);
	}
	return NULL;
}

static void *mutator(void *arg)
{
	uint64_t rnd = seed_stream(seed, MAX_FAULTERS);
	void (*fn)(uint64_t *) = arg;

	while (!atomic_load(&stop)) {
		fn(&rnd);
		atomic_fetch_add(&n_mut, 1);
	}
	return NULL;
}

static int usage(void)
{
	fprintf(stderr, "usage: vma_race mprotect|madvise|mremap|resize|fork|threads|maps\n"
		"                [-t faulters (divides %d)] [-d seconds] [--seed N] [--no-race]\n",
		NPAGES);
	return 2;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "no-race", no_argument, NULL, 'R' },
		{ "seed", required_argument, NULL, 'S' },
		{ NULL, 0, NULL, 0 },
	};
	long long lock0, lock1;
	void (*fn)(uint64_t *) = NULL;
	pthread_t th[MAX_FAULTERS], mt, rt;
	long long evidence;
	const char *why;
	int c, maps = 0;
	double end;

	seed = seed_default();
	while ((c = getopt_long(argc, argv, "t:d:", longopts, NULL)) != -1) {
		switch (c) {
		case 't': nfaulters = atoi(optarg); break;
		case 'd': duration = atoi(optarg); break;
		case 'R': race = 0; break;
		case 'S':
			if (parse_seed(optarg, &seed))
				return usage();
			break;
		default: return usage();
		}
	}
	if (optind == argc - 1)
		mode = argv[optind];
	if (mode && !strcmp(mode, "mprotect"))
		fn = mut_mprotect, legal = L_TAG | L_SEGV;
	else if (mode && !strcmp(mode, "madvise"))
		fn = mut_madvise, legal = L_TAG | L_ZERO;
	else if (mode && !strcmp(mode, "mremap"))
		fn = mut_mremap, legal = L_TAG | L_SEGV;
	else if (mode && !strcmp(mode, "resize"))
		fn = mut_resize, legal = L_TAG | L_ZERO | L_SEGV;
	else if (mode && !strcmp(mode, "fork"))
		fn = mut_fork, legal = L_TAG;
	else if (mode && !strcmp(mode, "threads"))
		fn = mut_threads, legal = L_TAG;
	else if (mode && !strcmp(mode, "maps"))
		fn = mut_mprotect, legal = L_TAG | L_SEGV, maps = 1;
	if (!fn || nfaulters < 1 || nfaulters > MAX_FAULTERS || NPAGES % nfaulters ||
	    duration < 1)
		return usage();
	ksft_print_header();
	ksft_set_plan(3);
	ktap_diag("seed %llu", (unsigned long long)seed);
	pg = sysconf(_SC_PAGESIZE);
	region = mmap(NULL, NPAGES * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	parking = mmap(NULL, NPAGES * pg, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	canary = mmap(NULL, CANARY_PAGES * pg, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (region == MAP_FAILED || parking == MAP_FAILED || canary == MAP_FAILED)
		ksft_exit_fail_msg("mmap: %s\n", strerror(errno));
	probe_install();

	ktap_diag("mode %s, faulters %d, %d s, mutator %s", mode, nfaulters, duration,
		  race ? "on" : "off");
	lock0 = vmstat_read("vma_lock_success");
	for (long i = 0; i < nfaulters; i++)
		pthread_create(&th[i], NULL, faulter, (void *)i);
	if (race)
		pthread_create(&mt, NULL, mutator, fn);
	if (maps)
		pthread_create(&rt, NULL, maps_reader, NULL);
	end = now() + duration;
	while (now() < end && !atomic_load(&stop))
		usleep(50000);
	atomic_store(&stop, 1);
	for (int i = 0; i < nfaulters; i++)
		pthread_join(th[i], NULL);
	if (race)
		pthread_join(mt, NULL);
	if (maps)
		pthread_join(rt, NULL);
	lock1 = vmstat_read("vma_lock_success");

	/* What shows that faults met changed VMAs, per mode. */
	if (!strcmp(mode, "mprotect") || !strcmp(mode, "mremap")) {
		evidence = n_segv;
		why = "faults that hit a changed range";
	} else if (!strcmp(mode, "madvise")) {
		evidence = n_zero;
		why = "read-backs zeroed by MADV_DONTNEED";
	} else if (!strcmp(mode, "resize")) {
		evidence = n_zero + n_segv;
		why = "faults/read-backs that met the shrunk range";
	} else if (!strcmp(mode, "maps")) {
		evidence = race ? n_evidence : 0;
		why = "maps/smaps reads during mprotect churn";
	} else {
		evidence = n_evidence;
		why = !strcmp(mode, "fork") ? "fork snapshots checked" : "threads created and exited";
	}
	ktap_diag("writes %lld, zero %lld, SIGSEGV %lld, corrupt %lld, mutations %lld",
		  n_writes, n_zero, n_segv, n_corrupt, n_mut);
	ktap_diag("%s: %lld; vma_lock_success +%lld", why, evidence, lock1 - lock0);
	ktap_check(!n_corrupt, "data intact", "%lld corrupted results", n_corrupt);
	ktap_check(n_mut && evidence, "race exercised", "race not exercised (%s: %lld, mutations %lld)",
		   why, evidence, n_mut);
	ktap_check(lock0 >= 0 && lock1 - lock0 > 0, "faults under the per-VMA lock",
		   "no fault was served under the per-VMA lock");
	ksft_finished();
}
