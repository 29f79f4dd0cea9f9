// SPDX-License-Identifier: GPL-2.0
/*
 * Cleanup on throw of a module's kernel objects: struct bpfexc_obj of
 * tools/selftests/bpfexc_testmod, whose kfuncs acquire and release it and
 * whose BTF destructor a throw calls, held in the main program, in a
 * static subprog, at a call of a global function that may throw (which
 * stock 6.12 loads, and leaks on), on some paths only, and taken out of
 * a map's kptr field. struct bpfexc_sealed has a destructor that objtool
 * seals with IBT (no CFI_NOSEAL()), as 6.12's bpf_testmod_ctx_release()
 * is: an indirect call of it would fault on a CPU with IBT, so on x86-64
 * a throw holding one is refused, with upstream's message.
 *
 * A task that the module's bpfexc_task_acquire() takes is a vmlinux
 * object that a module's kfunc acquired: its register has the module's
 * (split) BTF, and the task's destructor is vmlinux's.
 *
 * tools/selftests/exc_loader.c runs this object in mode "spec" (the
 * tags) and in mode "module": each throw_* program N times, and probe,
 * whose return value is the module's count of live objects, and
 * task_probe, the current task's rcu_users, before and after, which
 * must be equal. Then it attaches dtor_fentry_throws and
 * dtor_kprobe_throws to the destructor that the throws call, and runs
 * the throw_obj_* programs again.
 */
#include <vmlinux.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include "bpf_misc.h"
#include "bpf_experimental.h"

#define COOKIE 7

struct bpfexc_obj {
	__u64 value;
};

struct bpfexc_sealed {
	__u64 value;
};

extern struct bpfexc_obj *bpfexc_obj_new(__u64 value) __ksym;
extern void bpfexc_obj_release(struct bpfexc_obj *o) __ksym;
extern struct bpfexc_sealed *bpfexc_sealed_new(void) __ksym;
extern void bpfexc_sealed_release(struct bpfexc_sealed *o) __ksym;
extern __s64 bpfexc_live_objects(void) __ksym;
extern struct task_struct *bpfexc_task_acquire(void) __ksym;
extern __s64 bpfexc_task_rcu_users(void) __ksym;
extern void bpf_task_release(struct task_struct *p) __ksym;

struct kept {
	struct bpfexc_obj __kptr *obj;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, int);
	__type(value, struct kept);
} kept SEC(".maps");

/* The module's objects alive. */
SEC("tc")
__success
int probe(struct __sk_buff *skb)
{
	return bpfexc_live_objects();
}

/* The current task's rcu_users, which bpfexc_task_acquire() takes. */
SEC("tc")
__success
int task_probe(struct __sk_buff *skb)
{
	return bpfexc_task_rcu_users();
}

/* Puts an object in kept (the control: probe sees one more). */
SEC("tc")
__success __retval(0)
int keep_obj(struct __sk_buff *skb)
{
	struct bpfexc_obj *o = bpfexc_obj_new(1);
	struct kept *k;

	if (!o)
		return 1;
	k = bpf_map_lookup_elem(&kept, &(int){ 0 });
	if (!k) {
		bpfexc_obj_release(o);
		return 2;
	}
	o = bpf_kptr_xchg(&k->obj, o);
	if (o)
		bpfexc_obj_release(o);
	return 0;
}

SEC("tc")
__success __retval(7)
int throw_obj_main(struct __sk_buff *skb)
{
	struct bpfexc_obj *o = bpfexc_obj_new(skb->len);

	if (!o)
		return 1;
	if (skb->len)
		bpf_throw(COOKIE);
	bpfexc_obj_release(o);
	return 0;
}

static __noinline int static_throws(struct __sk_buff *skb)
{
	if (skb->len)
		bpf_throw(COOKIE);
	return 0;
}

__noinline int global_throws(struct __sk_buff *skb)
{
	if (skb->len)
		bpf_throw(COOKIE);
	return 0;
}

SEC("tc")
__success __retval(7)
int throw_obj_static_subprog(struct __sk_buff *skb)
{
	struct bpfexc_obj *o = bpfexc_obj_new(skb->len);
	int r;

	if (!o)
		return 1;
	r = static_throws(skb);
	bpfexc_obj_release(o);
	return r;
}

/* Stock 6.12 loads this one: it does not look at what a caller of a
 * global function that may throw holds, and leaks the object at each
 * throw.
 */
SEC("tc")
__success __retval(7)
int throw_obj_global(struct __sk_buff *skb)
{
	struct bpfexc_obj *o = bpfexc_obj_new(skb->len);
	int r;

	if (!o)
		return 1;
	r = global_throws(skb);
	bpfexc_obj_release(o);
	return r;
}

