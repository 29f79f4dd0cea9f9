// SPDX-License-Identifier: GPL-2.0
/*
 * The bpf:bpf_throw tracepoint and the "throws:" count
 * (tools/selftests/exc_loader.c, mode throwtrace): programs that throw
 * from depths 0, 1 and 7, one that can throw but does not, one that
 * cannot, and a tp_btf program on the tracepoint that records what it saw
 * and then throws itself, which must end only its own run.
 */
#include <vmlinux.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include "bpf_misc.h"
#include "bpf_experimental.h"

/* What on_throw saw last, and how often. */
struct seen {
	__u64 count;
	__u32 prog_id;
	__u32 insn_off;
	__u64 cookie;
	__u32 frames;
	char func[32];
	/* Set by the loader: on_throw does not throw. */
	int pass_through;
};

struct seen seen;

SEC("tp_btf/bpf_throw")
int BPF_PROG(on_throw, const struct bpf_prog_aux *aux, const char *func, u32 insn_off,
	     u64 cookie, u32 frames)
{
	seen.count++;
	seen.prog_id = aux->id;
	seen.insn_off = insn_off;
	seen.cookie = cookie;
	seen.frames = frames;
	bpf_probe_read_kernel_str(seen.func, sizeof(seen.func), func);
	/* A throw here unwinds this program only; the throw it observes goes
	 * on. The default callback returns 0, as a tracing program must.
	 */
	if (!seen.pass_through)
		bpf_throw(0);
	return 0;
}

SEC("tc")
int throw_depth0(struct __sk_buff *skb)
{
	bpf_throw(10);
	return 0;
}

static __noinline int level1(struct __sk_buff *skb)
{
	bpf_throw(11);
	return skb->len;
}

SEC("tc")
int throw_depth1(struct __sk_buff *skb)
{
	return level1(skb) + 1;
}

static __noinline int level7(struct __sk_buff *skb)
{
	bpf_throw(17);
	return skb->len;
}

#define LEVEL(n, next)						\
static __noinline int level##n(struct __sk_buff *skb)		\
{								\
	return next(skb) + 1;					\
}
LEVEL(6, level7)
LEVEL(5, level6)
LEVEL(4, level5)
LEVEL(3, level4)
LEVEL(2, level3)
LEVEL(12, level2)

SEC("tc")
int throw_depth7(struct __sk_buff *skb)
{
	return level12(skb) + 1;
}

/* Can throw, does not on pkt_v4 (len 74). */
SEC("tc")
int throw_never(struct __sk_buff *skb)
{
	if (skb->len > 100000)
		bpf_throw(1);
	return 3;
}

/* Cannot throw: its fdinfo has no "throws:" line. */
SEC("tc")
int no_throw(struct __sk_buff *skb)
{
	return 4;
}

char _license[] SEC("license") = "GPL";
