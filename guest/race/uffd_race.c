// SPDX-License-Identifier: GPL-2.0
/*
 * uffd_race.c - userfaultfd operations that read-lock VMAs, racing VMA
 * writers in the same mm.
 *
 * copy: a region is registered for missing-page faults. Faulter threads
 *       read its pages; a handler thread resolves each fault with
 *       UFFDIO_COPY (uffd_mfill_lock(): the per-VMA lock, or mmap_lock and
 *       vma_start_read_locked()), filling page i with pattern(i). A mutator
 *       zaps ranges (MADV_DONTNEED: missing again) and unmaps and remaps
 *       (and re-registers) sub-ranges. A read must return pattern(i) or
 *       fault (SIGSEGV while unmapped); anything else is corruption.
 * move: two registered regions A and B; a mover thread ping-pongs every
 *       page between them with UFFDIO_MOVE (uffd_move_lock(): both VMAs
 *       read-locked) while a mutator toggles mprotect on sub-ranges of A
 *       and B (VMA splits and merges, write locks).
 * move-mremap: move, and the mutator also moves sub-ranges away and back
 *       with mremap (re-registering them). On 6.12.117 this soft-locks the
 *       unpatched base as well (mremap spins in move_page_tables() on a page
 *       table lock): a reproducer, not part of the gating stress plan. Moves may fail with
 *       EAGAIN/EBUSY/ENOENT, or EINVAL while the mutator has made the two
 *       protections differ, and are retried. At the end every page must be
 *       in exactly one of A and B, holding pattern(i).
 *
 * Self-check: the uffd operations ran (copies or moves done), and the
 * mutator changed the VMAs and the races showed (copy: faults that met an
 * unmapped range or copies that failed on a changed VMA; move: moves that
 * had to be retried); else "race not exercised". --no-race: no mutator,
 * which must fail the "race exercised" check.
 *
 * Output: KTAP (kselftest.h), one result per check: "data intact", "uffd
 * operations done", "race exercised".
 *
 * Usage: uffd_race copy|move|move-mremap [-d seconds] [--seed N] [--no-race]
 * The seed of the readers' random choices is printed at the start.
 * Exit: 0 every check passed, 1 a check failed, 2 usage.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "ktap.h"
#include "probe.h"

/* At most this many corruption reports are printed (all are counted). */
static int report_budget = 10;

#define NPAGES	32

static int duration = 3, race = 1, uffd, with_mremap;
static uint64_t seed;
static size_t pg;
static char *A, *B, *src, *parking;
static atomic_int stop, handler_stop;
static atomic_llong n_ops, n_retry, n_segv, n_corrupt, n_mut, n_reads;

static uint64_t pattern(size_t i)
{
	return 0x5eed000000000000ULL | i;
}

static int reg(char *p, size_t len)
{
	struct uffdio_register r = {
		.range = { .start = (unsigned long)p, .len = len },
		.mode = UFFDIO_REGISTER_MODE_MISSING,
	};

	return ioctl(uffd, UFFDIO_REGISTER, &r);
}

/* copy mode: resolve missing faults with UFFDIO_COPY of pattern(i) */
static void *handler(void *arg)
{
	struct pollfd pfd = { .fd = uffd, .events = POLLIN };
	struct uffd_msg msg;

	/*
	 * Runs until the readers are gone (handler_stop), not just until
	 * stop: a reader may still be blocked in a fault only we resolve.
	 */
	(void)arg;
	while (!atomic_load(&handler_stop)) {
		if (poll(&pfd, 1, 100) <= 0)
			continue;
		if (read(uffd, &msg, sizeof(msg)) != sizeof(msg) || msg.event != UFFD_EVENT_PAGEFAULT)
			continue;
		unsigned long addr = msg.arg.pagefault.address & ~(pg - 1);
		size_t i = (addr - (unsigned long)A) / pg;
		struct uffdio_copy c = {
			.dst = addr, .src = (unsigned long)src + i * pg, .len = pg,
		};

		if (ioctl(uffd, UFFDIO_COPY, &c) == 0) {
			atomic_fetch_add(&n_ops, 1);
		} else if (errno == EEXIST) {
			/* Someone else filled it meanwhile: fine. */
		} else {
			/* The VMA changed under us (unmapped, remapped): wake the faulter. */
			struct uffdio_range w = { .start = addr, .len = pg };

			atomic_fetch_add(&n_retry, 1);
			ioctl(uffd, UFFDIO_WAKE, &w);
		}
	}
	return NULL;
}

static int __attribute__((noinline)) probe(volatile uint64_t *p, uint64_t *got)
{
	return PROBE(*got = *p);
}

