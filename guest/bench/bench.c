// SPDX-License-Identifier: GPL-2.0
/*
 * bench.c - the guest side of 'make bench': one microbenchmark per run.
 *
 * Usage: bench KIND [key=value ...]
 *   fault    threads=T shared=0|1 churn=0|1 pages=P iters=I
 *            T threads write one byte in each of their P pages, then drop
 *            them (MADV_DONTNEED), I times: every write is a page fault
 *            served under the per-VMA lock. shared=1 puts all threads in one
 *            VMA, else each has its own. churn=1 adds a thread that maps and
 *            unmaps an unrelated range for as long as the faulters run.
 *            Unit: ns per fault (per faulting thread).
 *   mmap     iters=I      map + unmap one page that cannot merge, over a
 *                         page table that exists (ns/op)
 *   brk      iters=I pages=P   grow the heap by P pages, shrink it (ns/op)
 *   mprotect iters=I      split a 3-page VMA by protecting its middle page,
 *                         merge it back (ns per split+merge)
 *   fork     vmas=N iters=I   fork a process with N VMAs (the child waits
 *                         to be told to exit): ns per fork() call in the
 *                         parent
 *   exit     vmas=N iters=I   a forked child with N VMAs exits when told:
 *                         ns from telling it to waitpid() returning
 *   mlock    procs=P pages=K iters=I   P processes mlock and munlock their
 *                         K pages I times (ns per mlock+munlock)
 *   slab     vmas=N       map N VMAs; slab bytes per VMA (vm_area_struct plus
 *                         the vma_lock cache when the kernel has one): the
 *                         change in objects in use, each charged its share
 *                         of a slab
 *   uprobe   threads=T churn=0|1 iters=I   T threads each call a function
 *                         with a uprobe on it (tracefs) I times; churn=1 adds
 *                         a thread mapping, mprotecting and unmapping other
 *                         memory meanwhile. Unit: hits per second, all
 *                         threads together (higher is better). prehit=0
 *                         skips the single hit that main makes first
 *   mapslat  readers=N vmas=V iters=I bufsize=B query=0|1 file=0|1
 *            the process maps V extra one-page VMAs (file=1, the default:
 *            private read-only mappings of its own executable, so each
 *            line of maps carries a path; file=0: anonymous), then maps
 *            and unmaps one page I times, timing each mmap+munmap pair,
 *            while N child processes (0 allowed: the baseline) read its
 *            /proc/PID/maps in a loop: open, read() B bytes at a time
 *            (default 4096, as cat) to the end, close. query=1: the
 *            readers walk the VMAs with the PROCMAP_QUERY ioctl instead.
 *            Three rows per repetition, NAME-p50, NAME-p99 and NAME-max:
 *            median, 99th percentile and worst ns per mmap+munmap pair.
 *            Wall-clock only: it measures waiting, which -icount does not.
 *   dontneed threads=T pages=P iters=I ms=M churn=0|1 free=0|1
 *            T threads each write their own P pages (one VMA each) and
 *            drop them with one madvise(MADV_DONTNEED), I times, or for M
 *            milliseconds if M is not 0 (free=1: MADV_FREE); churn=1
 *            adds a thread of the same process that maps and unmaps an
 *            unrelated range meanwhile, taking mmap_lock for writing.
 *            Unit: ns per write(s)+madvise (the slowest thread's).
 *   Common keys: reps=R timed repetitions (default 3), after one untimed
 *   warm-up run; name=S reports the benchmark as S (mapslat: as S-p50,
 *   S-p99 and S-max; for plans that run one benchmark at several sizes);
 *   profile=1 marks the timed repetitions for 'make profile' (the QEMU
 *   plugin harness/qemu/insn_profile.c).
 *
 * Output, one line per repetition: "    # bench: NAME UNIT REP VALUE"; the
 * fault benchmarks add "    # lockstat: NAME counter=delta ..." with the
 * /proc/vmstat vma_lock_* deltas and the page faults of the timed runs, so a
 * reader sees which faults went through the per-VMA lock; mapslat and
 * dontneed print such a line too, with the counters of a kernel that
 * serves maps readers (vma_iter_*) or madvise() (madvise_vma_*) under
 * per-VMA locks ("absent" on one that does not). mapslat adds
 * "    # mapslat: ..." per repetition (the readers' walks of maps during the
 * timed loop) and dontneed with churn=1 "    # dontneed: ... churn_ops=N"
 * (the churning thread's map+unmap pairs). Time is
 * CLOCK_MONOTONIC: wall time, or executed instructions under QEMU -icount.
 * With profile=1, after the repetitions: "    # profile-ops: NAME N", the
 * operations in the marked region.
 * Exit: 0 ok, 1 a benchmark could not run (the message says why), 2 usage.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ktap.h"
#include "profile.h"
#include "uprobe.h"

static long opt_threads = 1, opt_shared, opt_churn, opt_pages = 256, opt_iters = 100;
static long opt_vmas = 100, opt_procs = 4, opt_reps = 3, opt_prehit = 1, opt_profile;
static long opt_readers = 1, opt_bufsize = 4096, opt_query, opt_file = 1, opt_free, opt_ms;
static const char *opt_name;
static size_t pg;

/*
 * fail("fmt", ...) / failx("fmt", ...): the benchmark cannot run; one
 * FAIL line (fail() adds errno's text, as err(3) does; failx() does not,
 * as errx(3)), exit 1.
 */
