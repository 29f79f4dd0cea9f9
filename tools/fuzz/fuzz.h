/* SPDX-License-Identifier: GPL-2.0 */
/* What every program of tools/fuzz/gen.py, and every kept regression
 * program (tools/fuzz/regressions/), shares: one BPF object each. */
#ifndef BPFEXC_FUZZ_H
#define BPFEXC_FUZZ_H

struct fz_obj {
	long v;
};

/* 0 at load time: what it guards is dead code. */
const volatile int fz_off;

SEC(".bss.fz") __hidden __attribute__((aligned(8))) struct bpf_spin_lock fz_lock;

/* Tail calls: p<i>_tc<k> goes in slot k when p<i> loads. */
struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 8);
	__uint(key_size, sizeof(u32));
	__uint(value_size, sizeof(u32));
} fz_jmp SEC(".maps");

/* Written by the attachment p<i>_at: how often it ran, the last return value. */
u64 fz_out[2];

char _license[] SEC("license") = "GPL";

#endif
