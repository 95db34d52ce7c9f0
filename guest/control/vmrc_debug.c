// SPDX-License-Identifier: GPL-2.0
/*
 * vmrc_debug.c - run a program with knobs of the harness's kernel debug
 * patches set (built-in module parameters in /sys/module/vmrc_debug/).
 *
 * Usage: vmrc_debug NAME=VALUE... -- PROG [ARGS...]
 *   e.g. vmrc_debug comm=uprobe_race uprobe_file_us=2000 -- /bin/uprobe_race --overlay
 *
 * Writes each VALUE to /sys/module/vmrc_debug/parameters/NAME (printing
 * "# vmrc_debug NAME=VALUE"), runs PROG (fork + execv, no PATH search),
 * writes the old values back and exits with PROG's status (killed by a
 * signal: 128 + the signal, as a shell does). Values are written without a
 * newline (a string parameter would keep it); an empty VALUE is written as
 * one NUL byte, which stores the empty string (sysfs ignores empty writes).
 * Exit: PROG's status; 2 bad arguments or an unknown knob or value; 4 the
 * kernel has no vmrc_debug parameters (KSFT_SKIP: KTAP SKIP); 1 PROG passed
 * but a knob could not be restored; 127 PROG could not be run.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ktap.h"

#define DIR "/sys/module/vmrc_debug"
#define MAX_KNOBS 16

static char *name[MAX_KNOBS], *old[MAX_KNOBS];

/* set("comm", "x", oldbuf, len): write a knob (oldbuf: its value before); 0 or -1 */
static int set(const char *knob, const char *val, char *oldval, size_t len)
{
	char path[256];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), DIR "/parameters/%s", knob);
	if (oldval) {
		fd = open(path, O_RDONLY);
		n = fd < 0 ? -1 : read(fd, oldval, len - 1);
		if (fd >= 0)
			close(fd);
		if (n < 0)
			return -1;
		oldval[n] = 0;
		oldval[strcspn(oldval, "\n")] = 0;
	}
	fd = open(path, O_WRONLY | O_TRUNC);
	if (fd < 0)
		return -1;
	n = write(fd, val, *val ? strlen(val) : 1);
	close(fd);
	return n < 0 ? -1 : 0;
}

static int usage(const char *why)
{
	fprintf(stderr, "vmrc_debug: %s\nusage: vmrc_debug NAME=VALUE... -- PROG [ARGS...]\n", why);
	return 2;
}

int main(int argc, char **argv)
{
	int i, n = 0, status, ret;
	struct stat st;
	pid_t pid;

	for (i = 1; i < argc && strcmp(argv[i], "--"); i++) {
		char *eq = strchr(argv[i], '=');

		if (!eq || eq == argv[i] || strchr(argv[i], '/') || n == MAX_KNOBS)
			return usage("arguments before -- must be NAME=VALUE (at most 16)");
		*eq = 0;
		name[n++] = argv[i];
	}
	if (i + 1 >= argc)
		return usage("no -- PROG");
	if (stat(DIR "/parameters", &st)) {
		fprintf(stderr, "vmrc_debug: kernel without the vmrc_debug patches (no " DIR ")\n");
		return KSFT_SKIP;
	}
	for (int k = 0; k < n; k++) {
		const char *val = name[k] + strlen(name[k]) + 1;

		old[k] = malloc(4096);
		if (!old[k] || set(name[k], val, old[k], 4096)) {
			fprintf(stderr, "vmrc_debug: cannot set %s=%s: %s\n", name[k], val,
				errno == ENOENT ? "no such knob" : strerror(errno));
			n = k;
			ret = 2;
			goto restore;
		}
		ktap_diag("vmrc_debug %s=%s", name[k], val);
	}
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		execv(argv[i + 1], argv + i + 1);
		fprintf(stderr, "vmrc_debug: exec %s: %s\n", argv[i + 1], strerror(errno));
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid)
		ret = 127;
	else
		ret = WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
restore:
	while (n-- > 0) {	/* in reverse: a knob named twice gets its first old value */
		if (set(name[n], old[n], NULL, 0)) {
			fprintf(stderr, "vmrc_debug: cannot restore %s=%s: %s\n", name[n], old[n], strerror(errno));
			if (!ret)
				ret = 1;
		}
	}
	return ret;
}
