// SPDX-License-Identifier: GPL-2.0
/*
 * kunit.c - report the in-kernel KUnit suites that ran at boot.
 *
 * Reads /sys/kernel/debug/kunit/<suite>/results (CONFIG_KUNIT_DEBUGFS) for
 * every suite named on the command line. Prints KTAP (kselftest.h): one
 * result per suite, named after it, with the suite's own KTAP (the indented
 * part of the results file: its cases) nested above it. A suite fails if it
 * is missing (not built in, or it never ran), if KUnit or any of its cases
 * says "not ok", or if no case is "ok".
 *
 * Usage: kunit SUITE...
 * Exit: 0 every suite passed, 1 one failed, 2 usage.
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
		ktap_diag("no results for suite %s (%s missing)", suite, path);
		return 0;
	}
	while (fgets(line, sizeof(line), f)) {
		char *p = line + strspn(line, " \t");

		line[strcspn(line, "\n")] = 0;
		if (p == line) {
			/* The file's own header, plan and verdict on the suite. */
			if (!strncmp(line, "not ok ", 7))
				bad++;
			continue;
		}
		printf("%s\n", line);
		if (!strncmp(p, "not ok ", 7))
			bad++;
		else if (!strncmp(p, "ok ", 3))
			ok++;
	}
	fclose(f);
	if (bad || !ok) {
		ktap_diag("suite %s: %d not ok, %d ok", suite, bad, ok);
		return 0;
	}
	return 1;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: kunit SUITE...\n");
		return 2;
	}
	ksft_print_header();
	ksft_set_plan(argc - 1);
	for (int i = 1; i < argc; i++)
		ksft_test_result(suite_ok(argv[i]), "%s\n", argv[i]);
	ksft_finished();
}
