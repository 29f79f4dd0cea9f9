// SPDX-License-Identifier: GPL-2.0
/*
 * Faults of BPF exceptions that stock 6.12.117 has, each as a program that
 * our kernel must handle right. Annotated like upstream's
 * progs/exceptions_fail.c and run by tools/selftests/exc_loader.c on pkt_v4
 * (ctx->len is 54); `make faults-stock` runs the same programs on stock.
 *
 * dce_*: a static subprog that is only called under a const volatile flag,
 * 0 at load time, is removed as dead code. When it lies before the
 * exception callback (libbpf appends the callback after the subprogs the
 * program calls), stock keeps the callback's old subprog index: a throw
 * enters the wrong function, or one past the end of the program.
 *
 * *_range: with the default callback the cookie is the program's return
 * value. Stock checks it against the program type's range only when the
 * throw is verified in the main program's frame, not in a global subprog.
 *
 * freplace_target*: dead code removal does not move func_info_aux on
 * stock either, so "Cannot replace static functions" is decided with the
 * flags of another function (exceptions_faults_ext.checks).
 *
 * fexit_target: the functions that exceptions_faults_ext.checks attaches
 * fexit programs to; a throw may unwind through some of them.
 *
 * reject_callback_*, reject_dynptr_*, accept_callback_*, accept_submit_*:
 * faults of 6.12's verifier (not of exceptions) that callbacks and
 * subprogs reach with pointers to their callers' stacks: warnings,
 * leaks, ring buffer records submitted twice (patches 15-18).
 */
#include <vmlinux.h>
#include <bpf/bpf_helpers.h>
#include "bpf_misc.h"
#include "bpf_experimental.h"

const volatile int dead_flag;

__noinline int throw_64_global(struct __sk_buff *ctx)
{
	if (ctx->len)
		bpf_throw(64);
	return 0;
}

__noinline int throw_1_global(struct __sk_buff *ctx)
{
	if (ctx->len)
		bpf_throw(1);
	return 0;
}

static __noinline int throw_64_static(struct __sk_buff *ctx)
{
	if (ctx->len)
		bpf_throw(64);
	return 0;
}

__noinline int global_calls_static_throw(struct __sk_buff *ctx)
{
	return throw_64_static(ctx);
}

SEC("cgroup_skb/ingress")
__failure __msg("At program exit the register R1 has smin=64 smax=64 should have been in [0, 1]")
int reject_global_throw_out_of_range(struct __sk_buff *ctx)
{
	return throw_64_global(ctx) ? 1 : 0;
}

SEC("cgroup_skb/ingress")
__failure __msg("At program exit the register R1 has smin=64 smax=64 should have been in [0, 1]")
int reject_global_static_throw_out_of_range(struct __sk_buff *ctx)
{
	return global_calls_static_throw(ctx) ? 1 : 0;
}

SEC("cgroup_skb/ingress")
__failure __msg("At program exit the register R1 has smin=64 smax=64 should have been in [0, 1]")
int reject_static_throw_out_of_range(struct __sk_buff *ctx)
{
	return throw_64_static(ctx) ? 1 : 0;
}

SEC("cgroup_skb/ingress")
__success __retval(1)
int accept_global_throw_in_range(struct __sk_buff *ctx)
{
	return throw_1_global(ctx) ? 0 : 0;
}

__noinline int tracing_throw_global(u64 x)
{
	if (x)
		bpf_throw(64);
	return 0;
}

SEC("fentry/bpf_fentry_test1")
__failure __msg("At program exit the register R1 has smin=64 smax=64 should have been in [0, 0]")
int reject_fentry_global_throw_out_of_range(u64 *ctx)
{
	return tracing_throw_global(ctx[0]) ? 0 : 0;
}

__noinline int dead_global(struct __sk_buff *ctx)
{
	return ctx->len + 2000;
}

/* Called with a scalar where its BTF says a pointer: "unreliable". */
static __noinline int takes_ptr(int *p)
{
	if (!p)
		return 0;
	return 7;
}

SEC("tc")
__success __retval(7)
int freplace_target(struct __sk_buff *ctx)
{
	if (dead_flag)
		return dead_global(ctx);
	return takes_ptr((int *)(long)ctx->len);
}