static void *reader(void *arg)
{
	uint64_t rnd = seed_stream(seed, (long)arg), got;

	while (!atomic_load(&stop)) {
		size_t i = xorshift(&rnd) % NPAGES;

		if (probe((volatile uint64_t *)(A + i * pg), &got)) {
			atomic_fetch_add(&n_segv, 1);
			continue;
		}
		atomic_fetch_add(&n_reads, 1);
		if (got != pattern(i)) {
			atomic_fetch_add(&n_corrupt, 1);
			ktap_diag_limited(&report_budget, "CORRUPT page %zu: read %#llx", i, (unsigned long long)got);
		}
	}
	return NULL;
}

static void *copy_mutator(void *arg)
{
	uint64_t n = 0;

	(void)arg;
	while (!atomic_load(&stop)) {
		size_t i = (n * 7) % NPAGES, len = (1 + n % 4) * pg;
		char *p = A + i * pg;

		if (i * pg + len > NPAGES * pg)
			len = NPAGES * pg - i * pg;
		if (n++ & 1) {
			madvise(p, len, MADV_DONTNEED);
		} else {
			/*
			 * Inaccessible until registered again: a reader must
			 * never see an unregistered (zero) page in the region.
			 */
			munmap(p, len);
			if (mmap(p, len, PROT_NONE,
				 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0) != p ||
			    reg(p, len) || mprotect(p, len, PROT_READ | PROT_WRITE)) {
				ktap_diag("FAIL: cannot map and register the range again: %s",
					  strerror(errno));
				atomic_fetch_add(&n_corrupt, 1);
				atomic_store(&stop, 1);
			}
		}
		atomic_fetch_add(&n_mut, 1);
	}
	return NULL;
}

/* move mode: ping-pong each page between A and B */
static void *mover(void *arg)
{
	int where[NPAGES] = { 0 };	/* 0: in A, 1: in B */

	(void)arg;
	while (!atomic_load(&stop)) {
		for (size_t i = 0; i < NPAGES && !atomic_load(&stop); i++) {
			char *from = (where[i] ? B : A) + i * pg, *to = (where[i] ? A : B) + i * pg;
			struct uffdio_move m = {
				.dst = (unsigned long)to, .src = (unsigned long)from, .len = pg,
			};

			if (ioctl(uffd, UFFDIO_MOVE, &m) == 0) {
				where[i] ^= 1;
				atomic_fetch_add(&n_ops, 1);
			} else if (errno == EAGAIN || errno == EBUSY || errno == ENOENT ||
				   (errno == EINVAL && race)) {
				/* EINVAL: the mutator made the protections differ. */
				atomic_fetch_add(&n_retry, 1);
			} else {
				ktap_diag("FAIL: UFFDIO_MOVE page %zu: %s", i, strerror(errno));
				atomic_fetch_add(&n_corrupt, 1);
				atomic_store(&stop, 1);
			}
		}
	}
	return NULL;
}

static void *move_mutator(void *arg)
{
	uint64_t n = 0;

	(void)arg;
	while (!atomic_load(&stop)) {
		char *base = (n & 1) ? B : A;
		size_t i = (n * 5) % (NPAGES - 2);
		char *p = base + i * pg;

		if (!with_mremap || n % 4 < 2) {
			mprotect(p, 2 * pg, PROT_READ);
			mprotect(p, 2 * pg, PROT_READ | PROT_WRITE);
		} else if (mremap(p, 2 * pg, 2 * pg, MREMAP_MAYMOVE | MREMAP_FIXED, parking) == parking) {
			/*
			 * Away and back: the pages travel with the VMA. Without
			 * UFFD_FEATURE_EVENT_REMAP the moved VMA loses its
			 * registration: register it again.
			 */
			if (mremap(parking, 2 * pg, 2 * pg, MREMAP_MAYMOVE | MREMAP_FIXED, p) != p ||
			    reg(p, 2 * pg)) {
				ktap_diag("FAIL: cannot move the range back and register it: %s",
					  strerror(errno));
				atomic_fetch_add(&n_corrupt, 1);
				atomic_store(&stop, 1);
			}
		}
		n++;
		atomic_fetch_add(&n_mut, 1);
	}
	return NULL;
}

