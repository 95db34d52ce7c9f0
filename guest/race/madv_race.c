// SPDX-License-Identifier: GPL-2.0
/*
 * madv_race.c - MADV_DONTNEED or MADV_FREE zapping pages that other
 * threads are faulting in and writing, while a third thread changes VMAs
 * of the same mm.
 *
 * Writer threads own the pages of a private anonymous region (page p
 * belongs to writer p % writers; nothing else writes it). A writer visits
 * one of its pages at a time: it checks the page still holds what it left
 * there, writes the whole page with a new value (page number and
 * generation: unique), word by word in order, and reads it back, word by
 * word in order. A zapper thread meanwhile calls madvise() on ranges of
 * the region: MADV_DONTNEED (mode dontneed), or MADV_FREE with an
 * occasional MADV_PAGEOUT of the region, which discards the pages
 * MADV_FREE left clean (mode free; without it a lazily freed page keeps its
 * data until memory runs short, which never happens here). A VMA writer
 * thread maps, touches, mprotects and unmaps pages elsewhere in the mm
 * (a scratch area fenced off from the region), so that writers of other
 * VMAs hold mmap_lock throughout. The writer threads, which never sleep,
 * run at nice 5, so that a thread woken with mmap_lock gets a CPU soon.
 *
 * What a page may read back is exact, because a zap replaces the whole
 * page at one instant and only its owner writes it: a zap in the middle of
 * the write loses the words written before it (the rest go to a fresh zero
 * page), one in the middle of the read-back makes the rest read zero. So
 * the read-back is a run of the value between zeros, "0..0 v..v 0..0", and
 * a later check of the page must find exactly that content, or zeros from
 * some word on. Anything else (another value, a word of an older
 * generation, a second run) is corruption.
 *
 * --span makes the region two VMAs (its upper half also executable) and
 * every zap range crosses the boundary: a series that zaps under the VMA
 * lock must fall back to mmap_lock then. Without it each range lies in the
 * one VMA. --split has the VMA writer also mprotect ranges of the region
 * (RWX and back: data kept) so that the VMA being zapped is split and
 * merged under the zapper.
 *
 * Checks, one KTAP result each: "data intact"; "calls succeeded" (every
 * madvise() and VMA change did); "race exercised": some page a writer had
 * written was seen zeroed (after the write, or at the next visit) while
 * the VMA writer worked. --no-race turns the zapper off: the check must
 * fail, "race not exercised". The deltas of /proc/vmstat's
 * madvise_vma_locked and madvise_vma_fallback (the series' counters, when
 * the kernel has them) and vma_lock_success are printed, not judged; so
 * is the slowest call of each kind.
 *
 * Usage: madv_race dontneed|free [-t writers] [-p pages] [-d seconds]
 *                  [--span] [--split] [--seed N] [--no-race]
 * The seed of the threads' random choices is printed at the start.
 * Exit: 0 every check passed, 1 a check failed, 2 usage.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include "ktap.h"
#include "probe.h"

#ifndef MADV_PAGEOUT
#define MADV_PAGEOUT 21
#endif

#define MAX_WRITERS	16
#define MAX_ZAP_PAGES	8
#define SCRATCH_SLOTS	4
#define SLOT_PAGES	4
/* mode free: one MADV_PAGEOUT of the whole region per this many MADV_FREEs */
#define PAGEOUT_EVERY	4
#define WRITER_NICE	5

static int nwriters = 2, npages = 64, duration = 3, race = 1, span, split, advice;
static const char *mode;
static uint64_t seed;
static size_t pg, words;
static char *region, *scratch;
static atomic_int stop;
static int report_budget = 10;

static atomic_llong n_visits, n_zero_after_write, n_zero_since_visit, n_torn, n_corrupt;
static atomic_llong n_zaps, n_zap_err, n_pageouts, n_vma_ops, n_vma_err;

/* The slowest of each kind of call, in microseconds: a stall shows here. */
enum { T_VISIT, T_ZAP, T_PAGEOUT, T_VMA, NTIMES };
static atomic_llong max_us[NTIMES];

/* took(kind, since): note how long a call that started at @since took */
static void took(int kind, double since)
{
	long long us = (now() - since) * 1e6, old = atomic_load(&max_us[kind]);

	while (us > old && !atomic_compare_exchange_weak(&max_us[kind], &old, us))
		;
}

/* The content a writer left in a page: words [zero_prefix, words) hold v. */
struct expect {
	uint64_t v;
	size_t zero_prefix;	/* words: all zero */
};

/*
 * scan(w, v, &a, &b, &got): read the page once, word by word; 0 if it
 * reads 0..0 v..v 0..0 with the run of v in [a, b) (a == b == words: all
 * zero), else the index + 1 of the first word that does not fit, whose
 * value goes to @got.
 */