SEC("tc")
__success __retval(7)
int freplace_target_no_dce(struct __sk_buff *ctx)
{
	if (ctx->len == 1)
		return dead_global(ctx);
	return takes_ptr((int *)(long)ctx->len);
}

static __noinline int fexit_throwing(struct __sk_buff *ctx)
{
	if (ctx->len)
		bpf_throw(5);
	return 0;
}

static __noinline int fexit_calls_throwing(struct __sk_buff *ctx)
{
	return fexit_throwing(ctx) + 1;
}

static __noinline int fexit_quiet(struct __sk_buff *ctx)
{
	return ctx->len;
}

SEC("tc")
__success __retval(5)
int fexit_target(struct __sk_buff *ctx)
{
	int r = fexit_quiet(ctx);

	return fexit_calls_throwing(ctx) + r;
}

/* A callback may not release what its caller holds, and stock's verifier
 * warns (WARN_ON_ONCE, a stack trace on the console; a crash with
 * panic_on_warn) when a callback tries, with the caller's stack as its
 * ctx (patch 15); the guest's console check fails the run on a warning.
 * The programs after these are the faults the reviews of that patch
 * found: a reference a callback's subprog acquired (patch 16), a stale
 * slice slot (patch 17) and dynptr clones in other frames (patch 18).
 * Each program's comment says what stock does with it.
 */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} faults_rb SEC(".maps");

extern struct task_struct *bpf_task_from_pid(s32 pid) __ksym;
extern void bpf_task_release(struct task_struct *p) __ksym;

static int destroy_callers_iter(__u32 i, void *it)
{
	bpf_iter_num_destroy(it);
	return 1;
}

SEC("tc")
__failure __msg("cannot destroy an iterator of a caller in a callback")
int reject_callback_destroys_callers_iter(struct __sk_buff *ctx)
{
	struct bpf_iter_num it;

	bpf_iter_num_new(&it, 0, 10);
	bpf_loop(1, destroy_callers_iter, &it, 0);
	bpf_iter_num_destroy(&it);
	return 0;
}

static int discard_callers_dynptr(__u32 i, void *ptr)
{
	bpf_ringbuf_discard_dynptr(ptr, 0);
	return 1;
}

SEC("tc")
__failure __msg("cannot release a dynptr of a caller in a callback")
int reject_callback_discards_callers_dynptr(struct __sk_buff *ctx)
{
	struct bpf_dynptr ptr;

	bpf_ringbuf_reserve_dynptr(&faults_rb, 8, 0, &ptr);
	bpf_loop(1, discard_callers_dynptr, &ptr, 0);
	bpf_ringbuf_discard_dynptr(&ptr, 0);
	return 0;
}

extern int bpf_dynptr_clone(const struct bpf_dynptr *ptr,
			    struct bpf_dynptr *clone__init) __ksym __weak;

static int submits_clone_of_callers_dynptr(__u32 i, void *ptr)
{
	struct bpf_dynptr clone;

	bpf_dynptr_clone(ptr, &clone);
	bpf_ringbuf_submit_dynptr(&clone, 0);
	return 1;
}

/* Stock warns, then accepts it, and the record is committed twice. */
SEC("tc")
__failure __msg("cannot release a dynptr of a caller in a callback")
int reject_callback_submits_clone_of_callers_dynptr(struct __sk_buff *ctx)
{
	struct bpf_dynptr ptr;

	bpf_ringbuf_reserve_dynptr(&faults_rb, 8, 0, &ptr);
	bpf_loop(1, submits_clone_of_callers_dynptr, &ptr, 0);
	bpf_ringbuf_submit_dynptr(&ptr, 0);
	return 0;
}

static __noinline int submit_dynptr(struct bpf_dynptr *ptr)
{
	bpf_ringbuf_submit_dynptr(ptr, 0);
	return 0;
}

static int clone_submitted_by_subprog(__u32 i, void *ptr)
{
	struct bpf_dynptr clone;

	bpf_dynptr_clone(ptr, &clone);
	return submit_dynptr(&clone);
}

