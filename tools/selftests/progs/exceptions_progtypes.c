// SPDX-License-Identifier: GPL-2.0
/*
 * bpf_throw() in every program type (patch 14 of the series).
 *
 * Stock 6.12 gives bpf_throw() to the tracing, TC, XDP, struct_ops,
 * syscall and cgroup kfunc hooks (the tracing hook also serves tracepoint,
 * perf_event and LSM programs); it refuses the kprobe_*, socket_*,
 * action_*, lwt_*, sk_*, sockops_*, raw_tp_* and flow_dissector_*
 * programs below with "calling kernel function bpf_throw is not allowed".
 * The cookie is checked against the return range of each type, as a
 * return value is.
 *
 * tools/selftests/exc_loader.c runs this object in mode "spec" (tags as
 * upstream's test_loader reads them; __retval runs the program once on
 * pkt_v4) and in mode "progtypes", which attaches kprobe_throw_held,
 * kprobe_override_throws, fmod_ret_throws, fentry_s_throw_held and
 * lsm_throw_held and
 * checks what their throws do to the syscalls that run them, and that
 * they leave nothing held.
 */
#include <vmlinux.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include "bpf_misc.h"
#include "bpf_experimental.h"

#define EPERM 1

char _license[] SEC("license") = "GPL";

struct pt_state {
	/* In: the loader's process; the attached programs throw only in it. */
	__u32 target_pid;
	__u32 pad;
	/* What probe reads: the loader's RCU read nesting and rcu_users, and
	 * the reference count of its executable's file.
	 */
	__s64 rcu_nesting;
	__u64 rcu_users;
	__s64 exe_count;
	/* Its usage and its mm's mm_users, which a task_vma iterator holds
	 * (with the file of the VMA it is at: the executable's, first).
	 */
	__u64 usage;
	__s64 mm_users;
};

struct pt_state state;

static __always_inline bool in_target(void)
{
	return (bpf_get_current_pid_tgid() >> 32) == state.target_pid;
}

SEC("?syscall")
int probe(void *ctx)
{
	struct task_struct *t = bpf_get_current_task_btf();

	state.rcu_nesting = t->rcu_read_lock_nesting;
	state.rcu_users = t->rcu_users.refs.counter;
	state.exe_count = t->mm->exe_file->f_count.counter;
	state.usage = t->usage.refs.counter;
	state.mm_users = t->mm->mm_users.counter;
	return 0;
}

/* Types with a test run: the cookie is what the run returns. */
SEC("?socket")
__success __retval(21)
int socket_throws(struct __sk_buff *skb)
{
	if (skb->len)
		bpf_throw(21);
	return 0;
}

SEC("?action")
__success __retval(22)
int action_throws(struct __sk_buff *skb)
{
	if (skb->len)
		bpf_throw(22);
	return 0;
}

SEC("?lwt_in")
__success __retval(23)
int lwt_in_throws(struct __sk_buff *skb)
{
	if (skb->len)
		bpf_throw(23);
	return 0;
}

static __noinline int deep(struct __sk_buff *skb)
{
	if (skb->len)
		bpf_throw(24);
	return 0;
}

/* From a subprog, with an RCU read section held. */
SEC("?socket")
__success __retval(24)
int socket_throws_held(struct __sk_buff *skb)
{
	int r;

	bpf_rcu_read_lock();
	r = deep(skb);
	bpf_rcu_read_unlock();
	return r;
}

/* Types without a test run: they load. */
SEC("?kprobe")
__success
int kprobe_throws(struct pt_regs *ctx)
{
	bpf_throw(0);
	return 0;
}

SEC("?raw_tp/sys_enter")
__success
int raw_tp_throws(void *ctx)
{
	bpf_throw(0);
	return 0;
}

SEC("?sk_skb/stream_verdict")
__success
int sk_skb_throws(struct __sk_buff *skb)
{
	bpf_throw(SK_DROP);
	return SK_PASS;
}

SEC("?sk_msg")
__success
int sk_msg_throws(struct sk_msg_md *msg)
{
	bpf_throw(SK_DROP);
	return SK_PASS;
}

SEC("?sockops")
__success
int sockops_throws(struct bpf_sock_ops *ops)
{
	bpf_throw(1);
	return 1;
}

SEC("?flow_dissector")
__success
int flow_dissector_throws(struct __sk_buff *skb)
{
	bpf_throw(BPF_DROP);
	return BPF_OK;
}

SEC("?sk_reuseport")
__success
int sk_reuseport_throws(struct sk_reuseport_md *md)
{
	bpf_throw(SK_DROP);
	return SK_PASS;
}

/* The return range of the type applies to the cookie. */
SEC("?sk_lookup")
__success
int sk_lookup_throws(struct bpf_sk_lookup *ctx)
{
	bpf_throw(SK_DROP);
	return SK_PASS;
}

SEC("?sk_lookup")
__failure __msg("R1 has smin=2 smax=2 should have been in [0, 1]")
int sk_lookup_throws_out_of_range(struct bpf_sk_lookup *ctx)
{
	bpf_throw(2);
	return SK_PASS;
}

