// SPDX-License-Identifier: GPL-2.0
/*
 * vma_failslab.c - VMA churn and page faults while VMA allocations fail.
 *
 * Race hunted: the error paths of VMA creation, split, merge, mremap and
 * fork (a vm_area_struct or maple tree node allocation failing half-way)
 * racing lockless page faults: a VMA attached twice or never, freed while
 * attached, leaked, or a fault that sees a half-built VMA.
 *
 * failslab is restricted to the vm_area_struct and maple_node caches
 * (cache-filter; needs slab_nomerge) and to the churning threads
 * (task-filter, /proc/<tid>/make-it-fail), with verbose output off so that
 * only real kernel warnings reach the console. The churn runs in a child
 * process; faulter threads in it check their data as in fault_munmap.
 *
 * Checks, one KTAP result each (kselftest.h): "churning child exited
 * cleanly"; "data intact"; "race exercised": some allocations really
 * failed (ENOMEM seen), else "race not exercised"; "faults under the
 * per-VMA lock"; and "no vm_area_struct leaked": once the child has
 * exited, the number of vm_area_struct objects in use (after flushing the
 * per-CPU slabs through /sys/kernel/slab/.../shrink) is back where it
 * started. --no-race leaves injection off: it must fail the "race
 * exercised" check.
 *
 * Usage: vma_failslab [-d seconds] [-p probability%] [--seed N] [--no-race]
 * The seed of the threads' random choices is printed at the start.
 * Exit: 0 every check passed, 1 a check failed (or failslab is not
 * usable), 2 usage.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
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
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ktap.h"
#include "probe.h"

/* At most this many corruption reports are printed (all are counted). */
static int report_budget = 10;

#define NPAGES		64
#define NFAULTERS	2
#define FS		"/sys/kernel/debug/failslab/"

static int duration = 3, probability = 5, inject = 1;
static uint64_t seed;
static size_t pg;
static char *region;
static atomic_int stop;
static atomic_llong n_ops, n_enomem, n_corrupt, n_writes, n_segv;

/* What the churning child found, in memory it shares with the parent. */
struct result {
	long long enomem, corrupt, locked;	/* locked: vma_lock_success delta */
};
static struct result *res;

/* put(path, value): write a string to a sysfs/debugfs/procfs file; 0 or -1 */
static int put(const char *path, const char *value)
{
	int fd = open(path, O_WRONLY), ret = -1;

	if (fd >= 0) {
		ret = write(fd, value, strlen(value)) == (ssize_t)strlen(value) ? 0 : -1;
		close(fd);
	}
	if (ret)
		ktap_diag("cannot write '%s' to %s: %s", value, path, strerror(errno));
	return ret;
}

/* injection_off(): no more failures, for anyone (also at exit) */
static void injection_off(void)
{
	put(FS "probability", "0");
	put("/sys/kernel/slab/vm_area_struct/failslab", "0");
	put("/sys/kernel/slab/maple_node/failslab", "0");
}

/* vma_objects(): vm_area_struct objects in use, per-CPU slabs flushed */
static long long vma_objects(void)
{
	put("/sys/kernel/slab/vm_area_struct/shrink", "1");
	return slab_attr("vm_area_struct", "objects");
}

/* Let failslab fail allocations of the calling thread. */
static void make_me_fail(void)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/self/task/%ld/make-it-fail", (long)syscall(SYS_gettid));
	put(path, inject ? "1" : "0");
}

static int __attribute__((noinline)) probe(volatile uint64_t *p, uint64_t tag, uint64_t *got)
{
	return PROBE(*p = tag, *got = *p);
}

/* Faulters do not fail allocations themselves: they check the data. */
static void *faulter(void *arg)
{
	long id = (long)arg;
	uint64_t rnd = seed_stream(seed, id), seq = 0, got;

	while (!atomic_load(&stop)) {
		size_t page = xorshift(&rnd) % (NPAGES / NFAULTERS) * NFAULTERS + id;
		uint64_t tag = ((uint64_t)(id + 1) << 48) | ++seq;

		if (probe((volatile uint64_t *)(region + page * pg), tag, &got)) {
			atomic_fetch_add(&n_segv, 1);
			continue;
		}
		atomic_fetch_add(&n_writes, 1);
		if (got != tag && got != 0) {
			atomic_fetch_add(&n_corrupt, 1);
			ktap_diag_limited(&report_budget, "CORRUPT page %zu: wrote %#llx read %#llx", page,
				  (unsigned long long)tag, (unsigned long long)got);
		}
	}
	return NULL;
}

static void count(long ret)
{
	atomic_fetch_add(&n_ops, 1);
	if (ret < 0 && errno == ENOMEM)
		atomic_fetch_add(&n_enomem, 1);
}

