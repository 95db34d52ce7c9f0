/* SPDX-License-Identifier: GPL-2.0 */
/*
 * probe.h - memory accesses that may legally fault, for the race programs.
 *
 * A race program touches memory that another thread may unmap or protect
 * at any moment. PROBE(...) runs its statements with SIGSEGV caught: it
 * evaluates to 1 if they faulted (and were cut short), else 0. A SIGSEGV
 * outside a PROBE is a real bug and kills the program with a message.
 *
 * Use PROBE only inside a small noinline function whose locals are not
 * changed between the PROBE and a fault (sigsetjmp rules).
 *
 * Also the race programs' other small helpers: xorshift() and its seeds
 * (seed_default(), seed_stream(), parse_seed()), now().
 */
#ifndef GUEST_PROBE_H
#define GUEST_PROBE_H

#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static __thread sigjmp_buf probe_jmp;
static __thread volatile int probe_armed;

static void probe_on_segv(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)uc;
	if (!probe_armed) {
		signal(SIGSEGV, SIG_DFL);
		printf("# unexpected SIGSEGV at %p\n", si->si_addr);
		fflush(stdout);
		raise(SIGSEGV);
	}
	siglongjmp(probe_jmp, 1);
}

/* probe_install(): catch SIGSEGV for PROBE(); call once, before threads */
static inline void probe_install(void)
{
	struct sigaction sa = { 0 };

	sa.sa_sigaction = probe_on_segv;
	sa.sa_flags = SA_SIGINFO | SA_NODEFER;
	sigaction(SIGSEGV, &sa, NULL);
}

#define PROBE(...)						\
	({							\
		int __faulted = 0;				\
								\
		if (sigsetjmp(probe_jmp, 1)) {			\
			probe_armed = 0;			\
			__faulted = 1;				\
		} else {					\
			probe_armed = 1;			\
			__VA_ARGS__;				\
			probe_armed = 0;			\
		}						\
		__faulted;					\
	})

/* xorshift(&state): a cheap per-thread pseudo-random sequence */
static inline uint64_t xorshift(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/*
 * A run's random choices all derive from one seed, printed at the start
 * ("# seed N"): --seed N makes the same choices again (the threads'
 * interleaving is another matter). seed_default(): a fresh one per run.
 */
static inline uint64_t seed_default(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

/*
 * seed_stream(seed, n): the xorshift state of stream @n (a thread, a
 * process) of @seed: splitmix64, so that neighbouring streams differ in
 * every bit; never 0, where xorshift would stay.
 */
static inline uint64_t seed_stream(uint64_t seed, uint64_t n)
{
	uint64_t z = seed + 0x9e3779b97f4a7c15ULL * (n + 1);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	z ^= z >> 31;
	return z ? z : 1;
}

/* parse_seed("123", &seed): 0 if the string is a number, else -1 */
static inline int parse_seed(const char *s, uint64_t *seed)
{
	char *end;

	errno = 0;
	*seed = strtoull(s, &end, 0);
	return errno || end == s || *end ? -1 : 0;
}

/* now(): CLOCK_MONOTONIC in seconds */
static inline double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

#endif
