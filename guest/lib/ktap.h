/* SPDX-License-Identifier: GPL-2.0 */
/*
 * ktap.h - tiny helpers for guest test programs.
 *
 * A guest program runs as one top-level test of the init's KTAP plan; init
 * indents what it prints (stdout and stderr) as a nested subtest of that
 * test's result line. The race programs print KTAP of their own through the
 * kernel's tools/testing/selftests/kselftest.h: a header, a plan, one result
 * per check (ktap_check() below) and the kselftest exit code, which is what
 * init judges: KSFT_PASS (0) ok, KSFT_SKIP (4) SKIP, anything else (or a
 * signal) not ok.
 */
#ifndef GUEST_KTAP_H
#define GUEST_KTAP_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kselftest.h"

/* ktap_vdiag(fmt, ap): ktap_diag() with a va_list */
static inline void ktap_vdiag(const char *fmt, va_list ap)
{
	/* One line even when threads report at once. */
	flockfile(stdout);
	fputs("# ", stdout);
	vfprintf(stdout, fmt, ap);
	fputc('\n', stdout);
	fflush(stdout);
	funlockfile(stdout);
}

/*
 * ktap_diag("fmt", ...): one "# ..." diagnostic line (ksft_print_msg()'s
 * format, newline added), flushed at once, safe from any thread.
 */
static inline void __attribute__((format(printf, 1, 2))) ktap_diag(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	ktap_vdiag(fmt, ap);
	va_end(ap);
}

/*
 * ktap_diag_limited(&budget, "fmt", ...): like ktap_diag() while *budget
 * lasts (thread-safe enough for diagnostics), so that a flood of identical
 * failures does not drown the log; the caller still counts every one.
 */
#define ktap_diag_limited(budget, ...)						\
	do {									\
		if (__atomic_sub_fetch((budget), 1, __ATOMIC_RELAXED) >= 0)	\
			ktap_diag(__VA_ARGS__);					\
	} while (0)

/*
 * ktap_check(ok, "race exercised", "race not exercised: %s", ...): one KTAP
 * result named after the check, "ok" if @ok; otherwise the reason (the
 * format and its arguments) comes first, as a diagnostic line.
 */
static inline void __attribute__((format(printf, 3, 4)))
ktap_check(int ok, const char *name, const char *why, ...)
{
	va_list ap;

	if (!ok) {
		va_start(ap, why);
		ktap_vdiag(why, ap);
		va_end(ap);
	}
	ksft_test_result(ok, "%s\n", name);
}

/*
 * vmstat_read("vma_lock_success"): value of one /proc/vmstat counter, or -1
 * when the kernel does not have it.
 */
static inline long long vmstat_read(const char *name)
{
	char key[128];
	long long val;
	long long ret = -1;
	FILE *f = fopen("/proc/vmstat", "r");

	if (!f)
		return -1;
	while (fscanf(f, "%127s %lld", key, &val) == 2) {
		if (!strcmp(key, name)) {
			ret = val;
			break;
		}
	}
	fclose(f);
	return ret;
}

/*
 * vmstat_print_delta(name, before): "# vmstat NAME +N" since @before (a
 * vmstat_read() value), or "absent" when the kernel does not count it.
 */
static inline void vmstat_print_delta(const char *name, long long before)
{
	long long after = vmstat_read(name);

	if (before < 0 || after < 0)
		ktap_diag("vmstat %s absent", name);
	else
		ktap_diag("vmstat %s +%lld", name, after - before);
}

/*
 * slab_attr("vm_area_struct", "object_size"): one value from
 * /sys/kernel/slab/CACHE/ATTR, or -1 when there is no such cache (a merged
 * cache: boot with slab_nomerge) or attribute (some need SLUB_DEBUG).
 */
static inline long slab_attr(const char *cache, const char *attr)
{
	char path[256];
	long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/sys/kernel/slab/%s/%s", cache, attr);
	f = fopen(path, "r");
	if (!f)
		return -1;
	if (fscanf(f, "%ld", &v) != 1)
		v = -1;
	fclose(f);
	return v;
}

#endif