SEC("?lsm/file_mprotect")
__failure __msg("R1 has smin=1 smax=1 should have been in [-4095, 0]")
int lsm_throws_out_of_range(void *ctx)
{
	bpf_throw(1);
	return 0;
}

SEC("?cgroup/sock_create")
__failure __msg("R1 has smin=2 smax=2 should have been in [0, 1]")
int cgroup_throws_out_of_range(struct bpf_sock *sk)
{
	bpf_throw(2);
	return 1;
}

/*
 * Attached by exc_loader progtypes. A kprobe on getppid() that throws in
 * the loader while it holds an RCU read section and an iterator: the
 * syscall returns as usual, and the probe sees no RCU section left held.
 */
SEC("?kprobe")
__success
int kprobe_throw_held(struct pt_regs *ctx)
{
	int i;

	bpf_rcu_read_lock();
	bpf_for(i, 0, 4) {
		if (in_target())
			bpf_throw(0);
	}
	bpf_rcu_read_unlock();
	return 0;
}

/* The syscall getpgid(), which the programs below trace: a function on
 * the error injection list, so a kprobe may override its return value
 * and a sleepable fentry may trace it.
 */
#if defined(__TARGET_ARCH_x86)
#define SYS_GETPGID "__x64_sys_getpgid"
#elif defined(__TARGET_ARCH_arm64)
#define SYS_GETPGID "__arm64_sys_getpgid"
#endif

#define OVERRIDDEN 4242

/*
 * Attached by exc_loader progtypes to getpgid(). A kprobe that overrides
 * the return value of the loader's getpgid() calls, then throws with an
 * RCU read section and an iterator held: the override stands (getpgid()
 * returns OVERRIDDEN without running), the throw unwinds the program
 * only, and nothing stays held.
 */
SEC("?kprobe")
__success
int kprobe_override_throws(struct pt_regs *ctx)
{
	int i;

	if (!in_target())
		return 0;
	bpf_rcu_read_lock();
	bpf_for(i, 0, 4) {
		bpf_override_return(ctx, OVERRIDDEN);
		bpf_throw(0);
	}
	bpf_rcu_read_unlock();
	return 0;
}

#define MODIFIED 4343

/*
 * Attached by exc_loader progtypes. An fmod_ret program on getpgid()
 * whose return value, when not 0, is the function's, which then does not
 * run: its throw's cookie is that value. It throws in the loader with an
 * RCU read section and an iterator held.
 */
SEC("?fmod_ret/" SYS_GETPGID)
__success
int BPF_PROG(fmod_ret_throws, struct pt_regs *regs)
{
	int i;

	if (!in_target())
		return 0;
	bpf_rcu_read_lock();
	bpf_for(i, 0, 4)
		bpf_throw(MODIFIED);
	bpf_rcu_read_unlock();
	return 0;
}

/*
 * Attached by exc_loader progtypes. A sleepable fentry on getpgid() that
 * throws in the loader while it holds a task reference, a task_vma
 * iterator after its first step (which holds the task, its mm and the
 * file of that VMA, the executable's) and an RCU read section:
 * getpgid() runs as usual, and nothing stays held.
 */
SEC("?fentry.s/" SYS_GETPGID)
__success
int BPF_PROG(fentry_s_throw_held, struct pt_regs *regs)
{
	struct bpf_iter_task_vma it;
	struct task_struct *t;

	if (!in_target())
		return 0;
	t = bpf_task_acquire(bpf_get_current_task_btf());
	if (!t)
		return 0;
	bpf_iter_task_vma_new(&it, t, 0);
	if (bpf_iter_task_vma_next(&it)) {
		bpf_rcu_read_lock();
		bpf_throw(0);
		bpf_rcu_read_unlock();
	}
	bpf_iter_task_vma_destroy(&it);
	bpf_task_release(t);
	return 0;
}

extern struct file *bpf_get_task_exe_file(struct task_struct *task) __weak __ksym;
extern void bpf_put_file(struct file *file) __weak __ksym;

/* An LSM program that holds a task reference and the file of the task's
 * executable (which has no BTF destructor: the throw releases it with
 * bpf_put_file()) and denies an mprotect() of the loader to PROT_READ |
 * PROT_WRITE | PROT_EXEC by throwing -EPERM.
 */
SEC("?lsm/file_mprotect")
__success
int BPF_PROG(lsm_throw_held, struct vm_area_struct *vma, unsigned long reqprot,
	     unsigned long prot, int ret)
{
	struct task_struct *t;
	struct file *f;

	if (ret || !in_target() || prot != 7)
		return ret;
	t = bpf_task_acquire(bpf_get_current_task_btf());
	if (!t)
		return 0;
	f = bpf_get_task_exe_file(t);
	if (!f) {
		bpf_task_release(t);
		return 0;
	}
	bpf_throw(-EPERM);
	bpf_put_file(f);
	bpf_task_release(t);
	return 0;
}
