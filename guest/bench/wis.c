// SPDX-License-Identifier: GPL-2.0
/*
 * wis.c - will-it-scale-style loops in threads mode, for 'make bench'.
 *
 * Usage: wis TEST [key=value ...]
 *   brk1         each thread grows the heap by one page and shrinks it
 *                back (two brk() calls); one op = one grow + shrink. The
 *                threads share the one program break, so a grow may find
 *                the page already there (another thread's), as in
 *                will-it-scale's threads mode
 *   mmap1        each thread maps size MiB of private anonymous memory and
 *                unmaps it, untouched; one op = one mmap + munmap
 *   page_fault1  each thread maps size MiB, writes one byte in every page
 *                (each write a page fault) and unmaps it; one op = one page
 *                written, the mmap and munmap around it are part of its cost
 *   Keys: threads=T  threads of this process, sharing its mm (1..16, default 1)
 *         size=MiB   the region of mmap1 and page_fault1, per thread (default
 *                    128, will-it-scale's)
 *         warmup=MS  milliseconds of running before the first measurement
 *                    (default 500; 0: none)
 *         period=MS  the length of one measurement (default 1000)
 *         reps=R     measurements, back to back (1..100, default 3)
 *
 * Counting, will-it-scale's way: every thread loops until told to stop and
 * counts its completed operations in a counter of its own (its own cache
 * line, only it writes it); the main thread lets them run for the warm-up,
 * then reads the sum of the counters at the end of every period. One value
 * per period: the operations completed in it, all threads together, per
 * second of CLOCK_MONOTONIC - wall time, or executed instructions under
 * QEMU -icount (where the vCPUs run one at a time, so the value is the
 * inverse of the cost of one op, threads or not).
 *
 * Output, once the threads have stopped (printing may allocate, and brk1's
 * threads own the end of the heap while they run): one line per
 * measurement, "# bench: wis-TEST-tT ops/s REP VALUE" (bench.c's format,
 * which bin/bench collects; a unit ending in /s: higher is better), then
 * "# wis: ..." with each thread's operations over the measurements.
 * Exit: 0 ok; 1 the test could not run, or a thread completed no operation
 * during the measurements (the number would not be T threads' throughput);
 * 2 usage.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "keyval.h"
#include "ktap.h"

#define MAX_THREADS 16
#define MAX_REPS 100

static long opt_threads = 1, opt_size = 128, opt_warmup = 500, opt_period = 1000, opt_reps = 3;
static size_t pg, region;

/* one per thread, each on a cache line of its own */
struct worker {
	_Atomic unsigned long ops;
	pthread_t tid;
	int id;
} __attribute__((aligned(64)));

static struct worker workers[MAX_THREADS];
static atomic_int stop;
static pthread_barrier_t start_line;
static uintptr_t brk_base;

/* fail("fmt", ...): the test cannot run; one FAIL line with errno's text, exit 1 */
static void __attribute__((noreturn, format(printf, 1, 2))) fail(const char *fmt, ...)
{
	int err = errno;
	va_list ap;

	va_start(ap, fmt);
	flockfile(stdout);
	fputs("# FAIL: ", stdout);
	vfprintf(stdout, fmt, ap);
	if (err)
		fprintf(stdout, " (%s)", strerror(err));
	fputc('\n', stdout);
	fflush(stdout);
	va_end(ap);
	exit(1);
}

