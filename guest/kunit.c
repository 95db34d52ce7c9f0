// SPDX-License-Identifier: GPL-2.0
/*
 * kunit.c - report the in-kernel KUnit suites that ran at boot.
 *
 * Reads /sys/kernel/debug/kunit/<suite>/results (CONFIG_KUNIT_DEBUGFS) for
 * every suite named on the command line and copies it as diagnostics.
 * Fails if a suite is missing (not built in, or it never ran), if any of
 * its results is "not ok", or if it has no "ok" result at all.
 *
 * Usage: kunit SUITE...
 */
#include <stdio.h>
#include <string.h>

#include "ktap.h"

/* suite_ok("vma_lock"): 1 if the suite ran and passed, else 0 */
static int suite_ok(const char *suite)
{
	char path[256], line[512];
	int ok = 0, bad = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/sys/kernel/debug/kunit/%s/results", suite);
	f = fopen(path, "r");
	if (!f) {
		ktap_diag("FAIL: no results for suite %s (%s missing)", suite, path);
		return 0;
	}
	while (fgets(line, sizeof(line), f)) {
		char *p = line + strspn(line, " \t");

		line[strcspn(line, "\n")] = 0;
		ktap_diag("%s: %s", suite, line);
		if (!strncmp(p, "not ok ", 7))
			bad++;
		else if (!strncmp(p, "ok ", 3))
			ok++;
	}
	fclose(f);
	if (bad || !ok) {
		ktap_diag("FAIL: suite %s: %d not ok, %d ok", suite, bad, ok);
		return 0;
	}
	return 1;
}

int main(int argc, char **argv)
{
	int good = 1;

	if (argc < 2) {
		ktap_diag("usage: kunit SUITE...");
		return 2;
	}
	for (int i = 1; i < argc; i++)
		good &= suite_ok(argv[i]);
	return good ? 0 : 1;
}