static void __attribute__((noreturn)) vfail(int err, const char *fmt, va_list ap)
{
	fputs("    # FAIL: ", stdout);
	vfprintf(stdout, fmt, ap);
	if (err)
		fprintf(stdout, " (%s)", strerror(err));
	fputc('\n', stdout);
	fflush(stdout);
	exit(1);
}

static void __attribute__((noreturn, format(printf, 1, 2))) fail(const char *fmt, ...)
{
	int err = errno;
	va_list ap;

	va_start(ap, fmt);
	vfail(err, fmt, ap);
}

static void __attribute__((noreturn, format(printf, 1, 2))) failx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfail(0, fmt, ap);
}

static uint64_t ns_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

/* emit_as(name, unit, rep, v): one sample, as NAME whatever name= says */
static void emit_as(const char *name, const char *unit, int rep, double v)
{
	ktap_diag("bench: %s %s %d %.1f", name, unit, rep, v);
}

static void emit(const char *name, const char *unit, int rep, double v)
{
	emit_as(opt_name ? opt_name : name, unit, rep, v);
}

/* ---- profile=1: the region 'make profile' counts (profile.h) ------------- */

static void profile_start(void)
{
	if (opt_profile)
		profile_mark_start();
}

/* profile_stop(name, ops): end the region; say how many operations it held */
static void profile_stop(const char *name, long long ops)
{
	if (!opt_profile)
		return;
	profile_mark_stop();
	ktap_diag("profile-ops: %s %lld", opt_name ? opt_name : name, ops);
}

/* map_anon(addr, pages, prot): fixed (addr != NULL, no replace) or anywhere */
static char *map_anon(void *addr, size_t pages, int prot)
{
	int flags = MAP_PRIVATE | MAP_ANONYMOUS | (addr ? MAP_FIXED_NOREPLACE : 0);
	char *p = mmap(addr, pages * pg, prot, flags, -1, 0);

	if (p == MAP_FAILED || (addr && p != addr))
		fail("mmap of %zu pages", pages);
	return p;
}

/* ---- faults ------------------------------------------------------------- */

static const char *const lock_counters[] = {
	"pgfault", "vma_lock_success", "vma_lock_abort", "vma_lock_retry", "vma_lock_miss",
};
#define NCOUNTERS (sizeof(lock_counters) / sizeof(lock_counters[0]))

static pthread_barrier_t start_line;
static atomic_int faulters_done;
static char *fault_area;

struct faulter {
	pthread_t tid;
	long id;
	uint64_t ns;
};

static void *faulter(void *arg)
{
	struct faulter *f = arg;
	char *mine = opt_shared ? fault_area + f->id * opt_pages * pg : NULL;
	uint64_t t0;

	if (!mine)
		mine = map_anon(NULL, opt_pages, PROT_READ | PROT_WRITE);
	pthread_barrier_wait(&start_line);
	t0 = ns_now();
	for (long i = 0; i < opt_iters; i++) {
		for (long p = 0; p < opt_pages; p++)
			*(volatile char *)(mine + p * pg) = 1;
		if (madvise(mine, opt_pages * pg, MADV_DONTNEED))
			fail("madvise");
	}
	f->ns = ns_now() - t0;
	atomic_fetch_add(&faulters_done, 1);
	if (!opt_shared)
		munmap(mine, opt_pages * pg);
	return NULL;
}

static long churn_ops;

/* churner: map and unmap a small unrelated range until the faulters end */
static void *churner(void *arg)
{
	long n = 0;

	(void)arg;
	pthread_barrier_wait(&start_line);
	while (atomic_load(&faulters_done) < opt_threads) {
		/*
		 * Read-only, so that it never merges with (and so never
		 * write-locks) a faulter's VMA, which may well be its
		 * neighbour: the ranges must be unrelated.
		 */
		char *p = map_anon(NULL, 4, PROT_READ);

		(void)*(volatile char *)p;
		munmap(p, 4 * pg);
		n++;
	}
	churn_ops = n;
	return NULL;
}

/*
 * run_threads(body, churn): start opt_threads threads running body (each
 * with its struct faulter), plus one running churn if opt_churn, all
 * released together; wait for them. Returns the slowest body's time.
 */
static uint64_t run_threads(void *(*body)(void *), void *(*churn)(void *))
{
	struct faulter f[16];
	pthread_t churn_tid;
	uint64_t worst = 0;

	if (opt_threads < 1 || opt_threads > 16)
		failx("threads must be 1..16");
	atomic_store(&faulters_done, 0);
	pthread_barrier_init(&start_line, NULL, opt_threads + !!opt_churn);
	for (long i = 0; i < opt_threads; i++) {
		f[i].id = i;
		if (pthread_create(&f[i].tid, NULL, body, &f[i]))
			fail("pthread_create");
	}
	if (opt_churn && pthread_create(&churn_tid, NULL, churn, NULL))
		fail("pthread_create");
	for (long i = 0; i < opt_threads; i++) {
		pthread_join(f[i].tid, NULL);
		if (f[i].ns > worst)
			worst = f[i].ns;
	}
	if (opt_churn)
		pthread_join(churn_tid, NULL);
	pthread_barrier_destroy(&start_line);
	return worst;
}