static size_t scan(const volatile uint64_t *w, uint64_t v, size_t *a, size_t *b, uint64_t *got)
{
	int phase = 0;	/* 0 leading zeros, 1 the run of v, 2 trailing zeros */

	*a = *b = words;
	for (size_t i = 0; i < words; i++) {
		uint64_t x = w[i];

		*got = x;
		switch (phase) {
		case 0:
			if (x == 0)
				break;
			if (x != v)
				return i + 1;
			*a = i;
			phase = 1;
			break;
		case 1:
			if (x == v)
				break;
			if (x != 0)
				return i + 1;
			*b = i;
			phase = 2;
			break;
		default:
			if (x != 0)
				return i + 1;
		}
	}
	return 0;
}

/* corrupt(page, bad, got, "expected ...", ...): report word @bad - 1 of @page */
static void __attribute__((format(printf, 4, 5)))
corrupt(int page, size_t bad, uint64_t got, const char *fmt, ...)
{
	char expected[128];
	va_list ap;

	atomic_fetch_add(&n_corrupt, 1);
	va_start(ap, fmt);
	vsnprintf(expected, sizeof(expected), fmt, ap);
	va_end(ap);
	ktap_diag_limited(&report_budget, "CORRUPT page %d: %s; word %zu reads %#llx", page,
			  expected, bad - 1, (unsigned long long)got);
}

/*
 * check_visit(page, e): on a new visit the page must hold @e, or zeros
 * from some word on (zapped since: between the last read-back and now, or
 * during this read).
 */
static void check_visit(int page, const struct expect *e)
{
	const volatile uint64_t *w = (const volatile uint64_t *)(region + (size_t)page * pg);
	uint64_t got;
	size_t a, b, bad = scan(w, e->v, &a, &b, &got);

	/* A run of the value must start where it did: only zeros came since. */
	if (!bad && a != b && a != e->zero_prefix) {
		bad = (a < e->zero_prefix ? a : e->zero_prefix) + 1;
		got = a < e->zero_prefix ? e->v : 0;
	}
	if (bad && e->zero_prefix == words) {
		corrupt(page, bad, got, "at the next visit expected zeros");
		return;
	}
	if (bad) {
		corrupt(page, bad, got, "at the next visit expected %#llx from word %zu on, zeros "
			"before (or zeros from some word on)", (unsigned long long)e->v,
			e->zero_prefix);
		return;
	}
	if (e->zero_prefix < words && (a == words || b < words))
		atomic_fetch_add(&n_zero_since_visit, 1);
}

/*
 * write_page(page, v, e): write @v to every word in order, read it back;
 * the read-back must be one run of @v between zeros. Sets @e to the
 * content the page has now.
 */
static void write_page(int page, uint64_t v, struct expect *e)
{
	volatile uint64_t *w = (volatile uint64_t *)(region + (size_t)page * pg);
	uint64_t got;
	size_t a, b, bad;

	for (size_t i = 0; i < words; i++)
		w[i] = v;
	bad = scan(w, v, &a, &b, &got);
	e->v = v;
	e->zero_prefix = words;
	if (bad) {
		corrupt(page, bad, got, "read back after writing %#llx: not one run of it between "
			"zeros", (unsigned long long)v);
		return;
	}
	if (a == b || b < words) {
		atomic_fetch_add(&n_zero_after_write, 1);	/* zapped since the write */
	} else {
		e->zero_prefix = a;				/* intact, or zapped early in it */
		if (a)
			atomic_fetch_add(&n_zero_after_write, 1);
	}
	if (a && a < words)
		atomic_fetch_add(&n_torn, 1);	/* part of the write before the zap was lost */
}

static void *writer(void *arg)
{
	long id = (long)arg;
	uint64_t rnd = seed_stream(seed, id), gen = 0;
	int mine = (npages - id + nwriters - 1) / nwriters;
	struct expect *e = calloc(mine, sizeof(*e));

	if (!e)
		return NULL;
	/*
	 * The writers never sleep; the zapper and the VMA writer wait for
	 * mmap_lock and each other. At a lower priority the writers do not
	 * keep a woken lock holder off the CPU for a whole time slice.
	 */
	setpriority(PRIO_PROCESS, gettid(), WRITER_NICE);
	/* Never written: zero-filled. */
	for (int i = 0; i < mine; i++)
		e[i].zero_prefix = words;
	while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
		int i = xorshift(&rnd) % mine, page = i * nwriters + id;

		double t = now();

		check_visit(page, &e[i]);
		write_page(page, ((uint64_t)(page + 1) << 40) | (++gen & ((1ULL << 40) - 1)), &e[i]);
		atomic_fetch_add(&n_visits, 1);
		took(T_VISIT, t);
	}
	free(e);
	return NULL;
}

