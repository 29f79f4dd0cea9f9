// SPDX-License-Identifier: GPL-2.0
/*
 * A module's own kernel objects, for cleanup on throw: kfuncs that
 * acquire and release objects of two types of this module, each with a
 * BTF destructor, and a count of the objects alive, which
 * tools/selftests/progs/exceptions_module.c reads before and after its
 * throws. The destructor of struct bpfexc_obj is marked CFI_NOSEAL(), as
 * vmlinux's are, and a throw calls it; that of struct bpfexc_sealed is
 * not, so with IBT objtool seals it (as bpf_testmod_ctx_release() of
 * 6.12's bpf_testmod is), and a throw that would have to call it through
 * a pointer is refused. bpfexc_task_acquire() acquires a vmlinux object,
 * the current task, whose destructor vmlinux registers.
 */
#include <linux/atomic.h>
#include <linux/bpf.h>
#include <linux/btf.h>
#include <linux/btf_ids.h>
#include <linux/cfi.h>
#include <linux/module.h>
#include <linux/sched.h>
#include <linux/slab.h>

struct bpfexc_obj {
	u64 value;
};

struct bpfexc_sealed {
	u64 value;
};

/* Objects of both types alive. */
static atomic64_t bpfexc_live = ATOMIC64_INIT(0);

__bpf_kfunc_start_defs();

__bpf_kfunc struct bpfexc_obj *bpfexc_obj_new(u64 value)
{
	struct bpfexc_obj *o = kmalloc(sizeof(*o), GFP_ATOMIC);

	if (!o)
		return NULL;
	o->value = value;
	atomic64_inc(&bpfexc_live);
	return o;
}

__bpf_kfunc void bpfexc_obj_release(struct bpfexc_obj *o)
{
	atomic64_dec(&bpfexc_live);
	kfree(o);
}

__bpf_kfunc void bpfexc_obj_release_dtor(void *o)
{
	bpfexc_obj_release(o);
}
CFI_NOSEAL(bpfexc_obj_release_dtor);

__bpf_kfunc struct bpfexc_sealed *bpfexc_sealed_new(void)
{
	struct bpfexc_sealed *o = kzalloc(sizeof(*o), GFP_ATOMIC);

	if (!o)
		return NULL;
	atomic64_inc(&bpfexc_live);
	return o;
}

__bpf_kfunc void bpfexc_sealed_release(struct bpfexc_sealed *o)
{
	atomic64_dec(&bpfexc_live);
	kfree(o);
}

__bpf_kfunc void bpfexc_sealed_release_dtor(void *o)
{
	bpfexc_sealed_release(o);
}

__bpf_kfunc s64 bpfexc_live_objects(void)
{
	return atomic64_read(&bpfexc_live);
}

/* A vmlinux object acquired by a module's kfunc: the current task, with
 * the reference bpf_task_acquire() takes, which bpf_task_release() and
 * the task's BTF destructor drop.
 */
__bpf_kfunc struct task_struct *bpfexc_task_acquire(void)
{
	return refcount_inc_not_zero(&current->rcu_users) ? current : NULL;
}

__bpf_kfunc s64 bpfexc_task_rcu_users(void)
{
	return refcount_read(&current->rcu_users);
}

__bpf_kfunc_end_defs();

BTF_KFUNCS_START(bpfexc_kfunc_ids)
BTF_ID_FLAGS(func, bpfexc_obj_new, KF_ACQUIRE | KF_RET_NULL)
BTF_ID_FLAGS(func, bpfexc_obj_release, KF_RELEASE)
BTF_ID_FLAGS(func, bpfexc_sealed_new, KF_ACQUIRE | KF_RET_NULL)
BTF_ID_FLAGS(func, bpfexc_sealed_release, KF_RELEASE)
BTF_ID_FLAGS(func, bpfexc_live_objects)
BTF_ID_FLAGS(func, bpfexc_task_acquire, KF_ACQUIRE | KF_RET_NULL)
BTF_ID_FLAGS(func, bpfexc_task_rcu_users)
BTF_KFUNCS_END(bpfexc_kfunc_ids)

static const struct btf_kfunc_id_set bpfexc_kfunc_set = {
	.owner = THIS_MODULE,
	.set = &bpfexc_kfunc_ids,
};

BTF_ID_LIST(bpfexc_dtor_ids)
BTF_ID(struct, bpfexc_obj)
BTF_ID(func, bpfexc_obj_release_dtor)
BTF_ID(struct, bpfexc_sealed)
BTF_ID(func, bpfexc_sealed_release_dtor)

static int __init bpfexc_testmod_init(void)
{
	const struct btf_id_dtor_kfunc dtors[] = {
		{ .btf_id = bpfexc_dtor_ids[0], .kfunc_btf_id = bpfexc_dtor_ids[1] },
		{ .btf_id = bpfexc_dtor_ids[2], .kfunc_btf_id = bpfexc_dtor_ids[3] },
	};
	int ret;

	/* TC for the throw_* programs; fentry and kprobe for the programs
	 * that trace the destructor and throw there.
	 */
	ret = register_btf_kfunc_id_set(BPF_PROG_TYPE_SCHED_CLS, &bpfexc_kfunc_set);
	ret = ret ?: register_btf_kfunc_id_set(BPF_PROG_TYPE_TRACING, &bpfexc_kfunc_set);
	ret = ret ?: register_btf_kfunc_id_set(BPF_PROG_TYPE_KPROBE, &bpfexc_kfunc_set);
	return ret ?: register_btf_id_dtor_kfuncs(dtors, ARRAY_SIZE(dtors), THIS_MODULE);
}

static void __exit bpfexc_testmod_exit(void)
{
}

module_init(bpfexc_testmod_init);
module_exit(bpfexc_testmod_exit);
MODULE_DESCRIPTION("Kernel objects of a module, released by BPF throws");
MODULE_LICENSE("GPL");