static int usage(void)
{
	fprintf(stderr, "usage: uffd_race copy|move|move-mremap [-d seconds] [--seed N] [--no-race]\n");
	return 2;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "no-race", no_argument, NULL, 'R' },
		{ "seed", required_argument, NULL, 'S' },
		{ NULL, 0, NULL, 0 },
	};
	const char *mode = NULL;
	struct uffdio_api api = { .api = UFFD_API };
	pthread_t t[4];
	int c, nt = 0, move;
	struct timespec ts;

	seed = seed_default();
	while ((c = getopt_long(argc, argv, "d:", longopts, NULL)) != -1) {
		switch (c) {
		case 'd': duration = atoi(optarg); break;
		case 'R': race = 0; break;
		case 'S':
			if (parse_seed(optarg, &seed))
				return usage();
			break;
		default: return usage();
		}
	}
	if (optind == argc - 1 && (!strcmp(argv[optind], "copy") || !strcmp(argv[optind], "move") ||
				   !strcmp(argv[optind], "move-mremap")))
		mode = argv[optind];
	if (!mode || duration < 1)
		return usage();
	ksft_print_header();
	ksft_set_plan(3);
	ktap_diag("seed %llu", (unsigned long long)seed);
	with_mremap = !strcmp(mode, "move-mremap");
	move = with_mremap || !strcmp(mode, "move");
	pg = sysconf(_SC_PAGESIZE);
	uffd = syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (uffd < 0)
		ksft_exit_fail_msg("userfaultfd: %s (CONFIG_USERFAULTFD)\n", strerror(errno));
	if (move)
		api.features = UFFD_FEATURE_MOVE;
	if (ioctl(uffd, UFFDIO_API, &api))
		ksft_exit_fail_msg("UFFDIO_API (features %#llx): %s\n",
				   (unsigned long long)api.features, strerror(errno));
	A = mmap(NULL, NPAGES * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	B = mmap(NULL, NPAGES * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	src = mmap(NULL, NPAGES * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	parking = mmap(NULL, 2 * pg, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (A == MAP_FAILED || B == MAP_FAILED || src == MAP_FAILED || parking == MAP_FAILED)
		ksft_exit_fail_msg("mmap: %s\n", strerror(errno));
	for (size_t i = 0; i < NPAGES; i++) {
		for (size_t w = 0; w < pg / 8; w++)
			((uint64_t *)(src + i * pg))[w] = pattern(i);
	}
	probe_install();
	if (move) {
		/* The pages start in A (populated), B is empty; both registered. */
		memcpy(A, src, NPAGES * pg);
		if (reg(A, NPAGES * pg) || reg(B, NPAGES * pg))
			ksft_exit_fail_msg("UFFDIO_REGISTER: %s\n", strerror(errno));
		pthread_create(&t[nt++], NULL, mover, NULL);
		if (race)
			pthread_create(&t[nt++], NULL, move_mutator, NULL);
	} else {
		if (reg(A, NPAGES * pg))
			ksft_exit_fail_msg("UFFDIO_REGISTER: %s\n", strerror(errno));
		pthread_create(&t[nt++], NULL, handler, NULL);
		pthread_create(&t[nt++], NULL, reader, (void *)1);
		pthread_create(&t[nt++], NULL, reader, (void *)2);
		if (race)
			pthread_create(&t[nt++], NULL, copy_mutator, NULL);
	}
	ts.tv_sec = duration;
	ts.tv_nsec = 0;
	nanosleep(&ts, NULL);
	atomic_store(&stop, 1);
	/* t[0] is the handler (copy) or the mover (move): it goes last. */
	for (int i = 1; i < nt; i++)
		pthread_join(t[i], NULL);
	atomic_store(&handler_stop, 1);
	pthread_join(t[0], NULL);

	if (move) {
		struct uffdio_range r = { .start = (unsigned long)A, .len = NPAGES * pg };

		/* Unregistered, a missing page reads as zero instead of faulting. */
		ioctl(uffd, UFFDIO_UNREGISTER, &r);
		r.start = (unsigned long)B;
		ioctl(uffd, UFFDIO_UNREGISTER, &r);
		for (size_t i = 0; i < NPAGES; i++) {
			uint64_t a = *(uint64_t *)(A + i * pg), b = *(uint64_t *)(B + i * pg);

			if (!((a == pattern(i) && b == 0) || (a == 0 && b == pattern(i)))) {
				ktap_diag_limited(&report_budget, "CORRUPT page %zu: A %#llx B %#llx", i,
					  (unsigned long long)a, (unsigned long long)b);
				n_corrupt++;
			}
		}
	}
	ktap_diag("%s: uffd operations %lld, failed/retried %lld, reads %lld, SIGSEGV %lld, mutations %lld, corrupt %lld",
		  mode, n_ops, n_retry, n_reads, n_segv, n_mut, n_corrupt);
	ktap_check(!n_corrupt, "data intact", "%lld corrupted results", n_corrupt);
	ktap_check(n_ops > 0, "uffd operations done", "no %s succeeded", move ? "UFFDIO_MOVE" : "UFFDIO_COPY");
	ktap_check(n_mut && (move ? n_retry : n_segv + n_retry), "race exercised",
		   "race not exercised (mutations %lld, %s %lld)", n_mut,
		   move ? "retried moves" : "faults/copies that met a changed VMA",
		   move ? n_retry : n_segv + n_retry);
	ksft_finished();
}
