// SPDX-License-Identifier: GPL-2.0
/*
 * insn_profile.c - a QEMU TCG plugin counting the guest instructions
 * executed between two markers, per translation block ('make profile').
 *
 * Usage: qemu-system-x86_64 ... -plugin PATH/insn_profile.so,out=FILE
 *
 * The guest marks a region by executing two multi-byte NOPs that nothing
 * else contains: "nopl 0x766d7263(%rax)" starts it, "nopl 0x766d7273(%rax)"
 * stops it (guest/bench/bench.c, profile=2). At each stop the plugin
 * appends one block to FILE:
 *
 *	region N
 *	VADDR INSNS EXECS	(one line per block executed in the region)
 *	end N
 *
 * VADDR is the block's first guest address, INSNS its instruction count,
 * EXECS how often it ran inside the region; harness/profile.py maps VADDR
 * to a kernel function with the kernel's System.map. Counts are exact (a
 * block's instructions all retire unless an exception cuts it short: a
 * page fault inside a block counts the whole block, an error of a few
 * instructions per fault). Nothing in the guest changes: no tracing.
 *
 * The plugin API of QEMU 7.2 (QEMU_PLUGIN_VERSION 1) is declared below, the
 * part this file uses: Debian ships QEMU with plugin support but without
 * its header.
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef uint64_t qemu_plugin_id_t;
struct qemu_plugin_tb;
struct qemu_plugin_insn;
enum qemu_plugin_cb_flags { QEMU_PLUGIN_CB_NO_REGS };
enum qemu_plugin_op { QEMU_PLUGIN_INLINE_ADD_U64 };
typedef void (*qemu_plugin_vcpu_tb_trans_cb_t)(qemu_plugin_id_t id, struct qemu_plugin_tb *tb);
typedef void (*qemu_plugin_vcpu_udata_cb_t)(unsigned int vcpu_index, void *userdata);

void qemu_plugin_register_vcpu_tb_trans_cb(qemu_plugin_id_t id, qemu_plugin_vcpu_tb_trans_cb_t cb);
size_t qemu_plugin_tb_n_insns(const struct qemu_plugin_tb *tb);
uint64_t qemu_plugin_tb_vaddr(const struct qemu_plugin_tb *tb);
struct qemu_plugin_insn *qemu_plugin_tb_get_insn(const struct qemu_plugin_tb *tb, size_t idx);
const void *qemu_plugin_insn_data(const struct qemu_plugin_insn *insn);
size_t qemu_plugin_insn_size(const struct qemu_plugin_insn *insn);
void qemu_plugin_register_vcpu_tb_exec_inline(struct qemu_plugin_tb *tb, enum qemu_plugin_op op,
					      void *ptr, uint64_t imm);
void qemu_plugin_register_vcpu_insn_exec_cb(struct qemu_plugin_insn *insn,
					    qemu_plugin_vcpu_udata_cb_t cb,
					    enum qemu_plugin_cb_flags flags, void *userdata);
void qemu_plugin_outs(const char *string);

__attribute__((visibility("default"))) int qemu_plugin_version = 1;

/* nopl disp32(%rax): 0f 1f 80 + the displacement, little-endian */
static const unsigned char mark_start[] = { 0x0f, 0x1f, 0x80, 0x63, 0x72, 0x6d, 0x76 };
static const unsigned char mark_stop[] = { 0x0f, 0x1f, 0x80, 0x73, 0x72, 0x6d, 0x76 };

/*
 * One per translation; a block translated again (after a flush) gets a
 * second record with the same address, summed by the reader. count only
 * grows; base is its value when the region started.
 */
struct rec {
	uint64_t count;
	uint64_t base;
	uint64_t vaddr;
	uint64_t insns;
};

static struct rec **recs;
static size_t nrecs, caprecs;
static FILE *out;
static bool in_region;
static int region;

static void on_start(unsigned int vcpu, void *udata)
{
	(void)vcpu;
	(void)udata;
	for (size_t i = 0; i < nrecs; i++)
		recs[i]->base = recs[i]->count;
	in_region = true;
}

static void on_stop(unsigned int vcpu, void *udata)
{
	(void)vcpu;
	(void)udata;
	if (!in_region)
		return;
	in_region = false;
	fprintf(out, "region %d\n", ++region);
	for (size_t i = 0; i < nrecs; i++) {
		uint64_t n = recs[i]->count - recs[i]->base;

		if (n)
			fprintf(out, "%" PRIx64 " %" PRIu64 " %" PRIu64 "\n", recs[i]->vaddr,
				recs[i]->insns, n);
	}
	fprintf(out, "end %d\n", region);
	fflush(out);
}

static bool is_mark(struct qemu_plugin_insn *insn, const unsigned char *mark)
{
	return qemu_plugin_insn_size(insn) == sizeof(mark_start) &&
	       !memcmp(qemu_plugin_insn_data(insn), mark, sizeof(mark_start));
}

static void on_translate(qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
	size_t n = qemu_plugin_tb_n_insns(tb);
	struct rec *r = calloc(1, sizeof(*r));

	(void)id;
	if (!r)
		abort();
	if (nrecs == caprecs) {
		caprecs = caprecs ? 2 * caprecs : 65536;
		recs = realloc(recs, caprecs * sizeof(*recs));
		if (!recs)
			abort();
	}
	r->vaddr = qemu_plugin_tb_vaddr(tb);
	r->insns = n;
	/* New blocks start at the region's start: their base is 0. */
	recs[nrecs++] = r;
	qemu_plugin_register_vcpu_tb_exec_inline(tb, QEMU_PLUGIN_INLINE_ADD_U64, &r->count, 1);
	for (size_t i = 0; i < n; i++) {
		struct qemu_plugin_insn *insn = qemu_plugin_tb_get_insn(tb, i);

		if (is_mark(insn, mark_start))
			qemu_plugin_register_vcpu_insn_exec_cb(insn, on_start, QEMU_PLUGIN_CB_NO_REGS,
							       NULL);
		else if (is_mark(insn, mark_stop))
			qemu_plugin_register_vcpu_insn_exec_cb(insn, on_stop, QEMU_PLUGIN_CB_NO_REGS,
							       NULL);
	}
}

__attribute__((visibility("default"))) int qemu_plugin_install(qemu_plugin_id_t id,
							       const void *info, int argc,
							       char **argv)
{
	(void)info;
	for (int i = 0; i < argc; i++) {
		if (!strncmp(argv[i], "out=", 4))
			out = fopen(argv[i] + 4, "w");
	}
	if (!out) {
		qemu_plugin_outs("insn_profile: needs out=FILE (a writable path)\n");
		return -1;
	}
	qemu_plugin_register_vcpu_tb_trans_cb(id, on_translate);
	return 0;
}
