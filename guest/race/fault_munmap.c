// SPDX-License-Identifier: GPL-2.0
/*
 * fault_munmap.c - page faults racing munmap and re-mmap in one mm.
 *
 * Race hunted: lock_vma_under_rcu() finding a VMA that a concurrent
 * munmap (or a partial munmap that splits it) is detaching, and a fault
 * that installs a page into a VMA already gone, or reads a page from the
 * mapping it replaced.
 *
 * Faulter threads write a unique tag into a page of an anonymous region and
 * read it back; a churner thread keeps unmapping slots of the region (whole
 * slots, or one page from the middle, which splits the VMA) and mapping them
 * again (fresh zero pages; neighbours merge back). Each page is written by
 * one faulter only, so the only legal results of the read-back are the tag
 * just written, zero (the slot was replaced in between) or SIGSEGV (the slot
 * was unmapped). Anything else is corrupted data: the test fails.
 *
 * Self-check: the run must show that the race happened (reads that saw a
 * replaced or unmapped slot; otherwise it fails "race not exercised") and
 * that faults were served under the per-VMA lock (vma_lock_success in
 * /proc/vmstat grew). --no-race turns the churner off: the negative
 * control, which must fail the "race exercised" check.
 *
 * With -P N, N processes run the same workload at once: VMAs freed in one
 * mm are then reused in another (vm_area_cachep is SLAB_TYPESAFE_BY_RCU on
 * the patched kernel) while lockless faults in the first may still be
 * probing them. Each process checks its own data and self-check.
 *
 * With -r MS as well, the N processes are short-lived: each lives MS
 * milliseconds and is replaced by a new one until the duration is over, so
 * many mms create and destroy VMAs at once; the checks use the totals.
 *
 * With -f MS, the churner forks after each munmap a child that lives MS
 * milliseconds and exits: its dup_mmap() allocates VMAs on the CPU that
 * just freed one, and the slab hands out the object freed last first, so
 * a fault still probing the old VMA takes its reference on a VMA of
 * another mm, whose exit then write-locks and detaches it. The slot
 * is fenced by PROT_NONE pages and only whole slots are churned, so each
 * munmap frees the VMA the remap before it allocated. Faulter threads are
 * named fm-faulter and the churner (with its children) fm-churner, so
 * that the windows of the debug patches can target one role each.
 * With the windows of the harness's debug patches widened, that is the
 * reused-VMA put racing with the other mm's exit and free.
 *
 * Output: KTAP (kselftest.h), one result per check: "data intact" (no
 * corrupted read-back), "writes completed", "race exercised", "faults
 * under the per-VMA lock", and with -P or -r "worker processes exited
 * cleanly". With -P a check fails if it failed in any process (which says
 * so in a diagnostic line naming its pid).
 *
 * Usage: fault_munmap [-P procs [-r ms]] [-t faulters] [-d seconds]
 *                     [-s slots] [-p pages] [-f ms] [--seed N] [--no-race]
 * The seed of the threads' random choices is printed at the start.
 * Exit: 0 every check passed, 1 a check failed, 2 usage.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ktap.h"
#include "probe.h"

/* At most this many corruption reports are printed (all are counted). */
static int report_budget = 10;

#define MAX_FAULTERS 64

static int nfaulters = 2, duration = 3, nslots = 32, slot_pages = 8, churn = 1, nprocs = 1;
static int fork_reuse_ms = -1;
static uint64_t seed;	/* of this process: -P and -r workers derive their own */
static size_t page_size;
static char *region;
static atomic_int stop;

static atomic_llong n_writes, n_zero, n_segv, n_corrupt, n_churn, n_split, n_lost, n_forks;

/* -f: how long a remapped slot stays before the next munmap */
#define REUSE_SETTLE_US 5000

/* pin_cpu(cpu): run the calling thread on @cpu only (if it exists) */
static void pin_cpu(int cpu)
{
	cpu_set_t set;

	if (cpu >= sysconf(_SC_NPROCESSORS_ONLN))
		return;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	sched_setaffinity(0, sizeof(set), &set);
}

/* reuse_fork(): a child that takes the VMAs just freed, lives, exits */
static void reuse_fork(void)
{
	pid_t child = fork();

	if (child == 0) {
		usleep(fork_reuse_ms * 1000);
		_exit(0);
	}
	if (child > 0 && waitpid(child, NULL, 0) == child)
		atomic_fetch_add(&n_forks, 1);
}


/*
 * probe(p, tag, &got): store @tag at @p and load it back into @got.
 * Returns 1 if either access hit an unmapped slot (SIGSEGV), else 0.
 */