static double fault_once(void)
{
	uint64_t ns;

	if (opt_shared)
		fault_area = map_anon(NULL, opt_threads * opt_pages, PROT_READ | PROT_WRITE);
	ns = run_threads(faulter, churner);
	if (opt_shared)
		munmap(fault_area, opt_threads * opt_pages * pg);
	return (double)ns / (opt_iters * opt_pages);
}

static void bench_fault(void)
{
	char name[64], line[512];
	long long before[NCOUNTERS], after;
	long long churned = 0;
	int n = 0;

	snprintf(name, sizeof(name), "fault-%s-t%ld%s", opt_shared ? "shared" : "own",
		 opt_threads, opt_churn ? "-churn" : "");
	fault_once();
	for (size_t c = 0; c < NCOUNTERS; c++)
		before[c] = vmstat_read(lock_counters[c]);
	profile_start();
	for (int r = 1; r <= opt_reps; r++) {
		emit(name, "ns/fault", r, fault_once());
		churned += churn_ops;
	}
	profile_stop(name, opt_reps * opt_threads * opt_iters * opt_pages);
	n = snprintf(line, sizeof(line), "lockstat: %s", name);
	for (size_t c = 0; c < NCOUNTERS; c++) {
		after = vmstat_read(lock_counters[c]);
		if (before[c] < 0 || after < 0)
			n += snprintf(line + n, sizeof(line) - n, " %s=absent", lock_counters[c]);
		else
			n += snprintf(line + n, sizeof(line) - n, " %s=%lld", lock_counters[c],
				      after - before[c]);
	}
	n += snprintf(line + n, sizeof(line) - n, " faults_by_design=%lld",
		      (long long)opt_reps * opt_threads * opt_iters * opt_pages);
	if (opt_churn)
		snprintf(line + n, sizeof(line) - n, " churn_ops=%lld", churned);
	ktap_diag("%s", line);
}

/*
 * counters_read(names, n, v) and lockstat_report(name, names, n, before,
 * extra): the "lockstat:" line of bench_fault for other benchmarks: the
 * deltas of N /proc/vmstat counters since BEFORE ("absent" for a counter
 * this kernel does not have), then EXTRA.
 */
static void counters_read(const char *const *names, size_t n, long long *v)
{
	for (size_t c = 0; c < n; c++)
		v[c] = vmstat_read(names[c]);
}

static void lockstat_report(const char *name, const char *const *names, size_t n,
			    const long long *before, const char *extra)
{
	char line[512];
	int len = snprintf(line, sizeof(line), "lockstat: %s", name);

	for (size_t c = 0; c < n && len < (int)sizeof(line); c++) {
		long long after = vmstat_read(names[c]);

		if (before[c] < 0 || after < 0)
			len += snprintf(line + len, sizeof(line) - len, " %s=absent", names[c]);
		else
			len += snprintf(line + len, sizeof(line) - len, " %s=%lld", names[c],
					after - before[c]);
	}
	if (len < (int)sizeof(line))
		snprintf(line + len, sizeof(line) - len, " %s", extra);
	ktap_diag("%s", line);
}

/* ---- MADV_DONTNEED / MADV_FREE ------------------------------------------- */

static pthread_mutex_t dontneed_lock = PTHREAD_MUTEX_INITIALIZER;
static double dontneed_worst;		/* ns per op of the slowest thread */
static long long dontneed_ops;		/* ops of all threads, this run */

/*
 * dontneeder: write each of its own opt_pages pages and drop them with one
 * madvise(), opt_iters times, or for opt_ms milliseconds when that is set
 * (checking the clock every 16 rounds).
 */
static void *dontneeder(void *arg)
{
	int advice = opt_free ? MADV_FREE : MADV_DONTNEED;
	char *mine = map_anon(NULL, opt_pages, PROT_READ | PROT_WRITE);
	struct faulter *f = arg;
	uint64_t t0, end;
	double per_op;
	long n = 0;

	pthread_barrier_wait(&start_line);
	t0 = ns_now();
	end = t0 + opt_ms * 1000000ull;
	while (opt_ms ? (n & 15) || ns_now() < end : n < opt_iters) {
		for (long p = 0; p < opt_pages; p++)
			*(volatile char *)(mine + p * pg) = 1;
		if (madvise(mine, opt_pages * pg, advice))
			fail("madvise");
		n++;
	}
	f->ns = ns_now() - t0;
	per_op = (double)f->ns / n;
	atomic_fetch_add(&faulters_done, 1);
	pthread_mutex_lock(&dontneed_lock);
	if (per_op > dontneed_worst)
		dontneed_worst = per_op;
	dontneed_ops += n;
	pthread_mutex_unlock(&dontneed_lock);
	munmap(mine, opt_pages * pg);
	return NULL;
}

static double dontneed_once(void)
{
	dontneed_worst = 0;
	dontneed_ops = 0;
	run_threads(dontneeder, churner);
	return dontneed_worst;
}

/* which path served the madvise() calls (the last two: kernels that count it) */
static const char *const madvise_counters[] = {
	"pgfault", "vma_lock_success", "vma_lock_abort", "madvise_vma_locked", "madvise_vma_fallback",
};
#define NMADVISE (sizeof(madvise_counters) / sizeof(madvise_counters[0]))

