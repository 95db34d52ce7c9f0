// SPDX-License-Identifier: GPL-2.0
/*
 * misbehave.c - a deliberately broken guest test: the negative control.
 *
 * Each mode fails in one way the harness must catch; 'make check' boots a
 * plan of them and requires every one to be reported as a failure.
 *   pass     exits 0 (the probe boot uses it)
 *   fail     reports wrong data and exits 1           -> "not ok"
 *   crash    dies of SIGSEGV                          -> "not ok # killed"
 *   hang     sleeps forever                           -> "not ok # TIMEOUT"
 *   warn     makes the kernel WARN through lkdtm      -> console splat
 *   uaf      a slab use-after-free through lkdtm      -> KASAN report
 *
 * Usage: misbehave MODE
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "ktap.h"

/* lkdtm("WARNING"): ask lkdtm to provoke one crash type; 0 on success */
static int lkdtm(const char *what)
{
	int fd = open("/sys/kernel/debug/provoke-crash/DIRECT", O_WRONLY);

	if (fd < 0) {
		ktap_diag("no lkdtm in this kernel (CONFIG_LKDTM)");
		return -1;
	}
	if (write(fd, what, strlen(what)) < 0)
		ktap_diag("lkdtm %s: write failed", what);
	close(fd);
	return 0;
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "";

	if (!strcmp(mode, "pass")) {
		ktap_diag("passing on purpose");
		return 0;
	}
	if (!strcmp(mode, "fail")) {
		ktap_diag("CORRUPT: wrote 0x1 read 0x2 (deliberate)");
		return 1;
	}
	if (!strcmp(mode, "crash")) {
		volatile int *volatile nowhere = NULL;

		*nowhere = 1;
		return 0;
	}
	if (!strcmp(mode, "hang")) {
		for (;;)
			pause();
	}
	if (!strcmp(mode, "warn"))
		return lkdtm("WARNING") ? 1 : 0;
	if (!strcmp(mode, "uaf"))
		return lkdtm("READ_AFTER_FREE") ? 1 : 0;
	ktap_diag("usage: misbehave pass|fail|crash|hang|warn|uaf");
	return 2;
}
