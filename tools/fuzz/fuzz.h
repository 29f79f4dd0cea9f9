/* SPDX-License-Identifier: GPL-2.0 */
/* What every program of tools/fuzz/gen.py, and every kept regression
 * program (tools/fuzz/regressions/), shares: one BPF object each. */
#ifndef BPFEXC_FUZZ_H
#define BPFEXC_FUZZ_H

/* An object holds a task: an object a throw leaves held shows in the
 * task's rcu_users (see fz_probe). */
struct fz_obj {
	long v;
	struct task_struct __kptr *task;
};

extern struct task_struct *bpf_task_acquire(struct task_struct *p) __ksym;
extern void bpf_task_release(struct task_struct *p) __ksym;

/* A task that a static subprog acquires and returns. */
static __noinline __attribute__((unused)) struct task_struct *fz_task(void)
{
	return bpf_task_acquire(bpf_get_current_task_btf());
}

/* Ring buffer records and dynptrs that programs hold across calls. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 64 * 1024);
} fz_rb SEC(".maps");

/* Written by fz_probe, which exc_loader each runs before and after a
 * program's runs: the current task's rcu_users and RCU read nesting, the
 * bytes of fz_rb not consumed (exc_loader consumes the ring buffer
 * first: a record left reserved stops the consumer) and the users of the
 * task's mm (a task_vma iterator left undestroyed holds one). */
SEC(".bss.fz_leak") __hidden __attribute__((aligned(8))) __s64 fz_leak[4];

SEC("?syscall")
int fz_probe(void *ctx)
{
	struct task_struct *t = bpf_get_current_task_btf();

	fz_leak[0] = t->rcu_users.refs.counter;
	fz_leak[1] = t->rcu_read_lock_nesting;
	fz_leak[2] = bpf_ringbuf_query(&fz_rb, BPF_RB_AVAIL_DATA);
	fz_leak[3] = t->mm ? t->mm->mm_users.counter : 0;
	return 0;
}

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
