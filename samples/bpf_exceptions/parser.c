// SPDX-License-Identifier: GPL-2.0
/*
 * Loads the bpf_throw() packet parser (parser.bpf.c), runs it on a set of
 * well-formed and malformed frames with BPF_PROG_TEST_RUN, and prints what
 * it saw: for each frame the verdict and, for a dropped one, the check that
 * threw and the depth it threw from; then the parser's own counters.
 *
 * With the bpf:bpf_throw tracepoint on, each dropped frame also shows where
 * the kernel saw the throw: the function that called bpf_throw(), the
 * instruction of the call and, from the program's line info, the source
 * line of the check that fired.
 *
 * Exits non-zero if any frame gets another verdict than the one noted here,
 * or if the trace of a drop disagrees with its cookie.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <bpf/bpf.h>

#include "parser.h"
#include "parser.skel.h"

#define TC_ACT_OK	0
#define TC_ACT_SHOT	2

static const char *const reason_names[DROP_MAX] = {
	[DROP_NONE] = "none",
	[DROP_SHORT_ETH] = "frame shorter than Ethernet header",
	[DROP_SHORT_IP] = "shorter than the IPv4 header",
	[DROP_IP_VERSION] = "IPv4 version field not 4",
	[DROP_IP_IHL] = "IPv4 header length below 20",
	[DROP_IP_TOT_LEN] = "IPv4 total length past the frame",
	[DROP_IP_FRAGMENT] = "IPv4 fragment",
	[DROP_SHORT_L4] = "shorter than the TCP/UDP header",
	[DROP_TCP_DOFF] = "bad TCP data offset",
	[DROP_UDP_LEN] = "UDP length disagrees with IPv4",
	[DROP_PORT_ZERO] = "port 0",
};

static const char *const kind_names[PASS_MAX] = {
	[PASS_TCP] = "TCP",
	[PASS_UDP] = "UDP",
	[PASS_OTHER_L4] = "other IPv4",
	[PASS_NOT_IPV4] = "not IPv4",
};

static const char *const thrower[] = {
	"parse_packet", "parse_eth", "parse_ipv4", "parse_tcp/udp", "check_port",
};

#define TRACEFS "/sys/kernel/tracing"

static int write_file(const char *path, const char *v)
{
	FILE *f = fopen(path, "w");
	int err;

	if (!f)
		return -errno;
	err = fputs(v, f) < 0 ? -EIO : 0;
	return fclose(f) ? -errno : err;
}

/* Turns the bpf:bpf_throw tracepoint on, mounting tracefs if need be. */
static int trace_on(void)
{
	if (access(TRACEFS "/events/bpf/bpf_throw/enable", W_OK))
		mount("nodev", TRACEFS, "tracefs", 0, NULL);
	return write_file(TRACEFS "/events/bpf/bpf_throw/enable", "1") ||
	       write_file(TRACEFS "/trace", "");
}

struct throw_trace {
	char func[64];
	unsigned int insn, frames;
	unsigned long long cookie;
};

/* The last bpf_throw line of the trace buffer, which it then clears. */
static int last_throw(struct throw_trace *t)
{
	char line[512];
	int found = 0;
	FILE *f = fopen(TRACEFS "/trace", "r");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		char *p = strstr(line, " bpf_throw: prog_id=");

		if (p && sscanf(p, " bpf_throw: prog_id=%*u prog=%*s func=%63s insn=%u cookie=%llu frames=%u",
				t->func, &t->insn, &t->cookie, &t->frames) == 4)
			found = 1;
	}
	fclose(f);
	write_file(TRACEFS "/trace", "");
	return found;
}

/* The program's line info and BTF, to turn an instruction into a line. */
struct lines {
	struct bpf_line_info *info;
	unsigned int n;
	struct btf *btf;
};

static int load_lines(int fd, struct lines *l)
{
	struct bpf_prog_info info;
	__u32 len = sizeof(info);

	memset(&info, 0, sizeof(info));
	if (bpf_prog_get_info_by_fd(fd, &info, &len) || !info.nr_line_info)
		return -1;
	l->n = info.nr_line_info;
	l->info = calloc(l->n, sizeof(*l->info));
	if (!l->info)
		return -1;
	memset(&info, 0, sizeof(info));
	info.nr_line_info = l->n;
	info.line_info_rec_size = sizeof(*l->info);
	info.line_info = (__u64)(unsigned long)l->info;
	if (bpf_prog_get_info_by_fd(fd, &info, &len))
		return -1;
	l->btf = btf__load_from_kernel_by_id(info.btf_id);
	return l->btf ? 0 : -1;
}

/* "file:line: source" of instruction INSN, the line that holds it. */
static void source_of(const struct lines *l, unsigned int insn, char *buf, size_t size)
{
	const struct bpf_line_info *best = NULL;
	const char *file, *src, *base;
	unsigned int i;

	for (i = 0; i < l->n; i++)
		if (l->info[i].insn_off <= insn && (!best || l->info[i].insn_off >= best->insn_off))
			best = &l->info[i];
	if (!best) {
		snprintf(buf, size, "?");
		return;
	}
	file = btf__name_by_offset(l->btf, best->file_name_off);
	src = btf__name_by_offset(l->btf, best->line_off);
	base = file ? strrchr(file, '/') : NULL;
	while (src && (*src == ' ' || *src == '\t'))
		src++;
	snprintf(buf, size, "%s:%u: %s", base ? base + 1 : file ? file : "?",
		 BPF_LINE_INFO_LINE_NUM(best->line_col), src ? src : "");
}

