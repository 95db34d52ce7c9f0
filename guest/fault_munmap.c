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
 * replaced or unmapped slot) and that faults were served under the per-VMA
 * lock (vma_lock_success in /proc/vmstat grew); otherwise it fails with
 * "race not exercised". --no-churn turns the churner off: the negative
 * control, which must fail that check.
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
 * Usage: fault_munmap [-P procs [-r ms]] [-t faulters] [-d seconds]
 *                     [-s slots] [-p pages] [-f ms] [--no-churn]
 */
#define _GNU_SOURCE
#include <errno.h>
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
	uint64_t seed = 0x9e3779b97f4a7c15ULL * (id + 1), seq = 0;
	size_t npages = (size_t)nslots * slot_pages;

	while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
		/* Pages id, id + nfaulters, ... belong to this thread. */
		size_t page = xorshift(&seed) % (npages / nfaulters) * nfaulters + id;
		size_t off = (xorshift(&seed) % (page_size / 8)) * 8;
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
	uint64_t seed = 12345;
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
		size_t slot = xorshift(&seed) % nslots;
		char *base = region + slot * slot_len;

		if (lost[slot])
			continue;
		/*
		 * With -f, whole slots only: the VMA a munmap frees is then the
		 * one the last remap allocated, still in the CPU's current slab,
		 * which hands it out again first - to the forked child.
		 */
		if (fork_reuse_ms < 0 && xorshift(&seed) % 4 == 0) {
			/* Punch one page out of the middle: split, then merge back. */
			char *pg = base + (1 + xorshift(&seed) % (slot_pages - 2)) * page_size;

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

/* Totals over all workers when processes are respawned (-r), in shared memory. */
struct totals {
	atomic_llong writes, zero, segv, corrupt, workers;
};

static int respawn_ms;
static struct totals *tot;

static int run(void);
static void work(double seconds);
static int judge(long long writes, long long zero, long long segv, long long corrupt,
		 long long lock0, long long lock1);

/*
 * run_respawn(): keep nprocs short-lived workers alive for the duration,
 * each living respawn_ms and then replaced by a new process, so that VMAs
 * are created and destroyed by many mms at once. Judged on the totals.
 */
static int run_respawn(void)
{
	long long lock0 = vmstat_read("vma_lock_success"), miss0 = vmstat_read("vma_lock_miss");
	double end = now() + duration;
	int alive = 0, failed = 0, status;

	tot = mmap(NULL, sizeof(*tot), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (tot == MAP_FAILED)
		return 1;
	for (;;) {
		while (alive < nprocs && now() < end) {
			pid_t pid = fork();

			if (pid < 0)
				break;
			if (pid == 0) {
				work(respawn_ms / 1000.0);
				atomic_fetch_add(&tot->writes, n_writes);
				atomic_fetch_add(&tot->zero, n_zero);
				atomic_fetch_add(&tot->segv, n_segv);
				atomic_fetch_add(&tot->corrupt, n_corrupt);
				atomic_fetch_add(&tot->workers, 1);
				_exit(n_corrupt ? 1 : 0);
			}
			alive++;
		}
		if (!alive)
			break;
		if (wait(&status) > 0) {
			alive--;
			if (!WIFEXITED(status) || WEXITSTATUS(status))
				failed = 1;
		}
	}
	ktap_diag("%lld short-lived workers (%d at a time, %d ms each), vma_lock_miss +%lld",
		  (long long)tot->workers, nprocs, respawn_ms, vmstat_read("vma_lock_miss") - miss0);
	if (failed)
		ktap_diag("FAIL: a worker process failed");
	return judge(tot->writes, tot->zero, tot->segv, tot->corrupt, lock0,
		     vmstat_read("vma_lock_success")) || failed;
}


/* run_procs(): run the workload in nprocs processes; 0 if all passed */
static int run_procs(void)
{
	int failed = 0, status;

	for (int i = 0; i < nprocs; i++) {
		pid_t pid = fork();

		if (pid < 0) {
			ktap_diag("fork: %s", strerror(errno));
			return 1;
		}
		if (pid == 0)
			_exit(run());
	}
	for (int i = 0; i < nprocs; i++) {
		if (wait(&status) < 0 || !WIFEXITED(status) || WEXITSTATUS(status)) {
			ktap_diag("FAIL: a worker process failed (status %#x)", status);
			failed = 1;
		}
	}
	return failed;
}

int main(int argc, char **argv)
{

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--no-churn"))
			churn = 0;
		else if (!strcmp(argv[i], "-f") && i + 1 < argc)
			fork_reuse_ms = atoi(argv[++i]);
		else if (!strcmp(argv[i], "-t") && i + 1 < argc)
			nfaulters = atoi(argv[++i]);
		else if (!strcmp(argv[i], "-P") && i + 1 < argc)
			nprocs = atoi(argv[++i]);
		else if (!strcmp(argv[i], "-r") && i + 1 < argc)
			respawn_ms = atoi(argv[++i]);
		else if (!strcmp(argv[i], "-d") && i + 1 < argc)
			duration = atoi(argv[++i]);
		else if (!strcmp(argv[i], "-s") && i + 1 < argc)
			nslots = atoi(argv[++i]);
		else if (!strcmp(argv[i], "-p") && i + 1 < argc)
			slot_pages = atoi(argv[++i]);
		else {
			ktap_diag("usage: %s [-P procs [-r ms]] [-t faulters] [-d seconds] [-s slots] [-p pages] [-f ms] [--no-churn]",
				  argv[0]);
			return 2;
		}
	}
	if (nfaulters < 1 || nfaulters > MAX_FAULTERS || nslots < 1 || slot_pages < 3 ||
	    duration < 1 || nprocs < 1 || (size_t)nslots * slot_pages < (size_t)nfaulters) {
		ktap_diag("bad parameters");
		return 2;
	}
	if (respawn_ms > 0)
		return run_respawn();
	if (nprocs > 1)
		return run_procs();
	return run();
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

/* judge(...): the data and self-checks; 0 if all passed */
static int judge(long long writes, long long zero, long long segv, long long corrupt,
		 long long lock0, long long lock1)
{
	int ok = 1;

	if (corrupt) {
		ktap_diag("FAIL: %lld corrupted read-backs", corrupt);
		ok = 0;
	}
	if (writes == 0) {
		ktap_diag("FAIL: no write completed");
		ok = 0;
	}
	if (zero + segv == 0) {
		ktap_diag("FAIL: race not exercised (no read-back met a replaced or unmapped slot)");
		ok = 0;
	}
	if (lock0 < 0) {
		ktap_diag("FAIL: race not exercised: /proc/vmstat has no vma_lock_success (need PER_VMA_LOCK_STATS)");
		ok = 0;
	} else if (lock1 - lock0 <= 0) {
		ktap_diag("FAIL: race not exercised: no fault was served under the per-VMA lock");
		ok = 0;
	}
	return ok ? 0 : 1;
}

/* run(): the workload in this process; 0 on success */
static int run(void)
{
	long long lock0, lock1, retry0, retry1, abort0, abort1, miss0, miss1;

	ktap_diag("pid %d: faulters %d, slots %d x %d pages, %d s, churn %s", getpid(), nfaulters,
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

	ktap_diag("writes %lld, read-back zero %lld, SIGSEGV %lld, corrupt %lld",
		  n_writes, n_zero, n_segv, n_corrupt);
	ktap_diag("churns %lld (splits %lld), slots lost to other mappings %lld, reuse forks %lld",
		  n_churn, n_split, n_lost, n_forks);
	ktap_diag("vma_lock_success +%lld, vma_lock_retry +%lld, vma_lock_abort +%lld, vma_lock_miss +%lld",
		  lock1 - lock0, retry1 - retry0, abort1 - abort0, miss1 - miss0);
	return judge(n_writes, n_zero, n_segv, n_corrupt, lock0, lock1);
}