/* One object in the main program, one in the subprog that throws. */
static __noinline int holds_then_throws(struct __sk_buff *skb)
{
	struct bpfexc_obj *o = bpfexc_obj_new(2);

	if (!o)
		return 1;
	if (skb->len)
		bpf_throw(COOKIE);
	bpfexc_obj_release(o);
	return 0;
}

SEC("tc")
__success __retval(7)
int throw_obj_two_frames(struct __sk_buff *skb)
{
	struct bpfexc_obj *o = bpfexc_obj_new(1);
	int r;

	if (!o)
		return 1;
	r = holds_then_throws(skb);
	bpfexc_obj_release(o);
	return r;
}

/* Acquired on some paths only: NULL on the others. */
SEC("tc")
__success __retval(7)
int throw_obj_maybe(struct __sk_buff *skb)
{
	struct bpfexc_obj *o = NULL;

	if (skb->len > 1000)
		o = bpfexc_obj_new(3);
	if (skb->len)
		bpf_throw(COOKIE);
	if (o)
		bpfexc_obj_release(o);
	return 0;
}

/* A new object into kept, and the one it held out, held at the throw:
 * kept keeps one object, and the throw releases the other (a new one
 * where kept was empty: the spec run loads the program on its own).
 */
SEC("tc")
__success __retval(7)
int throw_obj_from_map(struct __sk_buff *skb)
{
	struct bpfexc_obj *o = bpfexc_obj_new(4);
	struct kept *k;

	if (!o)
		return 1;
	k = bpf_map_lookup_elem(&kept, &(int){ 0 });
	if (!k) {
		bpfexc_obj_release(o);
		return 2;
	}
	o = bpf_kptr_xchg(&k->obj, o);
	if (!o)
		o = bpfexc_obj_new(5);
	if (!o)
		return 3;
	if (skb->len)
		bpf_throw(COOKIE);
	bpfexc_obj_release(o);
	return 0;
}

/* A vmlinux object (a task) acquired by the module's kfunc: the register
 * has the module's BTF, and the destructor is vmlinux's. Stock loads
 * throw_module_task_global and leaks the task at each throw.
 */
SEC("tc")
__success __retval(7)
int throw_module_task(struct __sk_buff *skb)
{
	struct task_struct *t = bpfexc_task_acquire();

	if (!t)
		return 1;
	if (skb->len)
		bpf_throw(COOKIE);
	bpf_task_release(t);
	return 0;
}

SEC("tc")
__success __retval(7)
int throw_module_task_global(struct __sk_buff *skb)
{
	struct task_struct *t = bpfexc_task_acquire();
	int r;

	if (!t)
		return 1;
	r = global_throws(skb);
	bpf_task_release(t);
	return r;
}

/* The control: the sealed type itself is fine. */
SEC("tc")
__success __retval(0)
int sealed_release(struct __sk_buff *skb)
{
	struct bpfexc_sealed *s = bpfexc_sealed_new();

	if (!s)
		return 1;
	bpfexc_sealed_release(s);
	return 0;
}

SEC("tc")
#ifdef __TARGET_ARCH_x86
__failure __msg("Unreleased reference")
#else
__success __retval(7)
#endif
int sealed_throw(struct __sk_buff *skb)
{
	struct bpfexc_sealed *s = bpfexc_sealed_new();

	if (!s)
		return 1;
	if (skb->len)
		bpf_throw(COOKIE);
	bpfexc_sealed_release(s);
	return 0;
}

/* The destructor traced. A throw of throw_obj_* calls
 * bpfexc_obj_release_dtor(); these two, attached to it by exc_loader,
 * take an object of the same type and throw, so that their own throw
 * calls the traced destructor again from inside the first throw, and
 * the other program (or the same one) runs there. The trampoline's and
 * the kprobe's recursion checks end the nesting; each object is released
 * once, and the live count comes back.
 */
struct {
	__u64 fentry, kprobe;
} dtor_runs;

SEC("?fentry/bpfexc_obj_release_dtor")
__success
int BPF_PROG(dtor_fentry_throws, void *obj)
{
	struct bpfexc_obj *o;

	__sync_fetch_and_add(&dtor_runs.fentry, 1);
	o = bpfexc_obj_new(8);
	if (!o)
		return 0;
	if (obj)
		bpf_throw(0);
	bpfexc_obj_release(o);
	return 0;
}

SEC("?kprobe/bpfexc_obj_release_dtor")
__success
int dtor_kprobe_throws(struct pt_regs *ctx)
{
	struct bpfexc_obj *o;

	__sync_fetch_and_add(&dtor_runs.kprobe, 1);
	o = bpfexc_obj_new(9);
	if (!o)
		return 0;
	if (PT_REGS_PARM1(ctx))
		bpf_throw(0);
	bpfexc_obj_release(o);
	return 0;
}

char _license[] SEC("license") = "GPL";
