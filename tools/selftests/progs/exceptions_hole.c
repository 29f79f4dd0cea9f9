// SPDX-License-Identifier: GPL-2.0
/*
 * A global subprog is verified on its own, with nothing held. Stock 6.12
 * therefore accepts a call to a global subprog that throws while the caller
 * holds an RCU read section or a bpf_obj_new() object, and every throw
 * leaves the section open or leaks the object. Our verifier rejects such a
 * call, directly or through further calls; a caller that holds nothing may
 * still make it. Annotated like upstream's progs/exceptions_fail.c and run
 * by tools/selftests/exc_loader.c on pkt_v4 (ctx->len is 54). The accept_*
 * programs are also the targets of exceptions_hole_ext.checks: an freplace
 * program that may throw cannot replace a global function that its caller
 * calls while holding a reference or an RCU read section.
 */
#include <vmlinux.h>
#include <bpf/bpf_helpers.h>
#include "bpf_misc.h"
#include "bpf_experimental.h"

#define private(name) SEC(".bss." #name) __hidden __attribute__((aligned(8)))

struct foo {
	int v;
};

private(A) struct bpf_spin_lock lock;

__noinline int throwing_global(struct __sk_buff *ctx)
{
	if (ctx->len)
		bpf_throw(7);
	return 0;
}

__noinline int calls_throwing_global(struct __sk_buff *ctx)
{
	return throwing_global(ctx) + 1;
}

static __noinline int static_calls_throwing_global(struct __sk_buff *ctx)
{
	return throwing_global(ctx) + 2;
}

__noinline int quiet_global(struct __sk_buff *ctx)
{
	return ctx->len;
}

SEC("?tc")
__failure __msg("('throwing_global') may throw: bpf_throw cannot be used inside bpf_rcu_read_lock-ed region")
int reject_rcu_global(struct __sk_buff *ctx)
{
	int r;

	bpf_rcu_read_lock();
	r = throwing_global(ctx);
	bpf_rcu_read_unlock();
	return r;
}

SEC("?tc")
__failure __msg("('calls_throwing_global') may throw: bpf_throw cannot be used inside bpf_rcu_read_lock-ed region")
int reject_rcu_nested_global(struct __sk_buff *ctx)
{
	int r;

	bpf_rcu_read_lock();
	r = calls_throwing_global(ctx);
	bpf_rcu_read_unlock();
	return r;
}

SEC("?tc")
__failure __msg("('throwing_global') may throw: bpf_throw cannot be used inside bpf_rcu_read_lock-ed region")
int reject_rcu_static_then_global(struct __sk_buff *ctx)
{
	int r;

	bpf_rcu_read_lock();
	r = static_calls_throwing_global(ctx);
	bpf_rcu_read_unlock();
	return r;
}

SEC("?tc")
__failure __msg("('throwing_global') may throw: bpf_throw would leak reference id={{[0-9]+}} alloc_insn={{[0-9]+}}")
int reject_obj_new_global(struct __sk_buff *ctx)
{
	struct foo *f = bpf_obj_new(typeof(*f));
	int r;

	if (!f)
		return 0;
	r = throwing_global(ctx);
	bpf_obj_drop(f);
	return r;
}

SEC("?tc")
__failure __msg("('calls_throwing_global') may throw: bpf_throw would leak reference")
int reject_obj_new_nested_global(struct __sk_buff *ctx)
{
	struct foo *f = bpf_obj_new(typeof(*f));
	int r;

	if (!f)
		return 0;
	r = calls_throwing_global(ctx);
	bpf_obj_drop(f);
	return r;
}

/* Rejected by stock 6.12 too, before our check: kept so they stay so. */
SEC("?tc")
__failure __msg("global function calls are not allowed with preemption disabled")
int reject_preempt_global(struct __sk_buff *ctx)
{
	int r;

	bpf_preempt_disable();
	r = throwing_global(ctx);
	bpf_preempt_enable();
	return r;
}

SEC("?tc")
__failure __msg("function calls are not allowed while holding a lock")
int reject_lock_global(struct __sk_buff *ctx)
{
	int r;

	bpf_spin_lock(&lock);
	r = throwing_global(ctx);
	bpf_spin_unlock(&lock);
	return r;
}

SEC("?tc")
__success __retval(7)
int accept_global_nothing_held(struct __sk_buff *ctx)
{
	return throwing_global(ctx);
}

SEC("?tc")
__success __retval(7)
int accept_nested_global_nothing_held(struct __sk_buff *ctx)
{
	return calls_throwing_global(ctx);
}

SEC("?tc")
__success __retval(54)
int accept_quiet_global_nothing_held(struct __sk_buff *ctx)
{
	return quiet_global(ctx);
}

SEC("?tc")
__success __retval(54)
int accept_rcu_quiet_global(struct __sk_buff *ctx)
{
	int r;

	bpf_rcu_read_lock();
	r = quiet_global(ctx);
	bpf_rcu_read_unlock();
	return r;
}

SEC("?tc")
__success __retval(54)
int accept_obj_quiet_global(struct __sk_buff *ctx)
{
	struct foo *f = bpf_obj_new(typeof(*f));
	int r;

	if (!f)
		return 0;
	r = quiet_global(ctx);
	bpf_obj_drop(f);
	return r;
}

SEC("?tc")
__success __retval(7)
int accept_rcu_released_first(struct __sk_buff *ctx)
{
	bpf_rcu_read_lock();
	bpf_rcu_read_unlock();
	return throwing_global(ctx);
}

SEC("?tc")
__success __retval(7)
int accept_obj_dropped_first(struct __sk_buff *ctx)
{
	struct foo *f = bpf_obj_new(typeof(*f));

	if (f)
		bpf_obj_drop(f);
	return throwing_global(ctx);
}

char _license[] SEC("license") = "GPL";