/* A subprog of the callback (not a callback itself) may release the
 * caller's reference; stock leaves the caller's dynptr valid and accepts
 * the program, which commits the record twice. Patch 18 invalidates it.
 */
SEC("tc")
__failure __msg("arg 1 is an unacquired reference")
int reject_dynptr_after_clone_submitted_in_callback(struct __sk_buff *ctx)
{
	struct bpf_dynptr ptr;

	bpf_ringbuf_reserve_dynptr(&faults_rb, 8, 0, &ptr);
	bpf_loop(1, clone_submitted_by_subprog, &ptr, 0);
	bpf_ringbuf_submit_dynptr(&ptr, 0);
	return 0;
}

static __noinline int clone_and_submit(struct bpf_dynptr *ptr)
{
	struct bpf_dynptr clone;

	bpf_dynptr_clone(ptr, &clone);
	bpf_ringbuf_submit_dynptr(&clone, 0);
	return 0;
}

/* Without a callback: stock lets the caller write into the record its
 * callee submitted.
 */
SEC("tc")
__failure __msg("Expected an initialized dynptr as arg #0")
int reject_dynptr_write_after_callee_submitted_clone(struct __sk_buff *ctx)
{
	struct bpf_dynptr ptr;
	__u64 v = 1;

	bpf_ringbuf_reserve_dynptr(&faults_rb, 8, 0, &ptr);
	clone_and_submit(&ptr);
	bpf_dynptr_write(&ptr, 0, &v, sizeof(v), 0);
	return 0;
}

static __noinline int get_task(struct task_struct **task)
{
	*task = bpf_task_from_pid(1);
	return 0;
}

static int task_from_subprog(__u32 i, void *task)
{
	return get_task(task);
}

/* Stock accepts it and leaks a task reference on every run: the callback
 * drops what its subprog acquired unchecked. Patch 16 makes it the
 * callback's to release.
 */
SEC("tc")
__failure __msg("Unreleased reference")
int reject_callback_subprog_leaks_task(struct __sk_buff *ctx)
{
	struct task_struct *task = NULL;

	bpf_loop(1, task_from_subprog, &task, 0);
	return 0;
}

static __noinline void *reserve_record(void)
{
	return bpf_ringbuf_reserve(&faults_rb, 8, 0);
}

static int submits_subprogs_record(__u32 i, void *ctx)
{
	void *rec = reserve_record();

	if (rec)
		bpf_ringbuf_submit(rec, 0);
	return 0;
}

/* What a callback's subprog acquires is the callback's (patch 16), which
 * may release it: stock refuses this, with a warning at the NULL check.
 */
SEC("tc")
__success __retval(0)
int accept_callback_releases_subprogs_record(struct __sk_buff *ctx)
{
	bpf_loop(2, submits_subprogs_record, NULL, 0);
	return 0;
}

/* Spills a slice of the dynptr at R1 to fp-16 and overwrites half of it
 * (STACK_MISC, whose stale ref_obj_id is the dynptr's), then submits the
 * dynptr.
 */
static __naked __noinline __used int stale_slice_then_submit(void)
{
	asm volatile (
	"r6 = r1;"
	"r2 = 0;"
	"r3 = 8;"
	"call %[bpf_dynptr_data];"
	"if r0 == 0 goto 1f;"
	"*(u64 *)(r10 - 16) = r0;"
	"r1 = 0;"
	"*(u32 *)(r10 - 12) = r1;"
"1:"
	"r1 = r6;"
	"r2 = 0;"
	"call %[bpf_ringbuf_submit_dynptr];"
	"r0 = 0;"
	"exit;"
	:
	: __imm(bpf_dynptr_data), __imm(bpf_ringbuf_submit_dynptr)
	: __clobber_all);
}

/* Patch 18 looks for clones in every frame, but (patch 17) only at dynptr
 * slots: the callee's stale slot must not make it a verifier error. Stock
 * accepts it (it looks at the dynptr's frame only).
 */
SEC("tc")
__success __retval(0)
__naked int accept_submit_with_stale_slice_in_callee(void)
{
	asm volatile (
	"r1 = %[faults_rb] ll;"
	"r2 = 8;"
	"r3 = 0;"
	"r4 = r10;"
	"r4 += -16;"
	"call %[bpf_ringbuf_reserve_dynptr];"
	"r1 = r10;"
	"r1 += -16;"
	"call stale_slice_then_submit;"
	"r0 = 0;"
	"exit;"
	:
	: __imm_addr(faults_rb), __imm(bpf_ringbuf_reserve_dynptr)
	: __clobber_all);
}

