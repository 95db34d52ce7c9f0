// SPDX-License-Identifier: GPL-2.0
/*
 * kst.c - run one of the kernel's selftests as a KTAP subtest.
 *
 * A selftest prints its own TAP at the top level; run as a test of the
 * init's plan, its lines would read as results of the plan itself. kst runs
 * it with stdout and stderr on a pipe and prints every line indented by
 * four spaces (a nested subtest), then exits with the selftest's status:
 * 0 pass, 4 skip (kselftest's KSFT_SKIP, which is also ours), else fail.
 *
 * Usage: kst PROGRAM [ARGS...]
 */
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ktap.h"

int main(int argc, char **argv)
{
	char line[1024];
	int fds[2], status;
	FILE *out;
	pid_t pid;

	if (argc < 2) {
		ktap_diag("usage: kst PROGRAM [ARGS...]");
		return 2;
	}
	if (pipe(fds))
		return 1;
	pid = fork();
	if (pid < 0)
		return 1;
	if (pid == 0) {
		dup2(fds[1], 1);
		dup2(fds[1], 2);
		close(fds[0]);
		close(fds[1]);
		execv(argv[1], argv + 1);
		printf("# exec %s failed\n", argv[1]);
		_exit(127);
	}
	close(fds[1]);
	out = fdopen(fds[0], "r");
	while (out && fgets(line, sizeof(line), out)) {
		fputs("    ", stdout);
		fputs(line, stdout);
		if (!strchr(line, '\n'))
			fputc('\n', stdout);
		fflush(stdout);
	}
	if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status))
		return 1;
	return WEXITSTATUS(status);
}