static int __attribute__((noinline)) probe(volatile uint64_t *p, uint64_t tag, uint64_t *got)
{
	return PROBE(*p = tag, *got = *p);
}

static void *faulter(void *arg)
{
	long id = (long)arg;
	/* Thread names let the debug patches' windows target one role. */
	prctl(PR_SET_NAME, "fm-faulter");
	if (fork_reuse_ms >= 0)
		pin_cpu(0);
	uint64_t rnd = seed_stream(seed, id), seq = 0;
	size_t npages = (size_t)nslots * slot_pages;

	while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
		/* Pages id, id + nfaulters, ... belong to this thread. */
		size_t page = xorshift(&rnd) % (npages / nfaulters) * nfaulters + id;
		size_t off = (xorshift(&rnd) % (page_size / 8)) * 8;
		volatile uint64_t *p = (volatile uint64_t *)(region + page * page_size + off);
		uint64_t tag = ((uint64_t)(id + 1) << 48) | ++seq, got;

		if (probe(p, tag, &got)) {
			atomic_fetch_add(&n_segv, 1);
			continue;
		}
		atomic_fetch_add(&n_writes, 1);
		if (got == 0) {
			atomic_fetch_add(&n_zero, 1);
		} else if (got != tag) {
			atomic_fetch_add(&n_corrupt, 1);
			ktap_diag_limited(&report_budget, "CORRUPT page %zu off %zu: wrote %#llx read %#llx", page, off,
				  (unsigned long long)tag, (unsigned long long)got);
		}
	}
	return NULL;
}

/* remap(addr, len): map fresh anonymous memory at addr; 0 or -1 (slot lost) */
static int remap(char *addr, size_t len)
{
	void *p = mmap(addr, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);

	if (p == addr)
		return 0;
	if (p != MAP_FAILED)
		munmap(p, len);
	/* Someone else (malloc, a stack) took the hole: leave it alone. */
	atomic_fetch_add(&n_lost, 1);
	return -1;
}

static void *churner(void *arg)
{
	uint64_t rnd = seed_stream(seed, MAX_FAULTERS);
	size_t slot_len = (size_t)slot_pages * page_size;
	char *lost = calloc(nslots, 1);

	(void)arg;
	prctl(PR_SET_NAME, "fm-churner");
	/*
	 * With -f: the churner, and the children it forks, on a CPU of their
	 * own, so that the children allocate from the per-CPU slab lists the
	 * churner's munmap() just freed VMAs to.
	 */
	if (fork_reuse_ms >= 0)
		pin_cpu(1);
	while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
		size_t slot = xorshift(&rnd) % nslots;
		char *base = region + slot * slot_len;

		if (lost[slot])
			continue;
		/*
		 * With -f, whole slots only: the VMA a munmap frees is then the
		 * one the last remap allocated, still in the CPU's current slab,
		 * which hands it out again first - to the forked child.
		 */
		if (fork_reuse_ms < 0 && xorshift(&rnd) % 4 == 0) {
			/* Punch one page out of the middle: split, then merge back. */
			char *pg = base + (1 + xorshift(&rnd) % (slot_pages - 2)) * page_size;

			munmap(pg, page_size);
			if (fork_reuse_ms >= 0)
				reuse_fork();
			lost[slot] = remap(pg, page_size) != 0;
			atomic_fetch_add(&n_split, 1);
		} else {
			munmap(base, slot_len);
			if (fork_reuse_ms >= 0)
				reuse_fork();
			lost[slot] = remap(base, slot_len) != 0;
			/* With -f: let a faulter find the new VMA before it goes. */
			if (fork_reuse_ms >= 0)
				usleep(REUSE_SETTLE_US);
		}
		atomic_fetch_add(&n_churn, 1);
	}
	free(lost);
	return NULL;
}

/* The checks, one KTAP result each; judge() returns a mask of those that failed. */
enum { C_DATA, C_WRITES, C_RACE, C_VMALOCK, C_WORKERS, NCHECKS };
static const char *const check_name[NCHECKS] = {
	"data intact", "writes completed", "race exercised", "faults under the per-VMA lock",
	"worker processes exited cleanly",
};

/* Totals over all workers when processes are respawned (-r), in shared memory. */
struct totals {
	atomic_llong writes, zero, segv, corrupt, workers;
};

static int respawn_ms;
static struct totals *tot;

static int run(void);
static void work(double seconds);
static int judge(const char *who, long long writes, long long zero, long long segv,
		 long long corrupt, long long lock0, long long lock1);

