// SPDX-License-Identifier: GPL-2.0
/*
 * init.c - PID 1 of the test guest.
 *
 * Mounts the pseudo file systems, runs the test plan named by the kernel
 * command line ("plan=NAME", default "default"; "only=PROG" keeps one entry),
 * prints KTAP on the second serial port (/dev/ttyS1) - apart from the kernel
 * console on ttyS0 - and powers the machine off. "ktap=DEV" names another
 * KTAP device, /dev/DEV (arm64's virt machine has one UART: bin/boot gives
 * it a virtio console and says ktap=hvc0).
 *
 * Plan files (/plans/NAME.plan) are data, one test per line:
 *	name  timeout_seconds  /path/to/program [args...]
 * A timeout of 0 means "no timeout" (used only by the hung-guest negative
 * control). The files are flat: bin/initramfs resolves the "@include OTHER"
 * lines of the source plans (harness/vmrc.py). Each test runs in its own
 * process group with stdout and stderr on the KTAP channel; past its
 * timeout the whole group is killed and the test is reported "not ok ...
 * # TIMEOUT" (with a SysRq task dump on the console first, if the kernel
 * has SysRq). Exit 0 is ok, 4 is SKIP, any
 * other exit or a signal is "not ok".
 *
 * A test's stdout and stderr reach the KTAP channel through a pipe: init
 * indents each line by four spaces, so that what the test prints is a
 * nested subtest of its result line (the race programs print KTAP of their
 * own through the kernel's kselftest.h, one result per check; exit codes
 * are kselftest's). Once the test's process has exited, what is left of
 * its process group is killed.
 *
 * The last line is "# Totals: pass:P fail:F skip:S"; the harness treats a
 * missing Totals line as a failure (the guest died or hung).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "kselftest.h"

#define MAX_TESTS 128
#define MAX_ARGS 32

struct test {
	char *name;
	int timeout;
	char *argv[MAX_ARGS + 1];
};

static struct test tests[MAX_TESTS];
static int ntests;
static FILE *ktap;

/* say("fmt", ...): a line on the kernel console, for humans reading it */
static void __attribute__((format(printf, 1, 2))) say(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("vmrc-init: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

static void power_off(void)
{
	/* Everything written out of the guest before it goes. */
	if (ktap) {
		fflush(ktap);
		tcdrain(fileno(ktap));
	}
	sync();
	reboot(RB_POWER_OFF);
	/* Without working poweroff, halting still ends QEMU (-no-reboot). */
	reboot(RB_HALT_SYSTEM);
	for (;;)
		pause();
}

static void mount_fs(const char *src, const char *dir, const char *type)
{
	mkdir(dir, 0755);
	if (mount(src, dir, type, 0, NULL) && errno != EBUSY)
		say("mount %s on %s failed: %s", type, dir, strerror(errno));
}

/*
 * open_ktap("ttyS1"): the KTAP channel, /dev/DEV. ttyS1's node is made if
 * devtmpfs lacks it; another device (a virtio console) may appear only
 * after init has started - its driver adds the port from a workqueue -, so
 * wait for it up to 10 s.
 */
static FILE *open_ktap(const char *dev)
{
	struct termios t;
	char path[64];
	int fd;

	snprintf(path, sizeof(path), "/dev/%s", dev);
	fd = open(path, O_WRONLY | O_NOCTTY | O_CLOEXEC);
	if (fd < 0 && !strcmp(dev, "ttyS1")) {
		mknod(path, S_IFCHR | 0600, makedev(4, 65));
		fd = open(path, O_WRONLY | O_NOCTTY | O_CLOEXEC);
	}
	for (int i = 0; fd < 0 && errno == ENOENT && i < 100; i++) {
		usleep(100000);
		fd = open(path, O_WRONLY | O_NOCTTY | O_CLOEXEC);
	}
	if (fd < 0)
		return NULL;
	/* Raw output: no "\n" -> "\r\n" translation in the log. */
	if (!tcgetattr(fd, &t)) {
		cfmakeraw(&t);
		tcsetattr(fd, TCSANOW, &t);
	}
	return fdopen(fd, "w");
}

/* load_plan("/plans/x.plan", only): fill tests[]; -1 on error */
static int load_plan(const char *path, const char *only)
{
	char line[1024];
	FILE *f = fopen(path, "r");

	if (!f) {
		say("cannot open plan %s: %s", path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), f)) {
		struct test *t = &tests[ntests];
		char *save, *tok;
		int argc = 0;

		tok = strtok_r(line, " \t\n", &save);
		if (!tok || tok[0] == '#')
			continue;
		if (ntests == MAX_TESTS) {
			say("plan %s has more than %d tests", path, MAX_TESTS);
			break;
		}
		t->name = strdup(tok);
		tok = strtok_r(NULL, " \t\n", &save);
		t->timeout = tok ? atoi(tok) : -1;
		while ((tok = strtok_r(NULL, " \t\n", &save)) && argc < MAX_ARGS)
			t->argv[argc++] = strdup(tok);
		t->argv[argc] = NULL;
		if (t->timeout < 0 || argc == 0) {
			say("bad plan line for %s", t->name);
			fclose(f);
			return -1;
		}
		if (only && strcmp(only, t->name))
			continue;
		ntests++;
	}
	fclose(f);
	return 0;
}

/* Reap every child that has exited; returns 1 if @pid was among them. */
static int reap(pid_t pid, int *status)
{
	int found = 0, st;
	pid_t p;

	while ((p = waitpid(-1, &st, WNOHANG)) > 0) {
		if (p == pid) {
			*status = st;
			found = 1;
		}
	}
	return found;
}

/*
 * sysrq_dump(): before a test that overran its timeout is killed, ask the
 * kernel (if it has magic SysRq) to print the blocked tasks and then every
 * task with its stack on the console: where the test's threads sleep or
 * spin is the first question about a hang.
 */
static void sysrq_dump(void)
{
	int fd = open("/proc/sysrq-trigger", O_WRONLY);

	if (fd < 0)
		return;
	say("timeout: asking SysRq for the blocked tasks ('w') and all tasks ('t')");
	if (write(fd, "w", 1) != 1 || write(fd, "t", 1) != 1)
		say("sysrq-trigger: %s", strerror(errno));
	close(fd);
}

/*
 * relay(fd, &bol): copy what a test wrote to the pipe @fd onto the KTAP
 * channel, each line indented by four spaces; *bol: the next byte starts a
 * line. Returns read()'s result: 0 at the end, -1 when nothing is there.
 */
static ssize_t relay(int fd, int *bol)
{
	char buf[4096];
	ssize_t n = read(fd, buf, sizeof(buf));

	for (ssize_t i = 0; i < n; i++) {
		if (*bol)
			fputs("    ", ktap);
		fputc(buf[i], ktap);
		*bol = buf[i] == '\n';
	}
	fflush(ktap);
	return n;
}

/* time_left(deadline, &left): 0 if @deadline has passed, else 1 and the time left */
static int time_left(const struct timespec *deadline, struct timespec *left)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	left->tv_sec = deadline->tv_sec - now.tv_sec;
	left->tv_nsec = deadline->tv_nsec - now.tv_nsec;
	if (left->tv_nsec < 0) {
		left->tv_nsec += 1000000000L;
		left->tv_sec--;
	}
	return left->tv_sec >= 0;
}