/* zap_range(&rnd, &first, &n): the pages of the next zap */
static void zap_range(uint64_t *rnd, int *first, int *n)
{
	int half = npages / 2;

	if (span) {
		/* Across the boundary of the two VMAs, always. */
		int below = 1 + xorshift(rnd) % (MAX_ZAP_PAGES / 2);
		int above = 1 + xorshift(rnd) % (MAX_ZAP_PAGES / 2);

		*first = half - below;
		*n = below + above;
	} else {
		*n = 1 + xorshift(rnd) % MAX_ZAP_PAGES;
		*first = xorshift(rnd) % (npages - *n + 1);
	}
}

static void *zapper(void *arg)
{
	uint64_t rnd = seed_stream(seed, MAX_WRITERS);
	long long calls = 0;

	(void)arg;
	while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
		double t = now();
		int first, n, err;

		zap_range(&rnd, &first, &n);
		err = madvise(region + (size_t)first * pg, (size_t)n * pg, advice);
		took(T_ZAP, t);
		if (err) {
			atomic_fetch_add(&n_zap_err, 1);
			ktap_diag_limited(&report_budget, "madvise(%s) of pages %d-%d: %s", mode,
					  first, first + n - 1, strerror(errno));
		}
		atomic_fetch_add(&n_zaps, 1);
		/* MADV_FREE's pages go only when reclaimed: reclaim them now and then. */
		if (advice == MADV_FREE && ++calls % PAGEOUT_EVERY == 0) {
			t = now();
			err = madvise(region, (size_t)npages * pg, MADV_PAGEOUT);
			took(T_PAGEOUT, t);
			if (err) {
				atomic_fetch_add(&n_zap_err, 1);
				ktap_diag_limited(&report_budget, "madvise(MADV_PAGEOUT): %s",
						  strerror(errno));
			}
			atomic_fetch_add(&n_pageouts, 1);
		}
	}
	return NULL;
}

/* vma_op(ok, what): count one VMA change of the VMA writer */
static void vma_op(int ok, const char *what)
{
	if (ok) {
		atomic_fetch_add(&n_vma_ops, 1);
		return;
	}
	atomic_fetch_add(&n_vma_err, 1);
	ktap_diag_limited(&report_budget, "VMA writer: %s: %s", what, strerror(errno));
}

/*
 * churn_scratch(&rnd): map a slot of the scratch area, fault its pages in,
 * mprotect one of them, and put PROT_NONE back (mmap over it, so that the
 * range is never a hole another mapping could take).
 */
static void churn_scratch(uint64_t *rnd)
{
	char *slot = scratch + (xorshift(rnd) % SCRATCH_SLOTS) * SLOT_PAGES * pg;

	vma_op(mmap(slot, SLOT_PAGES * pg, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) == slot, "mmap");
	for (int i = 0; i < SLOT_PAGES; i++)
		((volatile char *)slot)[i * pg] = 1;
	vma_op(!mprotect(slot + (xorshift(rnd) % SLOT_PAGES) * pg, pg, PROT_READ), "mprotect");
	vma_op(mmap(slot, SLOT_PAGES * pg, PROT_NONE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1, 0) == slot,
	       "mmap PROT_NONE");
}

/*
 * split_region(&rnd): split the region's (lower) VMA by making a range of
 * it executable, then merge it back; the data and write access stay.
 */
static void split_region(uint64_t *rnd)
{
	int end = span ? npages / 2 : npages;
	int n = 1 + xorshift(rnd) % MAX_ZAP_PAGES, first = xorshift(rnd) % (end - n + 1);
	char *p = region + (size_t)first * pg;

	vma_op(!mprotect(p, (size_t)n * pg, PROT_READ | PROT_WRITE | PROT_EXEC), "mprotect RWX");
	vma_op(!mprotect(p, (size_t)n * pg, PROT_READ | PROT_WRITE), "mprotect RW");
}

static void *vma_writer(void *arg)
{
	uint64_t rnd = seed_stream(seed, MAX_WRITERS + 1);

	(void)arg;
	while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
		double t = now();

		churn_scratch(&rnd);
		if (split)
			split_region(&rnd);
		took(T_VMA, t);
	}
	return NULL;
}

/*
 * setup(): the region (two VMAs with --span) and the scratch area, with a
 * PROT_NONE page that is never mapped otherwise at both ends of the latter:
 * the region may lie next to it, and a slot mapped read-write next to the
 * region would merge with it and so change the VMA being zapped.
 */
