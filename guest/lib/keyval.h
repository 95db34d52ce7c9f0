/* SPDX-License-Identifier: GPL-2.0 */
/*
 * keyval.h - the "key=value" arguments of the benchmark programs.
 *
 *	static const struct keyval keys[] = {
 *		{ "threads", &opt_threads, 1, 16 },	// name, where, min, max
 *	};
 *	const char *why = keyval_set(keys, NKEYVALS(keys), argv[i]);
 *	if (why)
 *		usage(why, argv[i]);	// "unknown argument", "bad value ..."
 */
#ifndef GUEST_KEYVAL_H
#define GUEST_KEYVAL_H

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct keyval {
	const char *key;
	long *val;
	long min, max;
};

#define NKEYVALS(keys) (sizeof(keys) / sizeof((keys)[0]))

/*
 * keyval_set(keys, n, arg): store the decimal number of "key=number" in
 * the value of its key. NULL if done; else why not, for a usage message
 * that names arg after it. A value outside [min, max] is refused.
 */
static inline const char *keyval_set(const struct keyval *keys, size_t n, const char *arg)
{
	const char *eq = strchr(arg, '=');
	char *end;
	size_t k;
	long v;

	for (k = 0; eq && k < n; k++) {
		if (strlen(keys[k].key) == (size_t)(eq - arg) && !strncmp(arg, keys[k].key, eq - arg))
			break;
	}
	if (!eq || k == n)
		return "unknown argument";
	errno = 0;
	v = strtol(eq + 1, &end, 10);
	if (errno || end == eq + 1 || *end || v < keys[k].min || v > keys[k].max)
		return "bad value (out of range, or not a number) in";
	*keys[k].val = v;
	return NULL;
}

#endif