/* Whether FUNC is a function of the parser at call depth DEPTH. */
static int thrown_by(unsigned int depth, const char *func)
{
	static const char *const funcs[][2] = {
		{ "parse_packet" }, { "parse_eth" }, { "parse_ipv4" },
		{ "parse_tcp", "parse_udp" }, { "check_port" },
	};

	return depth < 5 && ((funcs[depth][0] && !strcmp(funcs[depth][0], func)) ||
			     (funcs[depth][1] && !strcmp(funcs[depth][1], func)));
}

struct frame {
	const char *what;
	int want_reason;	/* DROP_NONE: must pass */
	unsigned char buf[128];
	unsigned int len;
};

/* A well-formed Ethernet + IPv4 + TCP or UDP frame with an 8-byte payload. */
static void build(struct frame *f, int proto)
{
	struct ethhdr *eth = (void *)f->buf;
	struct iphdr *ip = (void *)(eth + 1);
	unsigned int l4 = proto == IPPROTO_TCP ? sizeof(struct tcphdr) : sizeof(struct udphdr);
	unsigned int ip_len = sizeof(*ip) + l4 + 8;

	memset(f->buf, 0, sizeof(f->buf));
	eth->h_proto = htons(ETH_P_IP);
	ip->version = 4;
	ip->ihl = 5;
	ip->ttl = 64;
	ip->protocol = proto;
	ip->tot_len = htons(ip_len);
	ip->saddr = htonl(0x0a000001);
	ip->daddr = htonl(0x0a000002);
	if (proto == IPPROTO_TCP) {
		struct tcphdr *tcp = (void *)(ip + 1);

		tcp->source = htons(40000);
		tcp->dest = htons(443);
		tcp->doff = 5;
		tcp->syn = 1;
	} else {
		struct udphdr *udp = (void *)(ip + 1);

		udp->source = htons(40000);
		udp->dest = htons(53);
		udp->len = htons(l4 + 8);
	}
	f->len = sizeof(*eth) + ip_len;
}

static struct iphdr *ip_of(struct frame *f)
{
	return (void *)(f->buf + sizeof(struct ethhdr));
}

static void *l4_of(struct frame *f)
{
	return ip_of(f) + 1;
}

static int make_frames(struct frame *f)
{
	int n = 0;

	f[n] = (struct frame){ "TCP SYN to port 443", DROP_NONE };
	build(&f[n++], IPPROTO_TCP);

	f[n] = (struct frame){ "UDP to port 53", DROP_NONE };
	build(&f[n++], IPPROTO_UDP);

	f[n] = (struct frame){ "ICMP echo", DROP_NONE };
	build(&f[n], IPPROTO_UDP);
	ip_of(&f[n++])->protocol = IPPROTO_ICMP;

	f[n] = (struct frame){ "IPv6 ethertype", DROP_NONE };
	build(&f[n], IPPROTO_TCP);
	((struct ethhdr *)f[n++].buf)->h_proto = htons(ETH_P_IPV6);

	/* BPF_PROG_TEST_RUN itself refuses frames shorter than an Ethernet
	 * header, and IPv4 frames shorter than a minimal IPv4 header, so the
	 * parser's first checks for those cannot be shown here.
	 */
	f[n] = (struct frame){ "IHL 15 (60 bytes) in a 62-byte frame", DROP_SHORT_IP };
	build(&f[n], IPPROTO_TCP);
	ip_of(&f[n++])->ihl = 15;

	f[n] = (struct frame){ "version 6 in an IPv4 frame", DROP_IP_VERSION };
	build(&f[n], IPPROTO_TCP);
	ip_of(&f[n++])->version = 6;

	f[n] = (struct frame){ "IHL of 4 (16 bytes)", DROP_IP_IHL };
	build(&f[n], IPPROTO_TCP);
	ip_of(&f[n++])->ihl = 4;

	f[n] = (struct frame){ "total length 1500 in a short frame", DROP_IP_TOT_LEN };
	build(&f[n], IPPROTO_TCP);
	ip_of(&f[n++])->tot_len = htons(1500);

	f[n] = (struct frame){ "first fragment (MF set)", DROP_IP_FRAGMENT };
	build(&f[n], IPPROTO_UDP);
	ip_of(&f[n++])->frag_off = htons(0x2000);

	f[n] = (struct frame){ "TCP header cut short", DROP_SHORT_L4 };
	build(&f[n], IPPROTO_TCP);
	ip_of(&f[n])->tot_len = htons(sizeof(struct iphdr) + 10);
	f[n++].len = sizeof(struct ethhdr) + sizeof(struct iphdr) + 10;

	f[n] = (struct frame){ "TCP data offset 3", DROP_TCP_DOFF };
	build(&f[n], IPPROTO_TCP);
	((struct tcphdr *)l4_of(&f[n++]))->doff = 3;

	f[n] = (struct frame){ "UDP length 200", DROP_UDP_LEN };
	build(&f[n], IPPROTO_UDP);
	((struct udphdr *)l4_of(&f[n++]))->len = htons(200);

	f[n] = (struct frame){ "TCP to port 0", DROP_PORT_ZERO };
	build(&f[n], IPPROTO_TCP);
	((struct tcphdr *)l4_of(&f[n++]))->dest = 0;

	return n;
}