static void setup(void)
{
	region = mmap(NULL, (size_t)npages * pg, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	scratch = mmap(NULL, (SCRATCH_SLOTS * SLOT_PAGES + 2) * pg, PROT_NONE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (region == MAP_FAILED || scratch == MAP_FAILED)
		ksft_exit_fail_msg("mmap: %s\n", strerror(errno));
	scratch += pg;
	if (span && mprotect(region + (size_t)npages / 2 * pg, (size_t)(npages - npages / 2) * pg,
			     PROT_READ | PROT_WRITE | PROT_EXEC))
		ksft_exit_fail_msg("mprotect: %s\n", strerror(errno));
}

static int usage(void)
{
	fprintf(stderr, "usage: madv_race dontneed|free [-t writers] [-p pages] [-d seconds]\n"
		"                 [--span] [--split] [--seed N] [--no-race]\n");
	return 2;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "no-race", no_argument, NULL, 'R' },
		{ "span", no_argument, NULL, 'P' },
		{ "split", no_argument, NULL, 'L' },
		{ "seed", required_argument, NULL, 'S' },
		{ NULL, 0, NULL, 0 },
	};
	static const char *const counters[] = {
		"madvise_vma_locked", "madvise_vma_fallback", "vma_lock_success",
	};
	long long before[3], zeros;
	pthread_t th[MAX_WRITERS + 2];
	int c, nth = 0;
	double end;

	seed = seed_default();
	while ((c = getopt_long(argc, argv, "t:p:d:", longopts, NULL)) != -1) {
		switch (c) {
		case 't': nwriters = atoi(optarg); break;
		case 'p': npages = atoi(optarg); break;
		case 'd': duration = atoi(optarg); break;
		case 'R': race = 0; break;
		case 'P': span = 1; break;
		case 'L': split = 1; break;
		case 'S':
			if (parse_seed(optarg, &seed))
				return usage();
			break;
		default: return usage();
		}
	}
	if (optind == argc - 1)
		mode = argv[optind];
	if (mode && !strcmp(mode, "dontneed"))
		advice = MADV_DONTNEED;
	else if (mode && !strcmp(mode, "free"))
		advice = MADV_FREE;
	if (!advice || nwriters < 1 || nwriters > MAX_WRITERS || npages < 2 * MAX_ZAP_PAGES ||
	    npages < nwriters || duration < 1)
		return usage();
	ksft_print_header();
	ksft_set_plan(3);
	ktap_diag("seed %llu", (unsigned long long)seed);
	pg = sysconf(_SC_PAGESIZE);
	words = pg / sizeof(uint64_t);
	setup();
	ktap_diag("mode %s, %d writers, %d pages in %s, %s, %d s, zapper %s", mode, nwriters,
		  npages, span ? "two VMAs (ranges across both)" : "one VMA",
		  split ? "region split and merged" : "region left alone", duration,
		  race ? "on" : "off");

	for (int i = 0; i < 3; i++)
		before[i] = vmstat_read(counters[i]);
	for (long i = 0; i < nwriters; i++)
		pthread_create(&th[nth++], NULL, writer, (void *)i);
	pthread_create(&th[nth++], NULL, vma_writer, NULL);
	if (race)
		pthread_create(&th[nth++], NULL, zapper, NULL);
	end = now() + duration;
	while (now() < end)
		usleep(50000);
	atomic_store(&stop, 1);
	for (int i = 0; i < nth; i++)
		pthread_join(th[i], NULL);

	zeros = n_zero_after_write + n_zero_since_visit;
	ktap_diag("visits %lld; pages seen zeroed: after the write %lld (%lld lost its start), "
		  "at the next visit %lld; corrupt %lld", n_visits, n_zero_after_write, n_torn,
		  n_zero_since_visit, n_corrupt);
	ktap_diag("madvise calls %lld (MADV_PAGEOUT %lld, failed %lld), VMA writer ops %lld "
		  "(failed %lld)", n_zaps, n_pageouts, n_zap_err, n_vma_ops, n_vma_err);
	ktap_diag("slowest: visit %lld us, madvise %lld us, MADV_PAGEOUT %lld us, VMA writer "
		  "round %lld us; the threads stopped %.0f ms after the end", max_us[T_VISIT],
		  max_us[T_ZAP], max_us[T_PAGEOUT], max_us[T_VMA], (now() - end) * 1000);
	for (int i = 0; i < 3; i++)
		vmstat_print_delta(counters[i], before[i]);
	ktap_check(!n_corrupt, "data intact", "%lld corrupted pages", n_corrupt);
	ktap_check(!n_zap_err && !n_vma_err, "calls succeeded",
		   "%lld madvise calls and %lld VMA changes failed", n_zap_err, n_vma_err);
	ktap_check(zeros && n_zaps && n_vma_ops, "race exercised",
		   "race not exercised (pages seen zeroed after a write %lld, madvise calls %lld, "
		   "VMA writer ops %lld)", zeros, n_zaps, n_vma_ops);
	ksft_finished();
}
