/* SPDX-License-Identifier: GPL-2.0 */
/*
 * profile.h - the marks of 'make profile': a benchmark brackets the work
 * it wants counted, and the QEMU plugin harness/qemu/insn_profile.c counts
 * the instructions every code block executes in between (all processes,
 * the kernel included); then the program prints
 * "profile-ops: NAME N", the operations in the region, which
 * harness/profile.py pairs with the region by order.
 *
 * The marks are multi-byte NOPs ("nopl disp32(%rax)") with displacements
 * nothing else uses; without the plugin they do nothing. x86_64 only (the
 * plugin looks for these bytes): on other architectures (VMRC_ARCH=arm64)
 * the marks are empty and make profile is not supported.
 */
#ifndef GUEST_PROFILE_H
#define GUEST_PROFILE_H

#ifdef __x86_64__
static inline void profile_mark_start(void)
{
	asm volatile(".byte 0x0f, 0x1f, 0x80, 0x63, 0x72, 0x6d, 0x76" ::: "memory");
}

static inline void profile_mark_stop(void)
{
	asm volatile(".byte 0x0f, 0x1f, 0x80, 0x73, 0x72, 0x6d, 0x76" ::: "memory");
}
#else
static inline void profile_mark_start(void)
{
	asm volatile("" ::: "memory");
}

static inline void profile_mark_stop(void)
{
	asm volatile("" ::: "memory");
}
#endif

#endif