/* The churn: every operation here allocates VMAs or maple nodes. */
static void *churner(void *arg)
{
	uint64_t rnd = seed_stream(seed, NFAULTERS);

	(void)arg;
	make_me_fail();
	while (!atomic_load(&stop)) {
		size_t a = xorshift(&rnd) % NPAGES, n = 1 + xorshift(&rnd) % (NPAGES - a);
		char *p = region + a * pg;
		void *m;
		pid_t pid;

		switch (xorshift(&rnd) % 5) {
		case 0:	/* split and merge */
			count(mprotect(p, n * pg, PROT_READ));
			count(mprotect(p, n * pg, PROT_READ | PROT_WRITE));
			break;
		case 1:	/* replace a range */
			m = mmap(p, n * pg, PROT_READ | PROT_WRITE,
				 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
			count(m == MAP_FAILED ? -1 : 0);
			break;
		case 2:	/* new mappings elsewhere */
			m = mmap(NULL, 4 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
			count(m == MAP_FAILED ? -1 : 0);
			if (m != MAP_FAILED) {
				count(mprotect(m, pg, PROT_READ));
				munmap(m, 4 * pg);
			}
			break;
		case 3:	/* punch a hole, fill it again */
			count(munmap(p, pg));
			m = mmap(p, pg, PROT_READ | PROT_WRITE,
				 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
			count(m == MAP_FAILED ? -1 : 0);
			break;
		default: /* fork: dup_mmap() copies every VMA */
			pid = fork();
			count(pid < 0 ? -1 : 0);
			if (pid == 0)
				_exit(0);
			if (pid > 0)
				waitpid(pid, NULL, 0);
			break;
		}
	}
	return NULL;
}

/*
 * The workload, in a child process, so that all its VMAs go at exit; what
 * it found goes to *res. Exits 0 unless it could not run.
 */
static int child(void)
{
	pthread_t f[NFAULTERS], c;
	long long lock0 = vmstat_read("vma_lock_success");
	struct timespec ts = { .tv_sec = duration };

	probe_install();
	region = mmap(NULL, NPAGES * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (region == MAP_FAILED) {
		ktap_diag("child: mmap: %s", strerror(errno));
		return 1;
	}
	for (long i = 0; i < NFAULTERS; i++)
		pthread_create(&f[i], NULL, faulter, (void *)i);
	pthread_create(&c, NULL, churner, NULL);
	nanosleep(&ts, NULL);
	atomic_store(&stop, 1);
	for (int i = 0; i < NFAULTERS; i++)
		pthread_join(f[i], NULL);
	pthread_join(c, NULL);
	res->enomem = n_enomem;
	res->corrupt = n_corrupt;
	res->locked = lock0 < 0 ? 0 : vmstat_read("vma_lock_success") - lock0;
	ktap_diag("child: operations %lld, ENOMEM %lld, writes %lld, SIGSEGV %lld, corrupt %lld, vma_lock_success +%lld",
		  n_ops, res->enomem, n_writes, n_segv, res->corrupt, res->locked);
	return 0;
}

static int usage(void)
{
	fprintf(stderr, "usage: vma_failslab [-d seconds] [-p probability%%] [--seed N] [--no-race]\n");
	return 2;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "no-race", no_argument, NULL, 'R' },
		{ "seed", required_argument, NULL, 'S' },
		{ NULL, 0, NULL, 0 },
	};
	long long before, after;
	char prob[16];
	int c, status;
	pid_t pid;

	seed = seed_default();
	while ((c = getopt_long(argc, argv, "d:p:", longopts, NULL)) != -1) {
		switch (c) {
		case 'd': duration = atoi(optarg); break;
		case 'p': probability = atoi(optarg); break;
		case 'R': inject = 0; break;
		case 'S':
			if (parse_seed(optarg, &seed))
				return usage();
			break;
		default: return usage();
		}
	}
	if (optind < argc || duration < 1 || probability < 0 || probability > 100)
		return usage();
	ksft_print_header();
	ksft_set_plan(5);
	ktap_diag("seed %llu, injection %s", (unsigned long long)seed, inject ? "on" : "off");
	pg = sysconf(_SC_PAGESIZE);
	res = mmap(NULL, sizeof(*res), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (res == MAP_FAILED)
		ksft_exit_fail_msg("mmap: %s\n", strerror(errno));
	snprintf(prob, sizeof(prob), "%d", probability);
	/*
	 * Filters first, probability last: with a probability and no filter
	 * yet, every slab allocation in the system may fail, including the
	 * ones that writing the next setting needs. And never leave it on.
	 */
	atexit(injection_off);
	if (put(FS "task-filter", "Y") || put(FS "cache-filter", "Y") ||
	    put("/sys/kernel/slab/vm_area_struct/failslab", "1") ||
	    put("/sys/kernel/slab/maple_node/failslab", "1") ||
	    put(FS "verbose", "0") || put(FS "ignore-gfp-wait", "N") ||
	    put(FS "times", "-1") || put(FS "interval", "1") || put(FS "probability", prob))
		ksft_exit_fail_msg("failslab is not usable (CONFIG_FAILSLAB, FAULT_INJECTION_DEBUG_FS, slab_nomerge)\n");
	before = vma_objects();
	pid = fork();
	if (pid == 0)
		_exit(child());
	if (pid < 0 || waitpid(pid, &status, 0) != pid)
		ksft_exit_fail_msg("fork/waitpid: %s\n", strerror(errno));
	injection_off();
	after = vma_objects();
	/*
	 * A kernel that frees VMAs through call_rcu() (the unpatched base)
	 * still holds some for a grace period: give it up to 10 s to come
	 * back down before calling it a leak.
	 */
	for (int i = 0; i < 100 && after > before; i++) {
		usleep(100000);
		after = vma_objects();
	}
	ktap_diag("vm_area_struct objects in use: before %lld, after %lld", before, after);
	ktap_check(WIFEXITED(status) && !WEXITSTATUS(status), "churning child exited cleanly",
		   "the churning child failed (status %#x)", status);
	ktap_check(!res->corrupt, "data intact", "%lld corrupted read-backs", res->corrupt);
	ktap_check(res->enomem > 0, "race exercised",
		   "race not exercised: no operation failed with ENOMEM");
	ktap_check(res->locked > 0, "faults under the per-VMA lock",
		   "no fault was served under the per-VMA lock");
	if (before < 0 || after < 0)
		ktap_check(0, "no vm_area_struct leaked",
			   "cannot count vm_area_struct objects (CONFIG_SLUB_DEBUG)");
	else
		ktap_check(after <= before, "no vm_area_struct leaked",
			   "%lld vm_area_struct objects leaked", after - before);
	ksft_finished();
}