/*
 * bench_dontneed(): ns per round of writes and madvise() in the slowest
 * thread; with churn=1 also how many map+unmap pairs the churning thread
 * made meanwhile (so that a reader sees it really ran alongside). A
 * "lockstat:" line gives the vmstat deltas of the timed repetitions.
 */
static void bench_dontneed(void)
{
	long long churned = 0, ops = 0, before[NMADVISE];
	char name[64], extra[64];

	snprintf(name, sizeof(name), "%s-t%ld%s", opt_free ? "madvfree" : "dontneed", opt_threads,
		 opt_churn ? "-churn" : "");
	dontneed_once();
	counters_read(madvise_counters, NMADVISE, before);
	profile_start();
	for (int r = 1; r <= opt_reps; r++) {
		emit(name, "ns/op", r, dontneed_once());
		churned += churn_ops;
		ops += dontneed_ops;
	}
	profile_stop(name, ops);
	snprintf(extra, sizeof(extra), "madvise_by_design=%lld", ops);
	lockstat_report(opt_name ? opt_name : name, madvise_counters, NMADVISE, before, extra);
	if (opt_churn)
		ktap_diag("dontneed: %s churn_ops=%lld during %lld madvise() calls",
			  opt_name ? opt_name : name, churned, ops);
}

/* run_timed(): a warm-up, then opt_reps timed runs of once(), each of ops operations */
static void run_timed(const char *name, const char *unit, double (*once)(void), long long ops)
{
	once();
	profile_start();
	for (int r = 1; r <= opt_reps; r++)
		emit(name, unit, r, once());
	profile_stop(name, opt_reps * ops);
}

/* ---- VMA churn ------------------------------------------------------------ */

/* what fenced_page() reserves: two PMDs, so that one starts inside it */
#define FENCE_AREA (4ul << 20)

/*
 * fenced_page(&area): a page to map and unmap that cannot merge, between
 * two fences: a read-only page below, read once, and PROT_NONE above.
 * Reading the lower fence maps the zero page, so a page table always lies
 * under the mapping, as under any memory in use; without it, whether
 * munmap() had a page table to walk depended on where ASLR put the frame
 * (~190 instructions per op, from boot to boot). The frame starts on a
 * 2 MiB boundary, so that the page table is the same one. The page is
 * left unmapped; *area is the reservation to unmap (FENCE_AREA bytes).
 */
static char *fenced_page(char **area)
{
	const uintptr_t pmd = 2ul << 20;
	char *a = map_anon(NULL, FENCE_AREA / pg, PROT_NONE);
	char *frame = (char *)(((uintptr_t)a + pmd - 1) & ~(pmd - 1));

	if (mprotect(frame, pg, PROT_READ))
		fail("mprotect");
	(void)*(volatile char *)frame;
	munmap(frame + pg, pg);
	*area = a;
	return frame + pg;
}

/* mmap_once(): map and unmap the fenced page opt_iters times */
static double mmap_once(void)
{
	char *area, *mid = fenced_page(&area);
	uint64_t t0;

	t0 = ns_now();
	for (long i = 0; i < opt_iters; i++) {
		map_anon(mid, 1, PROT_READ | PROT_WRITE);
		munmap(mid, pg);
	}
	t0 = ns_now() - t0;
	munmap(area, FENCE_AREA);
	return (double)t0 / opt_iters;
}

static double brk_once(void)
{
	long step = opt_pages * pg;
	uint64_t t0;

	t0 = ns_now();
	for (long i = 0; i < opt_iters; i++) {
		if (sbrk(step) == (void *)-1)
			fail("sbrk(+%ld)", step);
		*((volatile char *)sbrk(0) - 1) = 1;
		if (sbrk(-step) == (void *)-1)
			fail("sbrk(-%ld)", step);
	}
	return (double)(ns_now() - t0) / opt_iters;
}

static double mprotect_once(void)
{
	char *p = map_anon(NULL, 3, PROT_READ | PROT_WRITE);
	uint64_t t0;

	for (int i = 0; i < 3; i++)
		p[i * pg] = 1;
	t0 = ns_now();
	for (long i = 0; i < opt_iters; i++) {
		if (mprotect(p + pg, pg, PROT_READ) || mprotect(p + pg, pg, PROT_READ | PROT_WRITE))
			fail("mprotect");
	}
	t0 = ns_now() - t0;
	munmap(p, 3 * pg);
	return (double)t0 / opt_iters;
}

/* ---- fork and exit with N VMAs -------------------------------------------- */

static char *vmas_area;

/* make_vmas(n): n one-page anonymous VMAs, touched, separated by holes */
static void make_vmas(long n)
{
	vmas_area = map_anon(NULL, 2 * n, PROT_NONE);
	munmap(vmas_area, 2 * n * pg);
	for (long i = 0; i < n; i++)
		map_anon(vmas_area + 2 * i * pg, 1, PROT_READ | PROT_WRITE)[0] = 1;
}

static void drop_vmas(long n)
{
	munmap(vmas_area, 2 * n * pg);
}

