// SPDX-License-Identifier: GPL-2.0
/*
 * sysctl_set.c - the settings a kernel selftest wants, without a shell.
 *
 * Usage: sysctl_set [-C DIR] [-u UID] [FILE=VALUE]... [-- PROG [ARGS...]]
 *
 * Writes each VALUE to FILE (a /proc/sys or /sys file: nr_hugepages,
 * overcommit_memory, shmmax, THP's enabled, ...) in order and prints
 * "# FILE: OLD -> NEW" with what the file reads before and after (a
 * kernel may grant fewer huge pages than asked: the test's output then
 * shows it). Then, given "--", runs PROG in a child, in DIR (-C; tests
 * that exec "./self") and as UID (-u; setgid too, as 'sudo -u nobody'
 * does), waits for it, writes every FILE's old value back (as
 * run_vmtests.sh restores shmmax, overcommit_memory, nr_hugepages) and
 * ends as PROG did (its exit code, or its signal), having printed
 * "# time: S s", how long PROG ran (bin/kselftests's table shows it;
 * an entry with nothing to set runs its test through sysctl_set for
 * that line alone). So a plan entry sets
 * up what one test needs, runs it and leaves the settings as it found
 * them ("name timeout /bin/sysctl_set /proc/sys/vm/nr_hugepages=1 --
 * /ksft/mm/hugetlb_fault_after_madv"): each entry stands alone. A test
 * killed at its timeout takes sysctl_set with it (the init kills the
 * process group): nothing is restored then. Without "--" it only sets
 * (exit 0, or 1 when a write failed). A failed write before a test is
 * reported and the test runs anyway: it skips or fails with its own
 * reason. Write-only files (drop_caches, compact_memory) are not restored.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_SET 32

static char *files[MAX_SET], olds[MAX_SET][256];
static int nset;

/* read_value(path, buf, len): the file's first line, or "?" */
static void read_value(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? -1 : read(fd, buf, len - 1);

	if (fd >= 0)
		close(fd);
	if (n < 0)
		n = snprintf(buf, len, "?");
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
}

static int set_one(char *arg)
{
	char *eq = strchr(arg, '='), old[256], now[256];
	int fd, ok;
	size_t len;

	if (!eq || eq == arg) {
		printf("# sysctl_set: not FILE=VALUE: %s\n", arg);
		return -1;
	}
	*eq = '\0';
	read_value(arg, old, sizeof(old));
	if (nset < MAX_SET && strcmp(old, "?")) {
		/*
		 * A sysfs choice ("always [madvise] never") is set by writing
		 * the word in brackets, not the line.
		 */
		char *lb = strchr(old, '['), *rb = lb ? strchr(lb, ']') : NULL;
		int n = rb ? (int)(rb - lb - 1) : (int)strlen(old);

		files[nset] = arg;
		snprintf(olds[nset++], sizeof(olds[0]), "%.*s", n, rb ? lb + 1 : old);
	}
	fd = open(arg, O_WRONLY | O_CLOEXEC);
	len = strlen(eq + 1);
	ok = fd >= 0 && write(fd, eq + 1, len) == (ssize_t)len;
	if (!ok)
		printf("# sysctl_set: %s=%s: %s\n", arg, eq + 1, strerror(errno));
	if (fd >= 0)
		close(fd);
	read_value(arg, now, sizeof(now));
	printf("# %s: %s -> %s\n", arg, old, now);
	return ok ? 0 : -1;
}

int main(int argc, char **argv)
{
	const char *dir = NULL;
	int i = 1, failed = 0, status;
	long uid = -1;
	struct timespec t0, t1;
	pid_t pid;

	for (; i < argc; i++) {
		if (!strcmp(argv[i], "-C") && i + 1 < argc) {
			dir = argv[++i];
		} else if (!strcmp(argv[i], "-u") && i + 1 < argc) {
			uid = atol(argv[++i]);
		} else if (!strcmp(argv[i], "--")) {
			i++;
			break;
		} else if (set_one(argv[i])) {
			failed = 1;
		}
	}
	fflush(stdout);
	if (i >= argc || !argv[i - 1] || strcmp(argv[i - 1], "--"))
		return failed;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	pid = fork();
	if (pid < 0) {
		printf("# sysctl_set: fork: %s\n", strerror(errno));
		return 1;
	}
	if (pid == 0) {
		if (dir && chdir(dir)) {
			printf("# sysctl_set: chdir %s: %s\n", dir, strerror(errno));
			_exit(1);
		}
		if (uid >= 0 && (setgid(uid) || setuid(uid))) {
			printf("# sysctl_set: uid %ld: %s\n", uid, strerror(errno));
			_exit(1);
		}
		execv(argv[i], argv + i);
		printf("# sysctl_set: exec %s: %s\n", argv[i], strerror(errno));
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("# time: %.1f s\n", (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9);
	fflush(stdout);
	/* Restore in reverse order (nr_hugepages before what it depended on). */
	for (int k = nset - 1; k >= 0; k--) {
		char buf[600];

		snprintf(buf, sizeof(buf), "%s=%s", files[k], olds[k]);
		set_one(buf);
	}
	fflush(stdout);
	if (WIFSIGNALED(status)) {
		signal(WTERMSIG(status), SIG_DFL);
		raise(WTERMSIG(status));
	}
	return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}
