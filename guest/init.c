// SPDX-License-Identifier: GPL-2.0
/*
 * init.c - PID 1 of the test guest.
 *
 * Mounts the pseudo file systems, runs the test plan named by the kernel
 * command line ("plan=NAME", default "default"; "only=PROG" keeps one entry),
 * prints KTAP on the second serial port (/dev/ttyS1) - apart from the kernel
 * console on ttyS0 - and powers the machine off.
 *
 * Plan files (/plans/NAME.plan) are data, one test per line:
 *	name  timeout_seconds  /path/to/program [args...]
 * A timeout of 0 means "no timeout" (used only by the hung-guest negative
 * control). A line "@include OTHER" takes the tests of OTHER.plan. Each test runs in its own process group with stdout and stderr
 * on the KTAP channel; past its timeout the whole group is killed and the
 * test is reported "not ok ... # TIMEOUT" (with a SysRq task dump on the
 * console first, if the kernel has SysRq). Exit 0 is ok, 4 is SKIP, any
 * other exit or a signal is "not ok".
 *
 * The last line is "# Totals: pass:P fail:F skip:S"; the harness treats a
 * missing Totals line as a failure (the guest died or hung).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
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

static FILE *open_ktap(void)
{
	struct termios t;
	int fd;

	fd = open("/dev/ttyS1", O_WRONLY | O_NOCTTY);
	if (fd < 0) {
		mknod("/dev/ttyS1", S_IFCHR | 0600, makedev(4, 65));
		fd = open("/dev/ttyS1", O_WRONLY | O_NOCTTY);
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

/* load_plan("/plans/x.plan", only, depth): fill tests[]; -1 on error */
static int load_plan(const char *path, const char *only, int depth)
{
	char line[1024], inc[256];
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
		if (!strcmp(tok, "@include")) {
			tok = strtok_r(NULL, " \t\n", &save);
			snprintf(inc, sizeof(inc), "/plans/%s.plan", tok ? tok : "");
			if (!tok || depth > 4 || load_plan(inc, only, depth + 1)) {
				say("bad @include in %s", path);
				fclose(f);
				return -1;
			}
			continue;
		}
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
 * run_one(t, &status): run one test, wait for it at most t->timeout seconds.
 * Returns 0 when it exited (status filled in), 1 on timeout.
 */
static int run_one(struct test *t, int *status)
{
	struct timespec deadline, now, left;
	sigset_t set;
	pid_t pid;

	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	fflush(ktap);
	pid = fork();
	if (pid < 0) {
		say("fork: %s", strerror(errno));
		*status = 0xff00;
		return 0;
	}
	if (pid == 0) {
		sigprocmask(SIG_UNBLOCK, &set, NULL);
		setpgid(0, 0);
		dup2(fileno(ktap), 1);
		dup2(fileno(ktap), 2);
		execv(t->argv[0], t->argv);
		printf("    # exec %s: %s\n", t->argv[0], strerror(errno));
		_exit(127);
	}
	setpgid(pid, pid);
	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += t->timeout;
	for (;;) {
		if (reap(pid, status))
			return 0;
		if (t->timeout == 0) {
			sigwaitinfo(&set, NULL);
			continue;
		}
		clock_gettime(CLOCK_MONOTONIC, &now);
		left.tv_sec = deadline.tv_sec - now.tv_sec;
		left.tv_nsec = deadline.tv_nsec - now.tv_nsec;
		if (left.tv_nsec < 0) {
			left.tv_nsec += 1000000000L;
			left.tv_sec--;
		}
		if (left.tv_sec < 0)
			break;
		sigtimedwait(&set, NULL, &left);
	}
	sysrq_dump();
	kill(-pid, SIGKILL);
	/* Give a killed group 10 s to go; a task stuck in the kernel may not. */
	for (int i = 0; i < 1000 && !reap(pid, status); i++)
		usleep(10000);
	return 1;
}

int main(void)
{
	const char *plan = getenv("plan");
	const char *only = getenv("only");
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

	ktap = open_ktap();
	if (!ktap) {
		say("cannot open /dev/ttyS1 for KTAP output: %s", strerror(errno));
		power_off();
	}
	if (!plan || !*plan)
		plan = "default";
	snprintf(path, sizeof(path), "/plans/%s.plan", plan);
	fprintf(ktap, "KTAP version 1\n");
	if (load_plan(path, only, 0) || ntests == 0) {
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
		} else if (WIFEXITED(status) && WEXITSTATUS(status) == 4) {
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
