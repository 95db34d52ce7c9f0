// SPDX-License-Identifier: GPL-2.0
/*
 * stressng.c - run one stress-ng stressor as a benchmark of 'make bench'.
 *
 * Usage: stressng mlockmany [key=value ...]
 *   Runs "stress-ng --mlockmany W --mlockmany-procs P --timeout Ts
 *   [--mlockmany-ops N] --pathological --metrics-brief --yaml FILE"
 *   (stress-ng 0.15.06, the Debian package, which bin/initramfs copies into
 *   the guest with the shared libraries it needs; mlockmany is one of the
 *   stressors stress-ng runs only with --pathological). Each of the W
 *   instances forks P children, one after the other; each child maps as
 *   much anonymous memory as RLIMIT_MEMLOCK allows (8 MiB here) and mlocks
 *   it (one bogo op); then the instance kills them all and starts over.
 *   The benchmark's value is stress-ng's bogo-op count of a run divided by
 *   its wall time (its YAML's bogo-ops-per-second-real-time: what the
 *   kernel test robot reports as stress-ng.mlockmany.ops_per_sec).
 *   Keys: workers=W  stressor instances (default 2: one per vCPU)
 *         procs=P    child processes per instance (default 64)
 *         ops=N      end each run after N bogo ops (--mlockmany-ops; stress-ng
 *                    rounds up to whole rounds of W * P children), with
 *                    time=S as a cap that must not be reached; default 0:
 *                    each run lasts time=S, as the robot runs it. A timed
 *                    run ends inside a round of children, so its count is
 *                    a whole number of rounds and its time stretches to the
 *                    round's end: with a few rounds per run its rate jumps
 *         time=S     seconds per run, or the cap with ops=N (default 5)
 *         warmup=0|1 one untimed run first, like the others (default 1)
 *         reps=R     timed runs, one value each (1..100, default 3)
 *         limit=S    give up on a run that has not ended after S seconds,
 *                    showing what stress-ng printed and the state of its
 *                    processes (default 2 * time + 60; keep it below the
 *                    plan's timeout, which kills silently)
 *         verbose=1  run stress-ng with -v and show its output every time
 *         profile=1  mark the timed runs as one region for 'make profile'
 *                    (guest/lib/profile.h): every instruction of stress-ng,
 *                    its children and the kernel in between, per bogo op
 *         bin=PATH   the stress-ng binary (default /bin/stress-ng)
 *
 * Output: for each run "# stress-ng: mlockmany N bogo ops in T s" and for
 * each timed one "# bench: stress-ng-mlockmany bogo-ops/s REP VALUE"
 * (bench.c's format; a unit ending in /s: higher is better).
 * Exit: 0 ok; 1 stress-ng is missing or cannot start, did not end within
 * the limit, left processes behind, exited with an error (its output is
 * shown), wrote no parsable YAML, counted no operation, or (ops=N) was
 * stopped by its time cap; 2 usage.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <dirent.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "keyval.h"
#include "ktap.h"
#include "profile.h"

#define MAX_REPS 100
#define YAML "/tmp/stressng.yaml"

static long opt_workers = 2, opt_procs = 64, opt_ops, opt_time = 5, opt_warmup = 1, opt_reps = 3;
static long opt_limit = -1, opt_verbose, opt_profile;
static const char *opt_bin = "/bin/stress-ng";

/* fail("fmt", ...): one FAIL line, exit 1 */
static void __attribute__((noreturn, format(printf, 1, 2))) fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("# FAIL: ", stdout);
	vfprintf(stdout, fmt, ap);
	fputc('\n', stdout);
	fflush(stdout);
	va_end(ap);
	exit(1);
}

static uint64_t ns_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

/* what stress-ng's exit codes mean (its manual page, EXIT STATUS) */
static const char *exit_meaning(int code)
{
	static const char *const meaning[] = {
		[1] = "error: bad options or a fatal resource issue",
		[2] = "a stressor failed",
		[3] = "a stressor could not start: lack of resources or a missing system call",
		[4] = "a stressor is not implemented here",
		[5] = "a stressor was killed by an unexpected signal",
		[6] = "a stressor exited unexpectedly, no metrics",
		[7] = "the bogo-op counts may be untrustworthy",
		[127] = "could not be executed",
	};

	if (code > 0 && code < (int)(sizeof(meaning) / sizeof(meaning[0])) && meaning[code])
		return meaning[code];
	return "unknown exit code";
}