/*
 * fork_once(): the parent's fork() call. The child waits for a byte before
 * it exits: a child that exited at once tore down its N VMAs inside the
 * parent's timing whenever the scheduler ran it before the parent got the
 * CPU back - with one vCPU (icount) about every other fork, so that the
 * repetitions of fork-1000vmas ranged from 2.0M to 4.2M instructions on
 * either kernel. A child that runs first now only blocks in read().
 */
static double fork_once(void)
{
	uint64_t total = 0, t0;
	int status;

	for (long i = 0; i < opt_iters; i++) {
		int pfd[2];
		char c = 0;
		pid_t pid;

		if (pipe(pfd))
			fail("pipe");
		t0 = ns_now();
		pid = fork();
		if (pid == 0) {
			close(pfd[1]);
			_exit(read(pfd[0], &c, 1) == 1 ? 0 : 1);
		}
		total += ns_now() - t0;
		if (pid < 0)
			fail("fork");
		close(pfd[0]);
		if (write(pfd[1], &c, 1) != 1)
			fail("write");
		close(pfd[1]);
		if (waitpid(pid, &status, 0) != pid)
			fail("waitpid");
		if (!WIFEXITED(status) || WEXITSTATUS(status))
			failx("the forked child failed");
	}
	return (double)total / opt_iters;
}

/*
 * exit_once(): the child waits for a byte, then exits. The clock runs from
 * the parent's write to waitpid() returning: the child's wake-up, its exit
 * with N VMAs to tear down, and the parent's wake-up. (Timing from the
 * child's last word instead would miss the exit whenever the child ran to
 * its end before the parent got the CPU, as it does with serialised vCPUs.)
 */
static double exit_once(void)
{
	uint64_t total = 0, t0;
	int status;

	for (long i = 0; i < opt_iters; i++) {
		int pfd[2];
		char c = 0;
		pid_t pid;

		if (pipe(pfd))
			fail("pipe");
		pid = fork();
		if (pid == 0) {
			close(pfd[1]);
			_exit(read(pfd[0], &c, 1) == 1 ? 0 : 1);
		}
		if (pid < 0)
			fail("fork");
		close(pfd[0]);
		t0 = ns_now();
		if (write(pfd[1], &c, 1) != 1)
			fail("write");
		if (waitpid(pid, &status, 0) != pid)
			fail("waitpid");
		total += ns_now() - t0;
		close(pfd[1]);
		if (!WIFEXITED(status) || WEXITSTATUS(status))
			failx("the exiting child failed");
	}
	return (double)total / opt_iters;
}

/* ---- mmap+munmap latency under /proc/PID/maps readers ----------------------- */

#define MAX_READERS 16

/* what the measured process and its readers share (a MAP_SHARED mapping) */
struct maps_shared {
	atomic_int stop;
	atomic_llong walks[MAX_READERS];	/* whole walks of maps, per reader */
};

static struct maps_shared *maps_sh;
static uint64_t *pair_ns;			/* opt_iters latencies */

/*
 * make_file_vmas(n): n one-page private read-only mappings of our own
 * executable, read once, separated by holes: VMAs whose maps lines carry a
 * path, as most of a real process's do. drop_vmas(n) unmaps them.
 */
static void make_file_vmas(long n)
{
	int fd = open("/proc/self/exe", O_RDONLY);

	if (fd < 0)
		fail("open /proc/self/exe");
	vmas_area = map_anon(NULL, 2 * n, PROT_NONE);
	munmap(vmas_area, 2 * n * pg);
	for (long i = 0; i < n; i++) {
		char *want = vmas_area + 2 * i * pg;
		char *p = mmap(want, pg, PROT_READ, MAP_PRIVATE | MAP_FIXED_NOREPLACE, fd, 0);

		if (p != want)
			fail("mmap of /proc/self/exe");
		(void)*(volatile char *)p;
	}
	close(fd);
}

/* walk_read(path, buf): open PATH, read() it to the end opt_bufsize bytes at a time, close */
static int walk_read(const char *path, char *buf)
{
	int fd = open(path, O_RDONLY);
	ssize_t n;

	if (fd < 0)
		return -1;
	while ((n = read(fd, buf, opt_bufsize)) > 0)
		;
	close(fd);
	return n < 0 ? -1 : 0;
}

/* walk_query(path, buf): every VMA of PATH's mm through PROCMAP_QUERY, names into buf */
static int walk_query(const char *path, char *buf)
{
	int fd = open(path, O_RDONLY), err;
	struct procmap_query q;
	uint64_t addr = 0;

	if (fd < 0)
		return -1;
	for (;;) {
		memset(&q, 0, sizeof(q));
		q.size = sizeof(q);
		q.query_flags = PROCMAP_QUERY_COVERING_OR_NEXT_VMA;
		q.query_addr = addr;
		q.vma_name_addr = (uintptr_t)buf;
		q.vma_name_size = opt_bufsize;
		if (ioctl(fd, PROCMAP_QUERY, &q))
			break;
		addr = q.vma_end;
	}
	err = errno;
	close(fd);
	errno = err;
	return err == ENOENT ? 0 : -1;
}