/* worker_failed(status): 1 (with a message) unless a worker exited with 0..max */
static int worker_failed(int status, int max)
{
	if (WIFEXITED(status) && WEXITSTATUS(status) <= max)
		return 0;
	ktap_diag("a worker process failed (status %#x)", status);
	return 1;
}

/*
 * run_respawn(): keep nprocs short-lived workers alive for the duration,
 * each living respawn_ms and then replaced by a new process, so that VMAs
 * are created and destroyed by many mms at once. Judged on the totals.
 * Returns the mask of failed checks.
 */
static int run_respawn(void)
{
	long long lock0 = vmstat_read("vma_lock_success"), miss0 = vmstat_read("vma_lock_miss");
	double end = now() + duration;
	int alive = 0, failed = 0, status;
	uint64_t serial = 0;

	tot = mmap(NULL, sizeof(*tot), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (tot == MAP_FAILED)
		ksft_exit_fail_msg("mmap: %s\n", strerror(errno));
	for (;;) {
		while (alive < nprocs && now() < end) {
			pid_t pid = fork();

			if (pid < 0)
				break;
			if (pid == 0) {
				seed = seed_stream(seed, serial);
				work(respawn_ms / 1000.0);
				atomic_fetch_add(&tot->writes, n_writes);
				atomic_fetch_add(&tot->zero, n_zero);
				atomic_fetch_add(&tot->segv, n_segv);
				atomic_fetch_add(&tot->corrupt, n_corrupt);
				atomic_fetch_add(&tot->workers, 1);
				_exit(0);
			}
			serial++;
			alive++;
		}
		if (!alive)
			break;
		if (wait(&status) > 0) {
			alive--;
			if (worker_failed(status, 0))
				failed |= 1 << C_WORKERS;
		}
	}
	ktap_diag("%lld short-lived workers (%d at a time, %d ms each), vma_lock_miss +%lld",
		  (long long)tot->workers, nprocs, respawn_ms, vmstat_read("vma_lock_miss") - miss0);
	return failed | judge("totals", tot->writes, tot->zero, tot->segv, tot->corrupt, lock0,
			      vmstat_read("vma_lock_success"));
}

/*
 * run_procs(): run the workload in nprocs processes, each judging its own;
 * returns the mask of checks failed in any of them.
 */
static int run_procs(void)
{
	int failed = 0, status;

	for (int i = 0; i < nprocs; i++) {
		pid_t pid = fork();

		if (pid < 0)
			ksft_exit_fail_msg("fork: %s\n", strerror(errno));
		if (pid == 0) {
			seed = seed_stream(seed, i);
			_exit(run());
		}
	}
	for (int i = 0; i < nprocs; i++) {
		if (wait(&status) < 0 || worker_failed(status, (1 << C_WORKERS) - 1))
			failed |= 1 << C_WORKERS;
		else
			failed |= WEXITSTATUS(status);
	}
	return failed;
}

static int usage(void)
{
	fprintf(stderr, "usage: fault_munmap [-P procs [-r ms]] [-t faulters] [-d seconds] [-s slots]\n"
		"                    [-p pages] [-f ms] [--seed N] [--no-race]\n");
	return 2;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "no-race", no_argument, NULL, 'R' },
		{ "seed", required_argument, NULL, 'S' },
		{ NULL, 0, NULL, 0 },
	};
	int c, failed, workers;

	seed = seed_default();
	while ((c = getopt_long(argc, argv, "P:r:t:d:s:p:f:", longopts, NULL)) != -1) {
		switch (c) {
		case 'P': nprocs = atoi(optarg); break;
		case 'r': respawn_ms = atoi(optarg); break;
		case 't': nfaulters = atoi(optarg); break;
		case 'd': duration = atoi(optarg); break;
		case 's': nslots = atoi(optarg); break;
		case 'p': slot_pages = atoi(optarg); break;
		case 'f': fork_reuse_ms = atoi(optarg); break;
		case 'R': churn = 0; break;
		case 'S':
			if (parse_seed(optarg, &seed))
				return usage();
			break;
		default: return usage();
		}
	}
	if (optind < argc || nfaulters < 1 || nfaulters > MAX_FAULTERS || nslots < 1 ||
	    slot_pages < 3 || duration < 1 || nprocs < 1 || respawn_ms < 0 ||
	    (size_t)nslots * slot_pages < (size_t)nfaulters)
		return usage();
	workers = respawn_ms > 0 || nprocs > 1;
	ksft_print_header();
	ksft_set_plan(workers ? NCHECKS : NCHECKS - 1);
	ktap_diag("seed %llu", (unsigned long long)seed);
	if (respawn_ms > 0)
		failed = run_respawn();
	else if (nprocs > 1)
		failed = run_procs();
	else
		failed = run();
	for (int i = 0; i < (workers ? NCHECKS : NCHECKS - 1); i++)
		ksft_test_result(!(failed & 1 << i), "%s\n", check_name[i]);
	ksft_finished();
}

