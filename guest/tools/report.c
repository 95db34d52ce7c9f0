// SPDX-License-Identifier: GPL-2.0
/*
 * report.c - print what the per-VMA lock looks like in this kernel: the
 * vma_lock_* counters of /proc/vmstat (and, where the kernel has them,
 * those of the paths that use the lock instead of mmap_lock: vma_iter_*
 * for /proc/pid/maps and PROCMAP_QUERY, madvise_vma_* for MADV_DONTNEED
 * and MADV_FREE) and the slab caches behind a VMA.
 * Lines are "    # key: value" so the harness can pick them up. Fails when
 * the counters or the vm_area_struct cache cannot be read (the boot must
 * use slab_nomerge, or the cache is merged into another one).
 */
#include <dirent.h>
#include <stdio.h>
#include <string.h>

#include "ktap.h"

int main(void)
{
	char key[128];
	long long val;
	int counters = 0, ok = 1;
	long vma_sz, lock_sz;
	FILE *f = fopen("/proc/vmstat", "r");

	while (f && fscanf(f, "%127s %lld", key, &val) == 2) {
		if (!strncmp(key, "vma_lock_", 9)) {
			ktap_diag("vmstat %s: %lld", key, val);
			counters++;
		} else if (!strncmp(key, "vma_iter_", 9) ||
			   !strncmp(key, "madvise_vma_", 12)) {
			ktap_diag("vmstat %s: %lld", key, val);
		}
	}
	if (f)
		fclose(f);
	if (!counters) {
		ktap_diag("FAIL: no vma_lock_* counters in /proc/vmstat");
		ok = 0;
	}
	vma_sz = slab_attr("vm_area_struct", "object_size");
	lock_sz = slab_attr("vma_lock", "object_size");
	if (vma_sz < 0) {
		ktap_diag("FAIL: /sys/kernel/slab/vm_area_struct unreadable (slab_nomerge?)");
		ok = 0;
	} else {
		ktap_diag("slab vm_area_struct object_size: %ld", vma_sz);
		ktap_diag("slab vm_area_struct slab_size: %ld",
			  slab_attr("vm_area_struct", "slab_size"));
	}
	if (lock_sz < 0)
		ktap_diag("slab vma_lock: absent");
	else
		ktap_diag("slab vma_lock object_size: %ld", lock_sz);
	ktap_diag("bytes per VMA: %ld", (vma_sz < 0 ? 0 : vma_sz) + (lock_sz < 0 ? 0 : lock_sz));
	return ok ? 0 : 1;
}