/* maps_reader(target, id): walk TARGET's maps until told to stop (a child) */
static void __attribute__((noreturn)) maps_reader(pid_t target, int id)
{
	char path[64], *buf = malloc(opt_bufsize);

	/* Never outlive the measured process, whatever happens to it. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) || getppid() != target)
		_exit(1);
	if (!buf)
		fail("malloc(%ld)", opt_bufsize);
	snprintf(path, sizeof(path), "/proc/%d/maps", (int)target);
	while (!atomic_load(&maps_sh->stop)) {
		if ((opt_query ? walk_query : walk_read)(path, buf))
			fail("reader %d: %s of %s", id, opt_query ? "PROCMAP_QUERY" : "read", path);
		atomic_fetch_add(&maps_sh->walks[id], 1);
	}
	_exit(0);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* rank(s, n, pct): the nearest-rank percentile PCT of the N sorted values S */
static double rank(const uint64_t *s, long n, int pct)
{
	long k = (n * pct + 99) / 100;

	return (double)s[k ? k - 1 : 0];
}

/*
 * mapslat_once(name, rep): start the readers, wait until each has walked
 * the maps once (so that all of them are running), time opt_iters
 * mmap+munmap pairs one by one, stop the readers. Rep 0 is the warm-up;
 * the others print their three rows and how many walks the readers made
 * during the timed loop.
 */
static long long mapslat_walks;		/* during the timed loops, all reps */

static void mapslat_once(const char *name, int rep)
{
	char *area, *mid = fenced_page(&area), row[96];
	pid_t self = getpid(), kids[MAX_READERS];
	long long walks = 0;
	uint64_t t0;
	int status;

	atomic_store(&maps_sh->stop, 0);
	for (long i = 0; i < opt_readers; i++) {
		atomic_store(&maps_sh->walks[i], 0);
		kids[i] = fork();
		if (kids[i] < 0)
			fail("fork");
		if (kids[i] == 0)
			maps_reader(self, i);
	}
	for (long i = 0; i < opt_readers; i++) {
		while (!atomic_load(&maps_sh->walks[i])) {
			if (waitpid(kids[i], &status, WNOHANG) == kids[i])
				failx("maps reader %ld ended before its first walk", i);
			usleep(1000);
		}
		walks -= atomic_load(&maps_sh->walks[i]);
	}
	t0 = ns_now();
	for (long i = 0; i < opt_iters; i++) {
		uint64_t t = ns_now();

		map_anon(mid, 1, PROT_READ | PROT_WRITE);
		munmap(mid, pg);
		pair_ns[i] = ns_now() - t;
	}
	t0 = ns_now() - t0;
	for (long i = 0; i < opt_readers; i++)
		walks += atomic_load(&maps_sh->walks[i]);
	atomic_store(&maps_sh->stop, 1);
	for (long i = 0; i < opt_readers; i++) {
		if (waitpid(kids[i], &status, 0) != kids[i])
			fail("waitpid");
		if (!WIFEXITED(status) || WEXITSTATUS(status))
			failx("maps reader %ld failed", i);
	}
	munmap(area, FENCE_AREA);
	if (!rep)
		return;
	qsort(pair_ns, opt_iters, sizeof(*pair_ns), cmp_u64);
	snprintf(row, sizeof(row), "%s-p50", name);
	emit_as(row, "ns/op", rep, rank(pair_ns, opt_iters, 50));
	snprintf(row, sizeof(row), "%s-p99", name);
	emit_as(row, "ns/op", rep, rank(pair_ns, opt_iters, 99));
	snprintf(row, sizeof(row), "%s-max", name);
	emit_as(row, "ns/op", rep, (double)pair_ns[opt_iters - 1]);
	ktap_diag("mapslat: %s rep %d: %ld pairs in %.1f ms, %lld walks of maps by %ld readers",
		  name, rep, opt_iters, t0 / 1e6, walks, opt_readers);
	mapslat_walks += walks;
}

/* how the readers took the VMAs (kernels that read maps under per-VMA locks count it) */
static const char *const maps_counters[] = { "vma_iter_locked", "vma_iter_fallback" };
#define NMAPS (sizeof(maps_counters) / sizeof(maps_counters[0]))

static void bench_mapslat(void)
{
	char name[64], extra[64];
	long long before[NMAPS];

	if (opt_readers > MAX_READERS)
		failx("readers must be 0..%d", MAX_READERS);
	snprintf(name, sizeof(name), "mapslat-r%ld%s", opt_readers, opt_query ? "-query" : "");
	maps_sh = mmap(NULL, sizeof(*maps_sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
		       -1, 0);
	pair_ns = calloc(opt_iters, sizeof(*pair_ns));
	if (maps_sh == MAP_FAILED || !pair_ns)
		fail("no memory for %ld latencies", opt_iters);
	/* Fault the array in now, not inside the timed loop. */
	memset(pair_ns, 1, opt_iters * sizeof(*pair_ns));
	if (opt_file)
		make_file_vmas(opt_vmas);
	else
		make_vmas(opt_vmas);
	mapslat_once(opt_name ? opt_name : name, 0);
	counters_read(maps_counters, NMAPS, before);
	for (int r = 1; r <= opt_reps; r++)
		mapslat_once(opt_name ? opt_name : name, r);
	snprintf(extra, sizeof(extra), "walks_timed=%lld", mapslat_walks);
	lockstat_report(opt_name ? opt_name : name, maps_counters, NMAPS, before, extra);
	drop_vmas(opt_vmas);
}

/* ---- mlock ------------------------------------------------------------------ */

static double mlock_once(void)
{
	int pfd[2];
	uint64_t sum = 0;

	if (pipe(pfd))
		fail("pipe");
	for (long p = 0; p < opt_procs; p++) {
		pid_t pid = fork();

		if (pid < 0)
			fail("fork");
		if (pid == 0) {
			char *m = map_anon(NULL, opt_pages, PROT_READ | PROT_WRITE);
			uint64_t t0 = ns_now();

			for (long i = 0; i < opt_iters; i++) {
				if (mlock(m, opt_pages * pg) || munlock(m, opt_pages * pg))
					_exit(1);
			}
			t0 = ns_now() - t0;
			_exit(write(pfd[1], &t0, sizeof(t0)) == sizeof(t0) ? 0 : 1);
		}
	}
	close(pfd[1]);
	for (long p = 0; p < opt_procs; p++) {
		uint64_t t;
		int status;

		if (read(pfd[0], &t, sizeof(t)) != sizeof(t))
			failx("an mlock child failed (RLIMIT_MEMLOCK?)");
		sum += t;
		if (wait(&status) < 0 || !WIFEXITED(status) || WEXITSTATUS(status))
			failx("an mlock child failed");
	}
	close(pfd[0]);
	return (double)sum / opt_procs / opt_iters;
}

/* ---- memory ----------------------------------------------------------------- */

/*
 * slab_bytes(cache): memory held by the cache's objects in use, each
 * charged its share of a slab ((PAGE_SIZE << order) / objs_per_slab, so
 * alignment and the slab's unused tail count); 0 if there is no such
 * cache. Per-CPU slabs are flushed first ("shrink"): the object counts of
 * a frozen per-CPU slab are not exact.
 */
static double slab_bytes(const char *cache)
{
	char path[256];
	long objects, per_slab, order;
	FILE *f;

	if (slab_attr(cache, "object_size") < 0)
		return 0;
	snprintf(path, sizeof(path), "/sys/kernel/slab/%s/shrink", cache);
	f = fopen(path, "w");
	if (f) {
		fputs("1\n", f);
		fclose(f);
	}
	objects = slab_attr(cache, "objects");
	per_slab = slab_attr(cache, "objs_per_slab");
	order = slab_attr(cache, "order");
	if (objects < 0 || per_slab <= 0 || order < 0)
		failx("/sys/kernel/slab/%s/objects unreadable (CONFIG_SLUB_DEBUG, slab_nomerge?)", cache);
	return (double)objects * ((long)pg << order) / per_slab;
}

static const char *const vma_caches[] = { "vm_area_struct", "vma_lock" };

/*
 * slab_settle(): wait until the VMA caches' object counts stop moving. An
 * unpatched kernel frees VMAs through call_rcu(), so the VMAs of the
 * previous repetition leave the counts a while after munmap(); counted
 * across the next measurement they cancel its allocations. This waits for
 * a condition, with a cap; it does not time anything.
 */
static void slab_settle(void)
{
	double last = -1;

	for (int i = 0, same = 0; i < 200 && same < 3; i++) {
		double now = slab_bytes(vma_caches[0]) + slab_bytes(vma_caches[1]);

		same = now == last ? same + 1 : 0;
		last = now;
		usleep(50000);
	}
}

static void bench_slab(void)
{
	FILE *f = fopen("/proc/sys/vm/max_map_count", "w");

	/* Room for the N VMAs and the program's own. */
	if (!f || fprintf(f, "%ld\n", opt_vmas + 1000) < 0 || fclose(f))
		fail("cannot raise vm.max_map_count");
	for (int r = 0; r <= opt_reps; r++) {
		double before[2], bytes = 0;

		slab_settle();
		for (int c = 0; c < 2; c++)
			before[c] = slab_bytes(vma_caches[c]);
		make_vmas(opt_vmas);
		slab_settle();
		for (int c = 0; c < 2; c++) {
			double d = slab_bytes(vma_caches[c]) - before[c];

			if (r == opt_reps)
				ktap_diag("slab: %s %.0f bytes for %ld VMAs", vma_caches[c], d, opt_vmas);
			bytes += d;
		}
		drop_vmas(opt_vmas);
		if (r)
			emit("slab-per-vma", "B/vma", r, bytes / opt_vmas);
	}
}

/* ---- uprobes --------------------------------------------------------------- */

__attribute__((noinline)) int bench_probed(int x)
{
	asm volatile("" ::: "memory");
	return x + 1;
}

static void *hitter(void *arg)
{
	struct faulter *f = arg;
	uint64_t t0;
	int v = 0;

	pthread_barrier_wait(&start_line);
	t0 = ns_now();
	for (long i = 0; i < opt_iters; i++)
		v = bench_probed(v);
	f->ns = ns_now() - t0;
	atomic_fetch_add(&faulters_done, 1);
	if (v != opt_iters)
		failx("bench_probed() computed %d, not %ld", v, opt_iters);
	return NULL;
}

/* writer: map, split, merge and unmap other memory until the hitters end */
static void *uprobe_writer(void *arg)
{
	(void)arg;
	pthread_barrier_wait(&start_line);
	while (atomic_load(&faulters_done) < opt_threads) {
		char *p = map_anon(NULL, 4, PROT_READ | PROT_WRITE);

		*(volatile char *)p = 1;
		mprotect(p + pg, 2 * pg, PROT_READ);
		mprotect(p + pg, 2 * pg, PROT_READ | PROT_WRITE);
		munmap(p, 4 * pg);
	}
	return NULL;
}

static double uprobe_once(void)
{
	return 1e9 * opt_threads * opt_iters / (double)run_threads(hitter, uprobe_writer);
}

static void bench_uprobe(void)
{
	long long hits, want = (opt_reps + 1LL) * opt_threads * opt_iters;
	char name[64];

	snprintf(name, sizeof(name), "uprobe-t%ld%s", opt_threads, opt_churn ? "-churn" : "");
	if (uprobe_add("vmrc_bench", (void *)bench_probed))
		exit(1);
	/*
	 * The first hit in an mm creates its XOL area under mmap_write_lock.
	 * Take it here, alone: under -icount a hitter waiting for that lock
	 * was seen starved for minutes by the churning thread (docs/testing.md,
	 * Known issues; prehit=0 reproduces it), and it is not what is measured.
	 */
	if (opt_prehit) {
		bench_probed(0);
		want++;
	}
	run_timed(name, "hits/s", uprobe_once, opt_threads * opt_iters);
	hits = uprobe_hits("vmrc_bench");
	uprobe_del("vmrc_bench");
	if (hits != want) {
		failx("the uprobe counted %lld hits for %lld calls", hits, want);
	}
}

/* ---- main ----------------------------------------------------------------- */

static const struct {
	const char *key;
	long *val;
	int zero_ok;	/* a switch: 0 is a valid value */
} keys[] = {
	{ "threads", &opt_threads, 0 }, { "shared", &opt_shared, 1 }, { "churn", &opt_churn, 1 },
	{ "pages", &opt_pages, 0 }, { "iters", &opt_iters, 0 }, { "vmas", &opt_vmas, 0 },
	{ "procs", &opt_procs, 0 }, { "reps", &opt_reps, 0 }, { "prehit", &opt_prehit, 1 },
	{ "profile", &opt_profile, 1 },	/* a switch: 0 or 1 */
	{ "readers", &opt_readers, 1 }, { "bufsize", &opt_bufsize, 0 }, { "query", &opt_query, 1 },
	{ "file", &opt_file, 1 }, { "free", &opt_free, 1 }, { "ms", &opt_ms, 1 },
};

static void usage(void)
{
	fprintf(stderr, "usage: bench fault|mmap|brk|mprotect|fork|exit|mlock|slab|uprobe|mapslat|dontneed [name=S] [key=value ...]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	char name[64];

	pg = sysconf(_SC_PAGESIZE);
	if (argc < 2)
		usage();
	for (int i = 2; i < argc; i++) {
		char *eq = strchr(argv[i], '=');
		size_t k;

		if (!strncmp(argv[i], "name=", 5) && argv[i][5]) {
			opt_name = argv[i] + 5;
			continue;
		}

		for (k = 0; eq && k < sizeof(keys) / sizeof(keys[0]); k++) {
			if (strlen(keys[k].key) == (size_t)(eq - argv[i]) &&
			    !strncmp(argv[i], keys[k].key, eq - argv[i]))
				break;
		}
		if (!eq || k == sizeof(keys) / sizeof(keys[0])) {
			fprintf(stderr, "bench: unknown argument '%s'\n", argv[i]);
			usage();
		}
		*keys[k].val = strtol(eq + 1, NULL, 0);
		if (*keys[k].val < 0 || (*keys[k].val == 0 && !keys[k].zero_ok) ||
		    (keys[k].val == &opt_profile && *keys[k].val > 1)) {
			fprintf(stderr, "bench: bad value in '%s'\n", argv[i]);
			usage();
		}
	}
	if (!strcmp(argv[1], "fault")) {
		bench_fault();
	} else if (!strcmp(argv[1], "mmap")) {
		run_timed("mmap-munmap", "ns/op", mmap_once, opt_iters);
	} else if (!strcmp(argv[1], "brk")) {
		run_timed("brk-grow-shrink", "ns/op", brk_once, opt_iters);
	} else if (!strcmp(argv[1], "mprotect")) {
		run_timed("mprotect-split-merge", "ns/op", mprotect_once, opt_iters);
	} else if (!strcmp(argv[1], "fork") || !strcmp(argv[1], "exit")) {
		int is_fork = argv[1][0] == 'f';

		snprintf(name, sizeof(name), "%s-%ldvmas", argv[1], opt_vmas);
		make_vmas(opt_vmas);
		run_timed(name, is_fork ? "ns/fork" : "ns/exit", is_fork ? fork_once : exit_once,
			  opt_iters);
		drop_vmas(opt_vmas);
	} else if (!strcmp(argv[1], "mlock")) {
		snprintf(name, sizeof(name), "mlock-p%ld", opt_procs);
		run_timed(name, "ns/op", mlock_once, opt_procs * opt_iters);
	} else if (!strcmp(argv[1], "slab")) {
		bench_slab();
	} else if (!strcmp(argv[1], "uprobe")) {
		bench_uprobe();
	} else if (!strcmp(argv[1], "mapslat")) {
		bench_mapslat();
	} else if (!strcmp(argv[1], "dontneed")) {
		bench_dontneed();
	} else {
		usage();
	}
	return 0;
}
