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
 */
#ifndef GUEST_PROBE_H
#define GUEST_PROBE_H

#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

static __thread sigjmp_buf probe_jmp;
static __thread volatile int probe_armed;

static void probe_on_segv(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)uc;
	if (!probe_armed) {
		signal(SIGSEGV, SIG_DFL);
		printf("    # unexpected SIGSEGV at %p\n", si->si_addr);
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

/* now(): CLOCK_MONOTONIC in seconds */
static inline double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

#endif
