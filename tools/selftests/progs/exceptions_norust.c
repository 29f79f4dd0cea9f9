// SPDX-License-Identifier: GPL-2.0
/*
 * A kernel without CONFIG_BPF_EXCEPTIONS_RUST (built without Rust, say)
 * rejects every program that throws or names an exception callback, with a
 * message that says why, and verifies the rest as stock 6.12 does.
 * Annotated like upstream's progs/exceptions_fail.c and run by
 * tools/selftests/exc_loader.c on pkt_v4 (ctx->len is 54) on the no-Rust
 * kernel.
 */
#include <vmlinux.h>
#include <bpf/bpf_helpers.h>
#include "bpf_misc.h"
#include "bpf_experimental.h"

#define NO_EXCEPTIONS "BPF exceptions need CONFIG_BPF_EXCEPTIONS_RUST, which this kernel does not have"

extern void bpf_rcu_read_lock(void) __ksym;

static __noinline int throw_static(struct __sk_buff *ctx)
{
	if (ctx->len)
		bpf_throw(1);
	return 0;
}

__noinline int throw_global(struct __sk_buff *ctx)
{
	if (ctx->len)
		bpf_throw(2);
	return 0;
}

__noinline int plain_global(struct __sk_buff *ctx)
{
	return ctx->len + 1;
}

__noinline int exception_cb(u64 cookie)
{
	return cookie + 1;
}

SEC("tc")
__failure __msg("kfunc bpf_throw#{{[0-9]+}}: " NO_EXCEPTIONS)
int throw_main(struct __sk_buff *ctx)
{
	bpf_throw(0);
	return 0;
}

SEC("tc")
__failure __msg("kfunc bpf_throw#{{[0-9]+}}: " NO_EXCEPTIONS)
int throw_from_static(struct __sk_buff *ctx)
{
	return throw_static(ctx);
}

SEC("tc")
__failure __msg("kfunc bpf_throw#{{[0-9]+}}: " NO_EXCEPTIONS)
int throw_from_global(struct __sk_buff *ctx)
{
	return throw_global(ctx);
}

SEC("tc")
__failure __msg("kfunc bpf_throw#{{[0-9]+}}: " NO_EXCEPTIONS)
int assert_main(struct __sk_buff *ctx)
{
	bpf_assert(ctx->len > 100);
	return 0;
}

SEC("tc")
__exception_cb(exception_cb)
__failure __msg("exception callback 'exception_cb': " NO_EXCEPTIONS)
int names_callback(struct __sk_buff *ctx)
{
	return 0;
}

/* Everything else: loads and runs, exits checked as before. */
SEC("tc")
__success __retval(55)
int no_exceptions(struct __sk_buff *ctx)
{
	return plain_global(ctx);
}

SEC("tc")
__failure __msg("bpf_rcu_read_unlock is missing")
int rcu_unlock_missing(struct __sk_buff *ctx)
{
	bpf_rcu_read_lock();
	return 0;
}

char _license[] SEC("license") = "GPL";