/* show(out): what stress-ng printed, as diagnostics */
static void show(char *out)
{
	for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n"))
		ktap_diag("stress-ng| %s", line);
}

/* read_line(path, buf, size): the first line of a file, "?" if unreadable */
static char *read_line(const char *path, char *buf, size_t size)
{
	FILE *f = fopen(path, "r");

	if (!f || !fgets(buf, size, f))
		snprintf(buf, size, "?");
	if (f)
		fclose(f);
	buf[strcspn(buf, "\n")] = 0;
	return buf;
}

/*
 * show_group(pgrp): each process of the group: pid, name, state, user and
 * system ticks, the system call it is in and its kernel stack when the
 * kernel shows them (/proc/PID/stat, syscall, stack), for a run that
 * does not end
 */
static void show_group(pid_t pgrp)
{
	DIR *d = opendir("/proc");
	struct dirent *e;

	while (d && (e = readdir(d))) {
		char path[300], stat[512], sys[128], *name, *rest;
		unsigned long utime = 0, stime = 0;
		int pg = -1;
		FILE *f;

		if (e->d_name[0] < '1' || e->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/stat", e->d_name);
		read_line(path, stat, sizeof(stat));
		/* "pid (comm) state ppid pgrp ... utime stime": comm may hold blanks */
		name = strchr(stat, '(');
		rest = strrchr(stat, ')');
		if (!name || !rest || sscanf(rest + 1, " %*c %*d %d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
					     &pg, &utime, &stime) != 3 || pg != pgrp)
			continue;
		*rest = 0;
		snprintf(path, sizeof(path), "/proc/%s/syscall", e->d_name);
		ktap_diag("stuck? pid %s %s state %c utime %lu stime %lu syscall %s", e->d_name,
			  name + 1, rest[2], utime, stime, read_line(path, sys, sizeof(sys)));
		snprintf(path, sizeof(path), "/proc/%s/stack", e->d_name);
		f = fopen(path, "r");
		for (int i = 0; f && i < 16 && fgets(stat, sizeof(stat), f); i++) {
			stat[strcspn(stat, "\n")] = 0;
			ktap_diag("stuck?   %s", stat);
		}
		if (f)
			fclose(f);
	}
	if (d)
		closedir(d);
}

/*
 * run(seconds, output, size): run stress-ng once (--timeout @seconds), its
 * stdout and stderr collected in @output; fails unless it exits 0 within
 * the limit and leaves no process of its group behind.
 */
static void run(long seconds, char *output, size_t size)
{
	char w[32], p[32], t[32], o[32];
	char *argv[20] = {
		(char *)opt_bin, "--mlockmany", w, "--mlockmany-procs", p, "--timeout", t,
		"--pathological", "--metrics-brief", "--yaml", YAML, "--temp-path", "/tmp",
	};
	int argc = 13;
	long limit = opt_limit >= 0 ? opt_limit : seconds * 2 + 60;
	uint64_t deadline = ns_now() + limit * 1000000000ull, exited_at = 0;
	size_t used = 0;
	int fds[2], status, eof = 0;
	pid_t pid;

	snprintf(w, sizeof(w), "%ld", opt_workers);
	snprintf(p, sizeof(p), "%ld", opt_procs);
	snprintf(t, sizeof(t), "%lds", seconds);
	snprintf(o, sizeof(o), "%ld", opt_ops);
	if (opt_ops) {
		argv[argc++] = "--mlockmany-ops";
		argv[argc++] = o;
	}
	if (opt_verbose)
		argv[argc++] = "-v";
	argv[argc] = NULL;
	if (unlink(YAML) && errno != ENOENT)
		fail("cannot remove the old %s: %s", YAML, strerror(errno));
	if (pipe2(fds, O_CLOEXEC))
		fail("pipe: %s", strerror(errno));
	fflush(stdout);
	pid = fork();
	if (pid < 0)
		fail("fork: %s", strerror(errno));
	if (pid == 0) {
		int err;

		setpgid(0, 0);	/* its own group, which the checks below kill */
		dup2(fds[1], 1);
		dup2(fds[1], 2);
		execv(opt_bin, argv);
		err = errno;
		dprintf(1, "cannot execute %s: %s%s\n", opt_bin, strerror(err),
			err == ENOENT ? " (the file is there, so its ELF interpreter is not:"
			" /lib64/ld-linux-x86-64.so.2 missing from the initramfs?)" : "");
		_exit(127);
	}
	setpgid(pid, pid);
	close(fds[1]);
	/*
	 * Until stress-ng has exited and everything else of its group has
	 * closed the pipe (its stressors' children inherit it); at most
	 * @limit seconds, and 5 s after stress-ng's own exit.
	 */
	while (!exited_at || !eof) {
		struct pollfd pfd = { .fd = eof ? -1 : fds[0], .events = POLLIN };
		uint64_t now = ns_now();
		ssize_t n;

		if (!exited_at && waitpid(pid, &status, WNOHANG) == pid)
			exited_at = now;
		if (now >= deadline || (exited_at && now >= exited_at + 5000000000ull)) {
			show_group(pid);
			kill(-pid, SIGKILL);
			if (!exited_at)
				waitpid(pid, &status, 0);
			output[used] = 0;
			show(output);
			if (exited_at)
				fail("stress-ng exited, but processes of its group were still there 5 s later (above)");
			fail("stress-ng did not end within %ld s of a %ld s run", limit, seconds);
		}
		if (poll(&pfd, 1, 100) <= 0)
			continue;
		if (used < size - 1) {
			n = read(fds[0], output + used, size - 1 - used);
		} else {
			char sink[4096];	/* keep the first size bytes */

			n = read(fds[0], sink, sizeof(sink));
		}
		if (n == 0 || (n < 0 && errno != EINTR))
			eof = 1;
		if (n > 0 && used < size - 1)
			used += n;
	}
	output[used] = 0;
	close(fds[0]);
	if (WIFSIGNALED(status)) {
		show(output);
		fail("stress-ng was killed by signal %d", WTERMSIG(status));
	}
	if (WEXITSTATUS(status)) {
		show(output);
		fail("stress-ng exited with %d (%s)", WEXITSTATUS(status),
		     exit_meaning(WEXITSTATUS(status)));
	}
	if (opt_verbose)
		show(output);
}

/*
 * yaml_value(line, key): the text after "key:" when @line (leading blanks
 * skipped) is that key's line, else NULL.
 */
static const char *yaml_value(const char *line, const char *key)
{
	size_t len = strlen(key);

	line += strspn(line, " \t");
	if (strncmp(line, key, len) || line[len] != ':')
		return NULL;
	return line + len + 1 + strspn(line + len + 1, " \t");
}

/* parse_number(s, &v): 1 if @s is a number and nothing else (blanks aside) */
static int parse_number(const char *s, double *v)
{
	char *end;

	errno = 0;
	*v = strtod(s, &end);
	return !errno && end != s && strspn(end, " \t\r\n") == strlen(end);
}

/*
 * parse(stressor, &ops, &secs): the stressor's bogo-ops/s (real time) from
 * the YAML file of the last run, its bogo-op count and wall time; fails if
 * they are not there.
 */
static double parse(const char *stressor, double *ops, double *secs)
{
	int in = 0, have_ops = 0, have_rate = 0, have_secs = 0;
	double rate = 0;
	char line[512];
	FILE *f = fopen(YAML, "r");

	if (!f)
		fail("stress-ng wrote no YAML output (%s: %s)", YAML, strerror(errno));
	while (fgets(line, sizeof(line), f)) {
		const char *v;

		if ((v = yaml_value(line, "- stressor"))) {
			in = !strncmp(v, stressor, strlen(stressor)) &&
			     strspn(v + strlen(stressor), " \t\r\n") == strlen(v + strlen(stressor));
			continue;
		}
		if (!in)
			continue;
		if ((v = yaml_value(line, "bogo-ops")))
			have_ops = parse_number(v, ops);
		else if ((v = yaml_value(line, "bogo-ops-per-second-real-time")))
			have_rate = parse_number(v, &rate);
		else if ((v = yaml_value(line, "wall-clock-time")))
			have_secs = parse_number(v, secs);
	}
	fclose(f);
	if (!have_ops || !have_rate || !have_secs)
		fail("no parsable %s%s%s of stressor %s in stress-ng's YAML output %s",
		     have_ops ? "" : "bogo-ops ", have_rate ? "" : "bogo-ops-per-second-real-time ",
		     have_secs ? "" : "wall-clock-time", stressor, YAML);
	if (*ops <= 0 || rate <= 0)
		fail("stress-ng counted %.0f %s operations (%.1f per second): the stressor did not run",
		     *ops, stressor, rate);
	return rate;
}

static const struct keyval keys[] = {
	{ "workers", &opt_workers, 1, 1024 },
	{ "procs", &opt_procs, 1, 65536 },
	{ "ops", &opt_ops, 0, 1000000000 },
	{ "time", &opt_time, 1, 86400 },
	{ "warmup", &opt_warmup, 0, 1 },
	{ "reps", &opt_reps, 1, MAX_REPS },
	{ "limit", &opt_limit, 1, 86400 },
	{ "verbose", &opt_verbose, 0, 1 },
	{ "profile", &opt_profile, 0, 1 },
};

static void __attribute__((noreturn)) usage(const char *why, const char *arg)
{
	if (why)
		fprintf(stderr, "stressng: %s '%s'\n", why, arg);
	fprintf(stderr, "usage: stressng mlockmany [workers=W] [procs=P] [ops=N] [time=S] [warmup=0|1] "
		"[reps=1..%d] [limit=S] [verbose=0|1] [profile=0|1] [bin=PATH]\n", MAX_REPS);
	exit(2);
}

static void parse_args(int argc, char **argv)
{
	for (int i = 2; i < argc; i++) {
		const char *eq = strchr(argv[i], '='), *why;

		if (eq && eq - argv[i] == 3 && !strncmp(argv[i], "bin", 3)) {
			if (!eq[1])
				usage("empty path in", argv[i]);
			opt_bin = eq + 1;
			continue;
		}
		why = keyval_set(keys, NKEYVALS(keys), argv[i]);
		if (why)
			usage(why, argv[i]);
	}
}

int main(int argc, char **argv)
{
	static char output[16384];
	double ops, secs, rate, total = 0;

	if (argc < 2)
		usage(NULL, NULL);
	if (strcmp(argv[1], "mlockmany"))
		usage("unknown stressor (this wrapper knows mlockmany)", argv[1]);
	parse_args(argc, argv);
	if (access(opt_bin, X_OK))
		fail("%s: %s: the initramfs should hold stress-ng (bin/initramfs copies it from the"
		     " host's Debian package stress-ng, which bin/deps installs)", opt_bin,
		     strerror(errno));
	for (long r = opt_warmup ? 0 : 1; r <= opt_reps; r++) {
		/* profile=1: one region over the timed runs (profile.h) */
		if (r == 1 && opt_profile)
			profile_mark_start();
		run(opt_time, output, sizeof(output));
		rate = parse("mlockmany", &ops, &secs);
		if (opt_ops && ops < opt_ops)
			fail("stress-ng stopped at %.0f of %ld bogo ops: the %ld s cap (time=) ended the run",
			     ops, opt_ops, opt_time);
		ktap_diag("stress-ng: mlockmany %.0f bogo ops in %.2f s%s", ops, secs,
			  r ? "" : " (warm-up)");
		if (r)
			ktap_diag("bench: stress-ng-mlockmany bogo-ops/s %ld %.1f", r, rate);
		total += r ? ops : 0;
	}
	if (opt_profile) {
		profile_mark_stop();
		ktap_diag("profile-ops: stress-ng-mlockmany %.0f", total);
	}
	return 0;
}