int main(void)
{
	struct frame frames[16];

	struct parser *skel;
	struct lines lines = {};
	int n, i, fd, bad = 0, passed = 0, dropped = 0, traced, checks;

	libbpf_set_strict_mode(LIBBPF_STRICT_ALL);
	skel = parser__open_and_load();
	if (!skel) {
		fprintf(stderr, "parser: cannot load parser.bpf.o: %s\n", strerror(errno));
		return 1;
	}
	fd = bpf_program__fd(skel->progs.parse_packet);
	n = make_frames(frames);
	checks = n;
	traced = !trace_on() && !load_lines(fd, &lines);
	if (!traced)
		fprintf(stderr, "parser: no bpf:bpf_throw tracepoint or line info: %s\n",
			strerror(errno));

	printf("bpf_throw packet parser: %d frames through parse_packet()\n\n", n);
	printf("  %-2s  %-38s %-7s  %s\n", "#", "frame", "verdict", "what the parser saw");
	for (i = 0; i < n; i++) {
		struct frame *f = &frames[i];
		LIBBPF_OPTS(bpf_test_run_opts, opts,
			.data_in = f->buf,
			.data_size_in = f->len,
			.repeat = 1,
		);
		char seen[96];
		int got_reason;

		if (bpf_prog_test_run_opts(fd, &opts)) {
			fprintf(stderr, "parser: test run of frame %d failed: %s\n", i + 1, strerror(errno));
			bad++;
			continue;
		}
		if (opts.retval == TC_ACT_SHOT) {
			__u64 cookie = skel->bss->stats.last_cookie;
			unsigned int reason = COOKIE_REASON(cookie), depth = COOKIE_DEPTH(cookie);

			got_reason = reason;
			snprintf(seen, sizeof(seen), "%s (thrown in %s, depth %u)",
				 reason < DROP_MAX ? reason_names[reason] : "?",
				 depth < 5 ? thrower[depth] : "?", depth);
			dropped++;
		} else if (opts.retval == TC_ACT_OK) {
			unsigned int kind = skel->bss->stats.last_kind;

			got_reason = DROP_NONE;
			snprintf(seen, sizeof(seen), "%s, headers valid",
				 kind < PASS_MAX ? kind_names[kind] : "?");
			passed++;
		} else {
			got_reason = -1;
			snprintf(seen, sizeof(seen), "unexpected return value %u", opts.retval);
		}
		printf("  %-2d  %-38s %-7s  %s%s\n", i + 1, f->what,
		       opts.retval == TC_ACT_OK ? "pass" : "drop", seen,
		       got_reason == f->want_reason ? "" : "   <-- UNEXPECTED");
		if (got_reason != f->want_reason)
			bad++;
		if (traced && opts.retval == TC_ACT_SHOT) {
			/* The kernel's view of the throw: its function must be
			 * the one the cookie names, its frames one per depth.
			 */
			__u64 cookie = skel->bss->stats.last_cookie;
			unsigned int depth = COOKIE_DEPTH(cookie);
			struct throw_trace t;
			char src[160];

			checks++;
			if (!last_throw(&t)) {
				printf("      bpf:bpf_throw: no trace line   <-- UNEXPECTED\n");
				bad++;
				continue;
			}
			source_of(&lines, t.insn, src, sizeof(src));
			printf("      bpf:bpf_throw: %s, insn %u, %u frames: %s\n", t.func, t.insn,
			       t.frames, src);
			if (t.cookie != cookie || t.frames != depth + 1 || depth >= 5 ||
			    !thrown_by(depth, t.func)) {
				printf("      the trace disagrees with the cookie   <-- UNEXPECTED\n");
				bad++;
			}
		}
	}

	printf("\nsummary: %d frames, %d passed, %d dropped by bpf_throw\n", n, passed, dropped);
	printf("  passed: ");
	for (i = 0; i < PASS_MAX; i++)
		printf("%s %llu%s", kind_names[i], (unsigned long long)skel->bss->stats.passed[i],
		       i + 1 < PASS_MAX ? ", " : "\n");
	printf("  dropped:\n");
	for (i = 1; i < DROP_MAX; i++)
		printf("    %-38s %llu\n", reason_names[i],
		       (unsigned long long)skel->bss->stats.dropped[i]);
	/* One check per frame's verdict, one per dropped frame's trace. */
	printf("\nsample: %d passed, %d failed\n", checks - bad, bad);

	btf__free(lines.btf);
	free(lines.info);
	parser__destroy(skel);
	return bad ? 1 : 0;
}
