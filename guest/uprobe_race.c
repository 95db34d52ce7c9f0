// SPDX-License-Identifier: GPL-2.0
/*
 * uprobe_race.c - uprobe hits against VMA changes in the same mm.
 *
 * Usage: uprobe_race [-t THREADS] [-n CALLS] [--no-race]
 *
 * Places a uprobe (tracefs uprobe_events) on probed(), a function of this
 * program. THREADS threads call it CALLS times each while another thread
 * maps, mprotects (splitting and merging) and unmaps anonymous memory in
 * the same mm, so that every hit's VMA lookup - speculative under RCU, or
 * under mmap_lock when speculation fails - runs against a writer of the
 * VMA tree. Checks:
 * - the hit count in uprobe_profile is exactly the number of calls (no hit
 *   lost, none counted twice);
 * - probed() still computes what it should (the probed instruction is
 *   executed out of line or emulated on every hit);
 * - the race happened: the writer completed operations while the hitters
 *   ran. --no-race switches the writer off, so the program must fail with
 *   "race not exercised" (a negative control).
 * Exit: 0 pass, 1 fail, 2 usage.
 */
#define _GNU_SOURCE
#include <getopt.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "ktap.h"
#include "uprobe.h"

#define EVENT "vmrc_race"

static long nthreads = 2, ncalls = 20000;
static int race = 1;
static atomic_int hitters_running, go;
static atomic_long writer_ops_during;

__attribute__((noinline)) int probed(int x)
{
	asm volatile("" ::: "memory");
	return x * 3 + 1;
}

static void *hitter(void *arg)
{
	long sum = 0, want = 0;

	(void)arg;
	while (!atomic_load(&go))
		;
	for (long i = 0; i < ncalls; i++) {
		sum += probed((int)(i & 1023));
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

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "no-race", no_argument, NULL, 'R' },
		{ NULL, 0, NULL, 0 },
	};
	pthread_t tid[16], wtid;
	long long hits, want;
	int c, ok = 1;

	while ((c = getopt_long(argc, argv, "t:n:", longopts, NULL)) != -1) {
		switch (c) {
		case 't': nthreads = atol(optarg); break;
		case 'n': ncalls = atol(optarg); break;
		case 'R': race = 0; break;
		default:
			fprintf(stderr, "usage: uprobe_race [-t THREADS] [-n CALLS] [--no-race]\n");
			return 2;
		}
	}
	if (nthreads < 1 || nthreads > 16 || ncalls < 1) {
		fprintf(stderr, "uprobe_race: -t must be 1..16, -n positive\n");
		return 2;
	}
	if (uprobe_add(EVENT, (void *)probed))
		return 1;
	if (uprobe_hits(EVENT) != 0) {
		ktap_diag("FAIL: new uprobe %s has hit count %lld, not 0", EVENT, uprobe_hits(EVENT));
		uprobe_del(EVENT);
		return 1;
	}
	atomic_store(&hitters_running, nthreads);
	for (long i = 0; i < nthreads; i++)
		pthread_create(&tid[i], NULL, hitter, NULL);
	if (race)
		pthread_create(&wtid, NULL, writer, NULL);
	atomic_store(&go, 1);
	for (long i = 0; i < nthreads; i++) {
		void *good;

		pthread_join(tid[i], &good);
		if (!good) {
			ktap_diag("FAIL: probed() returned wrong values in thread %ld", i);
			ok = 0;
		}
	}
	if (race)
		pthread_join(wtid, NULL);
	hits = uprobe_hits(EVENT);
	uprobe_del(EVENT);
	want = (long long)nthreads * ncalls;
	ktap_diag("uprobe hits %lld, calls %lld; writer operations during the hits: %ld",
		  hits, want, atomic_load(&writer_ops_during));
	if (hits != want) {
		ktap_diag("FAIL: uprobe_profile counts %lld hits for %lld calls", hits, want);
		ok = 0;
	}
	if (atomic_load(&writer_ops_during) < 10) {
		ktap_diag("FAIL: race not exercised (%ld writer operations while probes were hit)",
			  atomic_load(&writer_ops_during));
		ok = 0;
	}
	return ok ? 0 : 1;
}
