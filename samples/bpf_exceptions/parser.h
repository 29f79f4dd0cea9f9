/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Shared by the BPF packet parser and its loader: why a packet was dropped,
 * and what the parser counts.
 */
#ifndef BPF_EXCEPTIONS_PARSER_H
#define BPF_EXCEPTIONS_PARSER_H

/* The cookie a check throws: the reason in the low byte, the call depth of
 * the function that threw it in the next one.
 */
#define COOKIE(reason, depth)	((reason) | ((depth) << 8))
#define COOKIE_REASON(cookie)	((cookie) & 0xff)
#define COOKIE_DEPTH(cookie)	(((cookie) >> 8) & 0xff)

enum drop_reason {
	DROP_NONE,
	DROP_SHORT_ETH,		/* frame shorter than an Ethernet header */
	DROP_SHORT_IP,		/* shorter than the IPv4 header it announces */
	DROP_IP_VERSION,	/* IPv4 ethertype, version field not 4 */
	DROP_IP_IHL,		/* IPv4 header length below 20 bytes */
	DROP_IP_TOT_LEN,	/* IPv4 total length beyond the frame */
	DROP_IP_FRAGMENT,	/* fragments are not parsed */
	DROP_SHORT_L4,		/* shorter than the TCP/UDP header */
	DROP_TCP_DOFF,		/* TCP data offset below 5 or past the packet */
	DROP_UDP_LEN,		/* UDP length disagrees with the IPv4 payload */
	DROP_PORT_ZERO,		/* TCP or UDP port 0 */
	DROP_MAX,
};

enum pass_kind {
	PASS_TCP,
	PASS_UDP,
	PASS_OTHER_L4,
	PASS_NOT_IPV4,
	PASS_MAX,
};

struct parser_stats {
	__u64 passed[PASS_MAX];
	__u64 dropped[DROP_MAX];
	__u64 last_cookie;	/* what the last dropped packet threw */
	__u32 last_kind;	/* enum pass_kind of the last passed packet */
};

#endif