static uint64_t ns_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static void sleep_until(uint64_t ns)
{
	struct timespec ts = { .tv_sec = ns / 1000000000ull, .tv_nsec = ns % 1000000000ull };

	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

static int stopping(void)
{
	return atomic_load_explicit(&stop, memory_order_relaxed);
}

static void count(struct worker *w, unsigned long n)
{
	atomic_store_explicit(&w->ops, n, memory_order_relaxed);
}

/* the kernel's brk(): returns the new break, or the old one if it failed */
static uintptr_t sys_brk(uintptr_t addr)
{
	return (uintptr_t)syscall(SYS_brk, addr);
}

static void *brk1(void *arg)
{
	struct worker *w = arg;
	unsigned long n = 0;

	pthread_barrier_wait(&start_line);
	while (!stopping()) {
		errno = 0;
		if (sys_brk(brk_base + pg) != brk_base + pg)
			fail("brk1: thread %d could not grow the heap by a page", w->id);
		if (sys_brk(brk_base) != brk_base)
			fail("brk1: thread %d could not shrink the heap back", w->id);
		count(w, ++n);
	}
	return NULL;
}

static void *mmap1(void *arg)
{
	struct worker *w = arg;
	unsigned long n = 0;

	pthread_barrier_wait(&start_line);
	while (!stopping()) {
		void *p = mmap(NULL, region, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			       -1, 0);

		if (p == MAP_FAILED)
			fail("mmap1: thread %d: mmap of %ld MiB", w->id, opt_size);
		if (munmap(p, region))
			fail("mmap1: thread %d: munmap", w->id);
		count(w, ++n);
	}
	return NULL;
}

static void *page_fault1(void *arg)
{
	struct worker *w = arg;
	unsigned long n = 0;

	pthread_barrier_wait(&start_line);
	while (!stopping()) {
		char *p = mmap(NULL, region, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			       -1, 0);

		if (p == MAP_FAILED)
			fail("page_fault1: thread %d: mmap of %ld MiB", w->id, opt_size);
		for (size_t off = 0; off < region; off += pg) {
			*(volatile char *)(p + off) = 1;
			count(w, ++n);
		}
		if (munmap(p, region))
			fail("page_fault1: thread %d: munmap", w->id);
	}
	return NULL;
}

static const struct {
	const char *name;
	void *(*loop)(void *);
} tests[] = {
	{ "brk1", brk1 }, { "mmap1", mmap1 }, { "page_fault1", page_fault1 },
};

static unsigned long total_ops(unsigned long *per_thread)
{
	unsigned long sum = 0;

	for (long i = 0; i < opt_threads; i++) {
		per_thread[i] = atomic_load_explicit(&workers[i].ops, memory_order_relaxed);
		sum += per_thread[i];
	}
	return sum;
}

static const struct keyval keys[] = {
	{ "threads", &opt_threads, 1, MAX_THREADS },
	{ "size", &opt_size, 1, 65536 },
	{ "warmup", &opt_warmup, 0, 3600000 },
	{ "period", &opt_period, 1, 3600000 },
	{ "reps", &opt_reps, 1, MAX_REPS },
};
#define NTESTS (sizeof(tests) / sizeof(tests[0]))

static void __attribute__((noreturn)) usage(const char *why, const char *arg)
{
	if (why)
		fprintf(stderr, "wis: %s '%s'\n", why, arg);
	fprintf(stderr, "usage: wis brk1|mmap1|page_fault1 [threads=1..%d] [size=MiB] "
		"[warmup=MS] [period=MS] [reps=1..%d]\n", MAX_THREADS, MAX_REPS);
	exit(2);
}

static void parse_args(int argc, char **argv)
{
	for (int i = 2; i < argc; i++) {
		const char *why = keyval_set(keys, NKEYVALS(keys), argv[i]);

		if (why)
			usage(why, argv[i]);
	}
}

int main(int argc, char **argv)
{
	unsigned long first[MAX_THREADS], last[MAX_THREADS], prev, now_ops;
	double values[MAX_REPS];
	uint64_t t0, prev_ns, now_ns;
	char line[512];
	size_t t;
	int n;

	pg = sysconf(_SC_PAGESIZE);
	if (argc < 2)
		usage(NULL, NULL);
	for (t = 0; t < NTESTS && strcmp(argv[1], tests[t].name); t++)
		;
	if (t == NTESTS)
		usage("unknown test", argv[1]);
	parse_args(argc, argv);
	region = (size_t)opt_size << 20;
	if (!strcmp(tests[t].name, "brk1")) {
		brk_base = sys_brk(0);
		if (!brk_base)
			fail("brk1: no program break");
	}

	pthread_barrier_init(&start_line, NULL, opt_threads + 1);
	for (long i = 0; i < opt_threads; i++) {
		workers[i].id = i;
		if (pthread_create(&workers[i].tid, NULL, tests[t].loop, &workers[i])) {
			errno = 0;
			fail("pthread_create of thread %ld", i);
		}
	}
	pthread_barrier_wait(&start_line);
	t0 = ns_now();
	sleep_until(t0 + opt_warmup * 1000000ull);
	prev_ns = ns_now();
	prev = total_ops(first);
	for (long r = 0; r < opt_reps; r++) {
		sleep_until(prev_ns + opt_period * 1000000ull);
		now_ns = ns_now();
		now_ops = total_ops(last);
		values[r] = (now_ops - prev) * 1e9 / (double)(now_ns - prev_ns);
		prev = now_ops;
		prev_ns = now_ns;
	}
	atomic_store(&stop, 1);
	for (long i = 0; i < opt_threads; i++)
		pthread_join(workers[i].tid, NULL);
	if (brk_base && sys_brk(brk_base) != brk_base)
		fail("brk1: could not put the break back");

	for (long r = 0; r < opt_reps; r++)
		ktap_diag("bench: wis-%s-t%ld ops/s %ld %.1f", tests[t].name, opt_threads, r + 1,
			  values[r]);
	n = snprintf(line, sizeof(line), "wis: %s threads=%ld", tests[t].name, opt_threads);
	if (!brk_base)
		n += snprintf(line + n, sizeof(line) - n, " size=%ldMiB", opt_size);
	n += snprintf(line + n, sizeof(line) - n, " warmup=%ldms period=%ldms reps=%ld;"
		      " ops per thread over the measurements:", opt_warmup, opt_period, opt_reps);
	for (long i = 0; i < opt_threads && n < (int)sizeof(line); i++)
		n += snprintf(line + n, sizeof(line) - n, " %lu", last[i] - first[i]);
	ktap_diag("%s", line);
	for (long i = 0; i < opt_threads; i++) {
		if (last[i] == first[i]) {
			errno = 0;
			fail("thread %ld completed no %s operation in %ld ms: the value is not %ld threads' throughput",
			     i, tests[t].name, opt_reps * opt_period, opt_threads);
		}
	}
	return 0;
}
