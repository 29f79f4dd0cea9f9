// SPDX-License-Identifier: GPL-2.0
/*
 * Programs of the stress run (tools/scripts/guest.sh stress): a TC program
 * run under BPF_PROG_TEST_RUN on every CPU, and XDP and TC ingress programs
 * run in softirq on every packet sent over lo, all throwing from three
 * calls deep (the first every time, the others as the clock says); and a
 * tracing program that throws, on a helper that they all call.
 */
#include <vmlinux.h>
#include <bpf/bpf_helpers.h>
#include "bpf_experimental.h"

#define XDP_PASS 2
#define TC_ACT_OK 0

static __noinline u64 leaf(u64 x, u64 cookie)
{
	if (x & 1)
		bpf_throw(cookie);
	return x + 1;
}

static __noinline u64 mid(u64 x, u64 cookie, u64 always)
{
	return leaf((x * 3 + 1) | always, cookie) + 2;
}

__noinline int top(u64 x, u64 cookie, u64 always)
{
	return mid(x ^ bpf_ktime_get_ns(), cookie, always) & 0;
}

SEC("tc")
int stress_test_run(struct __sk_buff *ctx)
{
	/* Throws 7 from three calls deep, every time. */
	return top(ctx->len, 7, 1) + 7;
}

SEC("xdp")
int stress_xdp(struct xdp_md *ctx)
{
	/* Throws every other time or so, as the clock's low bit says. */
	return top(ctx->data_end - ctx->data, XDP_PASS, 0) + XDP_PASS;
}

SEC("tcx/ingress")
int stress_tc_ingress(struct __sk_buff *ctx)
{
	return top(ctx->len, TC_ACT_OK, 0) + TC_ACT_OK;
}

/* On a helper the programs above call: throws inside them, every time. */
SEC("fentry/bpf_ktime_get_ns")
int stress_fentry(void *ctx)
{
	bpf_throw(0);
	return 0;
}

char _license[] SEC("license") = "GPL";
