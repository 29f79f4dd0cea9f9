// SPDX-License-Identifier: GPL-2.0
/*
 * The tracing and extension programs of exceptions_faults_ext.checks,
 * attached to the programs of exceptions_faults.c.
 */
#include <vmlinux.h>
#include <bpf/bpf_helpers.h>
#include "bpf_misc.h"

int fexit_runs;

SEC("?freplace")
int ext_takes_ptr(int *p)
{
	return 5;
}

SEC("?fexit")
int fexit_any(void *ctx)
{
	fexit_runs++;
	return 0;
}

char _license[] SEC("license") = "GPL";