/* SIGCHLD, blocked but in ppoll(), only interrupts it: reap() does the rest */
static void on_sigchld(int sig)
{
	(void)sig;
}

/*
 * run_one(t, &status): run one test, relaying its output, and wait for it
 * (and for the end of its output) at most t->timeout seconds. Returns 0
 * when it exited (status filled in), 1 on timeout.
 */
static int run_one(struct test *t, int *status)
{
	struct sigaction sa = { .sa_handler = on_sigchld };
	struct timespec deadline, left;
	int fds[2], bol = 1, exited = 0, eof = 0, timed_out = 0;
	sigset_t set, unblocked;
	pid_t pid;

	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigprocmask(SIG_BLOCK, NULL, &unblocked);
	sigdelset(&unblocked, SIGCHLD);
	sigaction(SIGCHLD, &sa, NULL);
	fflush(ktap);
	if (pipe2(fds, O_CLOEXEC)) {
		say("pipe: %s", strerror(errno));
		*status = 0xff00;
		return 0;
	}
	pid = fork();
	if (pid < 0) {
		say("fork: %s", strerror(errno));
		close(fds[0]);
		close(fds[1]);
		*status = 0xff00;
		return 0;
	}
	if (pid == 0) {
		sigprocmask(SIG_UNBLOCK, &set, NULL);
		setpgid(0, 0);
		dup2(fds[1], 1);
		dup2(fds[1], 2);
		execv(t->argv[0], t->argv);
		dprintf(1, "# exec %s: %s\n", t->argv[0], strerror(errno));
		_exit(127);
	}
	setpgid(pid, pid);
	close(fds[1]);
	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += t->timeout;
	while (!exited || !eof) {
		struct pollfd pfd = { .fd = eof ? -1 : fds[0], .events = POLLIN };

		if (t->timeout && !time_left(&deadline, &left)) {
			timed_out = 1;
			break;
		}
		if (ppoll(&pfd, 1, t->timeout ? &left : NULL, &unblocked) > 0 &&
		    relay(fds[0], &bol) == 0)
			eof = 1;
		if (!exited && reap(pid, status)) {
			exited = 1;
			/* Nothing of a finished test may run on (or hold the pipe). */
			kill(-pid, SIGKILL);
		}
	}
	if (timed_out) {
		sysrq_dump();
		kill(-pid, SIGKILL);
		/* Give a killed group 10 s to go; a task stuck in the kernel may not. */
		for (int i = 0; !exited && i < 1000 && !reap(pid, status); i++)
			usleep(10000);
		/* What the killed test wrote last. */
		fcntl(fds[0], F_SETFL, O_NONBLOCK);
		while (!eof && relay(fds[0], &bol) > 0)
			;
	}
	if (!bol)
		fputc('\n', ktap);
	close(fds[0]);
	return timed_out;
}

