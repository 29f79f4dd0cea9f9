// SPDX-License-Identifier: GPL-2.0
/*
 * A TC packet parser that uses bpf_throw() the way exceptions are meant:
 * the checks of header invariants sit deep in helper subprograms, and a
 * failed check throws instead of threading an error code back up through
 * every caller. The exception callback counts the reason and drops the
 * packet; the main path only ever sees well-formed headers.
 *
 *   parse_packet -> parse_eth -> parse_ipv4 -> parse_tcp / parse_udp
 *                                           -> check_port
 */
#include <vmlinux.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "bpf_experimental.h"
#include "parser.h"

#define ETH_P_IP	0x0800
#define IP_MF		0x2000
#define IP_OFFSET	0x1fff
#define TC_ACT_OK	0
#define TC_ACT_SHOT	2

struct parser_stats stats;

/* Check an invariant; throw the reason, tagged with the caller's depth. */
#define check(cond, reason, depth)				\
	do {							\
		if (!(cond))					\
			bpf_throw(COOKIE(reason, depth));	\
	} while (0)

static __noinline int check_port(__u16 sport, __u16 dport)
{
	check(sport && dport, DROP_PORT_ZERO, 4);
	return 0;
}

static __noinline int parse_tcp(struct tcphdr *tcp, void *data_end)
{
	check((void *)(tcp + 1) <= data_end, DROP_SHORT_L4, 3);
	check(tcp->doff >= 5, DROP_TCP_DOFF, 3);
	check((void *)tcp + tcp->doff * 4 <= data_end, DROP_TCP_DOFF, 3);
	check_port(tcp->source, tcp->dest);
	return PASS_TCP;
}

static __noinline int parse_udp(struct udphdr *udp, void *data_end, __u32 l4_len)
{
	check((void *)(udp + 1) <= data_end, DROP_SHORT_L4, 3);
	check(bpf_ntohs(udp->len) == l4_len, DROP_UDP_LEN, 3);
	check_port(udp->source, udp->dest);
	return PASS_UDP;
}

static __noinline int parse_ipv4(struct iphdr *ip, void *data_end)
{
	__u32 ihl, tot_len;

	check((void *)(ip + 1) <= data_end, DROP_SHORT_IP, 2);
	check(ip->version == 4, DROP_IP_VERSION, 2);
	ihl = ip->ihl * 4;
	check(ihl >= sizeof(*ip), DROP_IP_IHL, 2);
	check((void *)ip + ihl <= data_end, DROP_SHORT_IP, 2);
	tot_len = bpf_ntohs(ip->tot_len);
	/* The verifier does not bound a byte swap: mask it where it can see. */
	barrier_var(tot_len);
	tot_len &= 0xffff;
	check(tot_len >= ihl && (void *)ip + tot_len <= data_end, DROP_IP_TOT_LEN, 2);
	check(!(ip->frag_off & bpf_htons(IP_MF | IP_OFFSET)), DROP_IP_FRAGMENT, 2);

	switch (ip->protocol) {
	case IPPROTO_TCP:
		return parse_tcp((void *)ip + ihl, data_end);
	case IPPROTO_UDP:
		return parse_udp((void *)ip + ihl, data_end, tot_len - ihl);
	default:
		return PASS_OTHER_L4;
	}
}

static __noinline int parse_eth(struct ethhdr *eth, void *data_end)
{
	check((void *)(eth + 1) <= data_end, DROP_SHORT_ETH, 1);
	if (eth->h_proto != bpf_htons(ETH_P_IP))
		return PASS_NOT_IPV4;
	return parse_ipv4((void *)(eth + 1), data_end);
}

/* Runs instead of the rest of the program when a check throws. */
__noinline int drop_malformed(u64 cookie)
{
	__u32 reason = COOKIE_REASON(cookie);

	if (reason < DROP_MAX)
		__sync_fetch_and_add(&stats.dropped[reason], 1);
	stats.last_cookie = cookie;
	return TC_ACT_SHOT;
}

SEC("tc")
__exception_cb(drop_malformed)
int parse_packet(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	__u32 kind;

	stats.last_cookie = 0;
	kind = parse_eth(data, data_end);
	if (kind < PASS_MAX)
		__sync_fetch_and_add(&stats.passed[kind], 1);
	stats.last_kind = kind;
	return TC_ACT_OK;
}

char _license[] SEC("license") = "GPL";
