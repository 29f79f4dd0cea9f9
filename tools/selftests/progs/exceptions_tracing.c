// SPDX-License-Identifier: GPL-2.0
/*
 * bpf_throw() cannot be traced: its unwinder needs the return address and
 * the registers as the throwing program left them. The verifier denies it
 * to fentry and fexit programs (stock 6.12 accepts both).
 */
#include <vmlinux.h>
#include <bpf/bpf_helpers.h>
#include "bpf_misc.h"

/* The control: fentry and fexit load on an ordinary function. */
SEC("fentry/bpf_fentry_test1")
__success
int fentry_control(void *ctx)
{
	return 0;
}

SEC("fexit/bpf_fentry_test1")
__success
int fexit_control(void *ctx)
{
	return 0;
}

SEC("fentry/bpf_throw")
__failure
int fentry_bpf_throw(void *ctx)
{
	return 0;
}

SEC("fexit/bpf_throw")
__failure
int fexit_bpf_throw(void *ctx)
{
	return 0;
}

char _license[] SEC("license") = "GPL";