/* The same in one frame: stock refuses it with "verifier internal error:
 * misconfigured ref_obj_id" (patch 17).
 */
SEC("tc")
__success __retval(0)
__naked int accept_submit_with_stale_slice(void)
{
	asm volatile (
	"r1 = %[faults_rb] ll;"
	"r2 = 8;"
	"r3 = 0;"
	"r4 = r10;"
	"r4 += -16;"
	"call %[bpf_ringbuf_reserve_dynptr];"
	"r1 = r10;"
	"r1 += -16;"
	"r2 = 0;"
	"r3 = 8;"
	"call %[bpf_dynptr_data];"
	"if r0 == 0 goto 1f;"
	"*(u64 *)(r10 - 24) = r0;"
	"r1 = 0;"
	"*(u32 *)(r10 - 20) = r1;"
"1:"
	"r1 = r10;"
	"r1 += -16;"
	"r2 = 0;"
	"call %[bpf_ringbuf_submit_dynptr];"
	"r0 = 0;"
	"exit;"
	:
	: __imm_addr(faults_rb), __imm(bpf_ringbuf_reserve_dynptr), __imm(bpf_dynptr_data),
	  __imm(bpf_ringbuf_submit_dynptr)
	: __clobber_all);
}

static int null_checks_callers_task(__u32 i, void *ctx)
{
	struct task_struct **task = ctx;

	return *task ? 0 : 1;
}

/* The NULL check in the callback cannot release the caller's reference:
 * the caller still holds it where its own copy is NULL, and leaks it.
 */
SEC("tc")
__failure __msg("Unreleased reference")
int reject_callback_null_checks_callers_task(struct __sk_buff *ctx)
{
	struct task_struct *task = bpf_task_from_pid(1);

	bpf_loop(1, null_checks_callers_task, &task, 0);
	if (task)
		bpf_task_release(task);
	return 0;
}

/* The same held reference at a throw: nothing holds it where the callback
 * saw NULL, so there is nothing to release either; a throw does not take
 * it for a resource to release, and is refused as on stock.
 */
SEC("tc")
__failure __msg("Unreleased reference id=2 alloc_insn=1")
int reject_throw_after_callback_saw_null(struct __sk_buff *ctx)
{
	struct task_struct *task = bpf_task_from_pid(1);

	bpf_loop(1, null_checks_callers_task, &task, 0);
	if (task)
		bpf_task_release(task);
	bpf_throw(7);
	return 0;
}

static __noinline int dead_static(struct __sk_buff *ctx)
{
	return ctx->len + 1000;
}

__noinline int dce_cb(u64 cookie)
{
	return cookie + 1;
}

static __noinline u64 cb_helper(u64 x)
{
	return x * 3;
}

__noinline int dce_cb_calls(u64 cookie)
{
	return cb_helper(cookie) + 2;
}

/* Stock jumps into cb_helper() and oopses: after the rest. */
SEC("tcx/egress")
__exception_cb(dce_cb_calls)
__success __retval(128)
int dce_callback_then_helper(struct __sk_buff *ctx)
{
	if (dead_flag)
		return dead_static(ctx);
	bpf_throw(42);
	return 0;
}

/* The same shape, without dead code: both kernels agree. */
SEC("tc")
__exception_cb(dce_cb_calls)
__success __retval(128)
int no_dce_callback_then_helper(struct __sk_buff *ctx)
{
	if (ctx->len == 1)
		return dead_static(ctx);
	bpf_throw(42);
	return 0;
}

/* Stock reads past func[] and oopses: last, in a section of its own. */
SEC("tcx/ingress")
__exception_cb(dce_cb)
__success __retval(43)
int dce_callback_after_dead_subprog(struct __sk_buff *ctx)
{
	if (dead_flag)
		return dead_static(ctx);
	bpf_throw(42);
	return 0;
}

char _license[] SEC("license") = "GPL";
