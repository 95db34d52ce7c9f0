/* SPDX-License-Identifier: GPL-2.0 */
/*
 * uprobe.h - place a uprobe on one of the program's own functions through
 * tracefs, and read its hit count.
 *
 *	if (uprobe_add("vmrc_hit", (void *)fn))	// 0 ok, else -1 and a message
 *	...
 *	hits = uprobe_hits("vmrc_hit");		// from uprobe_profile, or -1
 *	uprobe_del("vmrc_hit");
 *
 * The event is "vmrc/NAME" on /proc/self/exe at fn's file offset. Tracing is
 * switched off (tracing_on = 0): the probe still fires and uprobe_profile
 * still counts every hit, but nothing is written to the ring buffer, so a
 * hit costs the breakpoint and the uprobe lookup, not the tracer.
 */
#ifndef GUEST_UPROBE_H
#define GUEST_UPROBE_H

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ktap.h"

#define TRACEFS "/sys/kernel/tracing"

/*
 * tracefs_write("uprobe_events", "text", O_APPEND): one write(2); 0 ok, -1
 * (errno). Not stdio: in append mode it seeks to the end first, which a
 * tracefs command file refuses.
 */
static inline int tracefs_write(const char *file, const char *text, int flags)
{
	char path[256];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), TRACEFS "/%s", file);
	fd = open(path, O_WRONLY | flags);
	if (fd < 0)
		return -1;
	n = write(fd, text, strlen(text));
	if (close(fd) || n != (ssize_t)strlen(text))
		return -1;
	return 0;
}

/* file_offset(fn, path): fn's offset in the file mapped there, or -1 */
static inline long file_offset(void *fn, char *path, size_t len)
{
	unsigned long start, end, off, a = (unsigned long)fn;
	char line[512], perms[8], file[256];
	FILE *f = fopen("/proc/self/maps", "r");
	long ret = -1;

	while (f && fgets(line, sizeof(line), f)) {
		file[0] = 0;
		if (sscanf(line, "%lx-%lx %7s %lx %*s %*s %255s", &start, &end, perms, &off, file) < 4)
			continue;
		if (a >= start && a < end && file[0] == '/') {
			snprintf(path, len, "%s", file);
			ret = (long)(a - start + off);
			break;
		}
	}
	if (f)
		fclose(f);
	return ret;
}

static inline void uprobe_del(const char *name)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "events/vmrc/%s/enable", name);
	tracefs_write(cmd, "0\n", O_TRUNC);
	snprintf(cmd, sizeof(cmd), "-:vmrc/%s\n", name);
	tracefs_write("uprobe_events", cmd, O_APPEND);
}

static inline int uprobe_add(const char *name, void *fn)
{
	char path[256], cmd[512];
	struct stat st;
	long off;

	if (stat(TRACEFS "/uprobe_events", &st) &&
	    mount("tracefs", TRACEFS, "tracefs", 0, NULL) && errno != EBUSY) {
		ktap_diag("FAIL: cannot mount tracefs on " TRACEFS ": %s", strerror(errno));
		return -1;
	}
	off = file_offset(fn, path, sizeof(path));
	if (off < 0) {
		ktap_diag("FAIL: %p is in no file mapping of /proc/self/maps", fn);
		return -1;
	}
	uprobe_del(name);	/* a leftover of an earlier run */
	snprintf(cmd, sizeof(cmd), "p:vmrc/%s %s:0x%lx\n", name, path, off);
	if (tracefs_write("tracing_on", "0\n", O_TRUNC)) {
		ktap_diag("FAIL: cannot write " TRACEFS "/tracing_on: %s", strerror(errno));
		return -1;
	}
	if (tracefs_write("uprobe_events", cmd, O_APPEND)) {
		char line[256];
		FILE *log = fopen(TRACEFS "/error_log", "r");

		ktap_diag("FAIL: cannot add uprobe '%.*s': %s", (int)strlen(cmd) - 1, cmd, strerror(errno));
		while (log && fgets(line, sizeof(line), log))
			ktap_diag("error_log: %.*s", (int)strcspn(line, "\n"), line);
		if (log)
			fclose(log);
		return -1;
	}
	snprintf(cmd, sizeof(cmd), "events/vmrc/%s/enable", name);
	if (tracefs_write(cmd, "1\n", O_TRUNC)) {
		ktap_diag("FAIL: cannot enable uprobe %s: %s", name, strerror(errno));
		uprobe_del(name);
		return -1;
	}
	return 0;
}

/* uprobe_hits(name): the event's hit count in uprobe_profile, or -1 */
static inline long long uprobe_hits(const char *name)
{
	char line[512], file[256], event[128];
	long long hits, ret = -1;
	FILE *f = fopen(TRACEFS "/uprobe_profile", "r");

	while (f && fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%255s %127s %lld", file, event, &hits) == 3 && !strcmp(event, name))
			ret = hits;
	}
	if (f)
		fclose(f);
	return ret;
}

#endif