/* work(seconds): faulters and churner on a fresh region of this process */
static void work(double seconds)
{
	pthread_t th[MAX_FAULTERS + 1];
	double end;

	size_t len;

	page_size = sysconf(_SC_PAGESIZE);
	len = (size_t)nslots * slot_pages * page_size;
	/*
	 * With -f, PROT_NONE guard pages on both sides: a remapped slot then
	 * never merges into a neighbour, so each munmap frees exactly the
	 * VMA the remap before it allocated.
	 */
	region = mmap(NULL, len + 2 * page_size, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (region == MAP_FAILED) {
		ktap_diag("mmap: %s", strerror(errno));
		n_corrupt++;
		return;
	}
	if (fork_reuse_ms >= 0) {
		mprotect(region, page_size, PROT_NONE);
		mprotect(region + page_size + len, page_size, PROT_NONE);
	}
	region += page_size;
	probe_install();
	for (long i = 0; i < nfaulters; i++)
		pthread_create(&th[i], NULL, faulter, (void *)i);
	if (churn)
		pthread_create(&th[nfaulters], NULL, churner, NULL);
	end = now() + seconds;
	while (now() < end)
		usleep(seconds < 1 ? 10000 : 50000);
	atomic_store(&stop, 1);
	for (int i = 0; i < nfaulters + churn; i++)
		pthread_join(th[i], NULL);
}

/* judge(who, ...): the data and self-checks; returns the mask of failed checks */
static int judge(const char *who, long long writes, long long zero, long long segv,
		 long long corrupt, long long lock0, long long lock1)
{
	int failed = 0;

	if (corrupt) {
		ktap_diag("%s: %lld corrupted read-backs", who, corrupt);
		failed |= 1 << C_DATA;
	}
	if (writes == 0) {
		ktap_diag("%s: no write completed", who);
		failed |= 1 << C_WRITES;
	}
	if (zero + segv == 0) {
		ktap_diag("%s: race not exercised (no read-back met a replaced or unmapped slot)", who);
		failed |= 1 << C_RACE;
	}
	if (lock0 < 0) {
		ktap_diag("%s: /proc/vmstat has no vma_lock_success (need PER_VMA_LOCK_STATS)", who);
		failed |= 1 << C_VMALOCK;
	} else if (lock1 - lock0 <= 0) {
		ktap_diag("%s: no fault was served under the per-VMA lock", who);
		failed |= 1 << C_VMALOCK;
	}
	return failed;
}

/* run(): the workload in this process; returns the mask of failed checks */
static int run(void)
{
	long long lock0, lock1, retry0, retry1, abort0, abort1, miss0, miss1;
	char who[32];

	snprintf(who, sizeof(who), "pid %d", getpid());
	ktap_diag("%s: faulters %d, slots %d x %d pages, %d s, churn %s", who, nfaulters,
		  nslots, slot_pages, duration, churn ? "on" : "off");
	lock0 = vmstat_read("vma_lock_success");
	retry0 = vmstat_read("vma_lock_retry");
	abort0 = vmstat_read("vma_lock_abort");
	miss0 = vmstat_read("vma_lock_miss");
	work(duration);
	lock1 = vmstat_read("vma_lock_success");
	retry1 = vmstat_read("vma_lock_retry");
	abort1 = vmstat_read("vma_lock_abort");
	miss1 = vmstat_read("vma_lock_miss");

	ktap_diag("%s: writes %lld, read-back zero %lld, SIGSEGV %lld, corrupt %lld", who,
		  n_writes, n_zero, n_segv, n_corrupt);
	ktap_diag("%s: churns %lld (splits %lld), slots lost to other mappings %lld, reuse forks %lld",
		  who, n_churn, n_split, n_lost, n_forks);
	ktap_diag("%s: vma_lock_success +%lld, vma_lock_retry +%lld, vma_lock_abort +%lld, vma_lock_miss +%lld",
		  who, lock1 - lock0, retry1 - retry0, abort1 - abort0, miss1 - miss0);
	return judge(who, n_writes, n_zero, n_segv, n_corrupt, lock0, lock1);
}