int main(void)
{
	const char *plan = getenv("plan");
	const char *only = getenv("only");
	const char *ktap_dev = getenv("ktap");
	int pass = 0, fail = 0, skip = 0;
	char path[256];
	sigset_t set;

	mount_fs("proc", "/proc", "proc");
	mount_fs("sysfs", "/sys", "sysfs");
	mount_fs("devtmpfs", "/dev", "devtmpfs");
	mount_fs("debugfs", "/sys/kernel/debug", "debugfs");
	mount_fs("tracefs", "/sys/kernel/tracing", "tracefs");
	mount_fs("tmpfs", "/tmp", "tmpfs");
	setenv("PATH", "/bin", 1);

	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigprocmask(SIG_BLOCK, &set, NULL);

	if (!ktap_dev || !*ktap_dev || strchr(ktap_dev, '/'))
		ktap_dev = "ttyS1";
	ktap = open_ktap(ktap_dev);
	if (!ktap) {
		say("cannot open /dev/%s for KTAP output: %s", ktap_dev, strerror(errno));
		power_off();
	}
	if (!plan || !*plan)
		plan = "default";
	snprintf(path, sizeof(path), "/plans/%s.plan", plan);
	fprintf(ktap, "KTAP version 1\n");
	if (load_plan(path, only) || ntests == 0) {
		fprintf(ktap, "1..0 # SKIP plan '%s'%s%s%s unusable\n", plan,
			only ? " (only " : "", only ? only : "", only ? ")" : "");
		fprintf(ktap, "# plan error\n");
		fflush(ktap);
		power_off();
	}
	say("plan %s: %d test(s)", plan, ntests);
	fprintf(ktap, "1..%d\n", ntests);
	for (int i = 0; i < ntests; i++) {
		struct test *t = &tests[i];
		int status = 0, timed_out;

		fprintf(ktap, "# Subtest: %s\n", t->name);
		fflush(ktap);
		say("start %s", t->name);
		timed_out = run_one(t, &status);
		if (timed_out) {
			fail++;
			fprintf(ktap, "not ok %d %s # TIMEOUT after %d s\n", i + 1, t->name,
				t->timeout);
		} else if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
			pass++;
			fprintf(ktap, "ok %d %s\n", i + 1, t->name);
		} else if (WIFEXITED(status) && WEXITSTATUS(status) == KSFT_SKIP) {
			skip++;
			fprintf(ktap, "ok %d %s # SKIP\n", i + 1, t->name);
		} else if (WIFSIGNALED(status)) {
			fail++;
			fprintf(ktap, "not ok %d %s # killed by signal %d\n", i + 1, t->name,
				WTERMSIG(status));
		} else {
			fail++;
			fprintf(ktap, "not ok %d %s # exit %d\n", i + 1, t->name,
				WEXITSTATUS(status));
		}
		fflush(ktap);
		say("end %s", t->name);
	}
	fprintf(ktap, "# Totals: pass:%d fail:%d skip:%d\n", pass, fail, skip);
	fflush(ktap);
	say("done: pass %d fail %d skip %d", pass, fail, skip);
	power_off();
	return 0;
}
