// SPDX-License-Identifier: GPL-2.0
/*
 * Cleanup on throw: programs that throw while they hold references, RCU
 * read sections and disabled preemption, which the throw releases.
 *
 * tools/selftests/exc_loader.c runs this object twice: in mode "spec"
 * (each program on its own, checked against its __success/__failure/
 * __msg/__retval tags, as upstream's test_loader does) and in mode
 * "cleanup", which runs every throw_* program N times on pkt_v4 and checks
 * that it returned its cookie and left nothing held: probe (run before and
 * after) reads the current task's rcu_users (the reference
 * bpf_task_acquire() takes), its usage and its mm's mm_users (which a
 * task_vma iterator takes), its RCU read nesting and the ring buffer's
 * unconsumed bytes (a record or dynptr neither submitted nor discarded
 * keeps them), and sk_probe the reference count of the loader's TCP
 * socket (which bpf_sk_lookup_tcp() takes), and the usage count of the
 * cpumask in masks[0] (which bpf_cpumask_acquire() takes) and of the
 * bpf_crypto_ctx in cctxs[0] (bpf_crypto_ctx_acquire()). Preemption
 * left disabled is caught by the scheduler ("BUG: scheduling while
 * atomic") when the loader yields after each program, which fails the
 * run. Objects of bpf_obj_new() hold a task in a kptr field, so dropping
 * them shows in rcu_users too. A cgroup of bpf_cgroup_from_id() cannot be
 * counted from here (its count is a percpu_ref): the loader gives each
 * throw_mx_cgroup_* program a cgroup of its own (cgid), removes it after
 * the runs and checks that it is freed (nr_dying_descendants of the root
 * back to 0), which a single reference left held prevents. Objects of
 * bpf_percpu_obj_new() are counted by nothing but kmemleak, on the debug
 * kernel.
 *
 * Stock 6.12 refuses every throw_* program ("Unreleased reference",
 * "bpf_throw cannot be used inside bpf_rcu_read_lock-ed region", ...).
 */
#include <vmlinux.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include "bpf_misc.h"
#include "bpf_experimental.h"

#define private(name) SEC(".bss." #name) __hidden __attribute__((aligned(8)))

#define COOKIE 7

#ifndef BPF_F_CURRENT_NETNS
#define BPF_F_CURRENT_NETNS (-1L)
#endif

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} rb SEC(".maps");

/* An object that holds a task: dropping it releases the task. */
struct holder {
	long v;
	struct task_struct __kptr *task;
};

struct snap {
	__u64 rcu_users;
	__s64 rcu_nesting;
	__u64 rb_avail;
	/* The task's usage and its mm's mm_users, which a task_vma
	 * iterator holds (with a VMA read-locked, which it drops at each
	 * step).
	 */
	__u64 usage;
	__s64 mm_users;
	/* sk_refcnt of the loader's TCP socket, with one lookup held and
	 * with two (sk_probe): a lookup takes a reference.
	 */
	__u64 sk_refs;
	__u64 sk_refs2;
	/* In: that socket, as the lookups of a packet to it see it. */
	__u32 saddr;
	__u32 daddr;
	__u16 sport;
	__u16 dport;
	__u32 pad;
	/* The usage of the cpumask in masks[0] (0 without one). */
	__u64 mask_usage;
	/* The usage of the bpf_crypto_ctx in cctxs[0] (0 without one). */
	__u64 crypto_usage;
};

struct snap snap;

/* The cgroup that the *_cgroup_* programs take by id: the root unless the
 * loader makes one for each program.
 */
__u64 cgid SEC(".data.cgid") = 1;

/* masks[0]: the cpumask that mask() takes a reference of, once mask_setup
 * has made it; masks[1]: where keep_mask keeps one more.
 */
struct mask_val {
	struct bpf_cpumask __kptr *m;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2);
	__type(key, int);
	__type(value, struct mask_val);
} masks SEC(".maps");

/* cctxs[0]: the bpf_crypto_ctx (AES in ECB mode) that crypto() takes a
 * reference of, once crypto_setup has made it; cctxs[1]: where
 * keep_crypto keeps one more.
 */
struct cctx_val {
	struct bpf_crypto_ctx __kptr *c;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2);
	__type(key, int);
	__type(value, struct cctx_val);
} cctxs SEC(".maps");

extern struct bpf_crypto_ctx *bpf_crypto_ctx_create(const struct bpf_crypto_params *params,
						    u32 params__sz, int *err) __weak __ksym;
extern struct bpf_crypto_ctx *bpf_crypto_ctx_acquire(struct bpf_crypto_ctx *ctx) __weak __ksym;
extern void bpf_crypto_ctx_release(struct bpf_crypto_ctx *ctx) __weak __ksym;

/* A percpu object of bpf_percpu_obj_new(). */
struct pcpu_val {
	long v;
};

SEC("?syscall")
int probe(void *ctx)
{
	struct task_struct *t = bpf_get_current_task_btf();
	struct bpf_crypto_ctx *cc;
	struct bpf_cpumask *m;
	struct cctx_val *c;
	struct mask_val *v;

	snap.rcu_users = t->rcu_users.refs.counter;
	snap.rcu_nesting = t->rcu_read_lock_nesting;
	snap.rb_avail = bpf_ringbuf_query(&rb, BPF_RB_AVAIL_DATA);
	snap.usage = t->usage.refs.counter;
	snap.mm_users = t->mm ? t->mm->mm_users.counter : -1;
	snap.mask_usage = 0;
	v = bpf_map_lookup_elem(&masks, &(int){0});
	bpf_rcu_read_lock();
	m = v ? v->m : NULL;
	if (m)
		snap.mask_usage = m->usage.refs.counter;
	bpf_rcu_read_unlock();
	snap.crypto_usage = 0;
	c = bpf_map_lookup_elem(&cctxs, &(int){0});
	bpf_rcu_read_lock();
	cc = c ? c->c : NULL;
	if (cc)
		snap.crypto_usage = cc->usage.refs.counter;
	bpf_rcu_read_unlock();
	return 0;
}

SEC("?syscall")
int mask_setup(void *ctx)
{
	struct mask_val *v = bpf_map_lookup_elem(&masks, &(int){0});
	struct bpf_cpumask *m;

	if (!v)
		return 1;
	m = bpf_cpumask_create();
	if (!m)
		return 1;
	m = bpf_kptr_xchg(&v->m, m);
	if (m)
		bpf_cpumask_release(m);
	return 0;
}

/* A new reference of the cpumask in masks[0], made first if there is
 * none; NULL if none can be had. The cpumask is taken out of the map,
 * acquired (bpf_cpumask_acquire() wants a trusted pointer, which an RCU
 * load of the map's is not) and put back.
 */
static __always_inline struct bpf_cpumask *mask(void)
{
	struct mask_val *v = bpf_map_lookup_elem(&masks, &(int){0});
	struct bpf_cpumask *g, *m;

	if (!v)
		return NULL;
	g = bpf_kptr_xchg(&v->m, NULL);
	if (!g)
		g = bpf_cpumask_create();
	if (!g)
		return NULL;
	m = bpf_cpumask_acquire(g);
	g = bpf_kptr_xchg(&v->m, g);
	if (g)
		bpf_cpumask_release(g);
	return m;
}

/* What bpf_crypto_ctx_create() makes: AES in ECB mode (408 bytes, kept
 * out of the stack).
 */
struct bpf_crypto_params cparams = {
	.type = "skcipher",
	.algo = "ecb(aes)",
	.key = "0123456789abcdef",
	.key_len = 16,
};

/* Makes the bpf_crypto_ctx of cctxs[0] (bpf_crypto_ctx_create() sleeps:
 * syscall programs are sleepable), or keeps the one there.
 */
static __always_inline struct bpf_crypto_ctx *crypto_made(struct cctx_val *v)
{
	struct bpf_crypto_ctx *g = bpf_kptr_xchg(&v->c, NULL);
	int err = 0;

	return g ?: bpf_crypto_ctx_create(&cparams, sizeof(cparams), &err);
}

SEC("?syscall")
int crypto_setup(void *ctx)
{
	struct cctx_val *v = bpf_map_lookup_elem(&cctxs, &(int){0});
	struct bpf_crypto_ctx *c;

	if (!v)
		return 1;
	c = crypto_made(v);
	if (!c)
		return 1;
	c = bpf_kptr_xchg(&v->c, c);
	if (c)
		bpf_crypto_ctx_release(c);
	return 0;
}

/* A new reference of the bpf_crypto_ctx in cctxs[0], made first if there
 * is none; NULL if none can be had: taken out of the map, acquired and
 * put back, as mask() does.
 */
static __always_inline struct bpf_crypto_ctx *crypto(void)
{
	struct cctx_val *v = bpf_map_lookup_elem(&cctxs, &(int){0});
	struct bpf_crypto_ctx *g, *c;

	if (!v)
		return NULL;
	g = crypto_made(v);
	if (!g)
		return NULL;
	c = bpf_crypto_ctx_acquire(g);
	g = bpf_kptr_xchg(&v->c, g);
	if (g)
		bpf_crypto_ctx_release(g);
	return c;
}

/* The loader's connected TCP socket (see struct snap), or NULL. */
static __always_inline struct bpf_sock *lookup(struct __sk_buff *skb)
{
	struct bpf_sock_tuple t = {};

	t.ipv4.saddr = snap.saddr;
	t.ipv4.daddr = snap.daddr;
	t.ipv4.sport = snap.sport;
	t.ipv4.dport = snap.dport;
	return bpf_sk_lookup_tcp(skb, &t, sizeof(t.ipv4), BPF_F_CURRENT_NETNS, 0);
}

static __always_inline __u64 sk_refcnt(struct bpf_sock *sk)
{
	struct tcp_sock *tp = bpf_skc_to_tcp_sock(sk);

	return tp ? tp->inet_conn.icsk_inet.sk.__sk_common.skc_refcnt.refs.counter : 0;
}

SEC("?tc")
int sk_probe(struct __sk_buff *skb)
{
	struct bpf_sock *a = lookup(skb), *b;

	snap.sk_refs = snap.sk_refs2 = 0;
	if (!a)
		return 0;
	snap.sk_refs = sk_refcnt(a);
	b = lookup(skb);
	if (b) {
		snap.sk_refs2 = sk_refcnt(b);
		bpf_sk_release(b);
	}
	bpf_sk_release(a);
	return 0;
}

static __always_inline struct task_struct *task(void)
{
	return bpf_task_acquire(bpf_get_current_task_btf());
}

/* A holder of a task, or NULL. */
static __always_inline struct holder *holder(void)
{
	struct holder *h = bpf_obj_new(typeof(*h));
	struct task_struct *t;

	if (!h)
		return NULL;
	t = task();
	if (t) {
		t = bpf_kptr_xchg(&h->task, t);
		if (t)
			bpf_task_release(t);
	}
	return h;
}

/* A task reference that keep_task holds and drop_task releases. */
struct kept {
	struct task_struct __kptr *task;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, int);
	__type(value, struct kept);
} kept SEC(".maps");

SEC("?tc")
__success __retval(0)
int keep_task(struct __sk_buff *skb)
{
	struct kept *v = bpf_map_lookup_elem(&kept, &(int){0});
	struct task_struct *t;

	if (!v)
		return 1;
	t = task();
	if (!t)
		return 1;
	t = bpf_kptr_xchg(&v->task, t);
	if (t)
		bpf_task_release(t);
	return 0;
}

SEC("?tc")
__success __retval(0)
int drop_task(struct __sk_buff *skb)
{
	struct kept *v = bpf_map_lookup_elem(&kept, &(int){0});
	struct task_struct *t;

	if (!v)
		return 1;
	t = bpf_kptr_xchg(&v->task, NULL);
	if (t)
		bpf_task_release(t);
	return 0;
}

/* One more reference of the cpumask of masks[0], which keep_mask keeps
 * in masks[1] and drop_mask releases (syscall programs: the cpumask
 * kfuncs are not given to tc programs).
 */
SEC("?syscall")
__success __retval(0)
int keep_mask(void *ctx)
{
	struct mask_val *k = bpf_map_lookup_elem(&masks, &(int){1});
	struct bpf_cpumask *m;

	if (!k)
		return 1;
	m = mask();
	if (!m)
		return 1;
	m = bpf_kptr_xchg(&k->m, m);
	if (m)
		bpf_cpumask_release(m);
	return 0;
}

SEC("?syscall")
__success __retval(0)
int drop_mask(void *ctx)
{
	struct mask_val *k = bpf_map_lookup_elem(&masks, &(int){1});
	struct bpf_cpumask *m;

	if (!k)
		return 1;
	m = bpf_kptr_xchg(&k->m, NULL);
	if (m)
		bpf_cpumask_release(m);
	return 0;
}

/* One more reference of the bpf_crypto_ctx of cctxs[0], which
 * keep_crypto keeps in cctxs[1] and drop_crypto releases.
 */
SEC("?syscall")
__success __retval(0)
int keep_crypto(void *ctx)
{
	struct cctx_val *k = bpf_map_lookup_elem(&cctxs, &(int){1});
	struct bpf_crypto_ctx *c;

	if (!k)
		return 1;
	c = crypto();
	if (!c)
		return 1;
	c = bpf_kptr_xchg(&k->c, c);
	if (c)
		bpf_crypto_ctx_release(c);
	return 0;
}

SEC("?syscall")
__success __retval(0)
int drop_crypto(void *ctx)
{
	struct cctx_val *k = bpf_map_lookup_elem(&cctxs, &(int){1});
	struct bpf_crypto_ctx *c;

	if (!k)
		return 1;
	c = bpf_kptr_xchg(&k->c, NULL);
	if (c)
		bpf_crypto_ctx_release(c);
	return 0;
}

/* A reference of cgroup cgid, which keep_cgroup keeps and drop_cgroup
 * releases.
 */
struct cg_val {
	struct cgroup __kptr *cg;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, int);
	__type(value, struct cg_val);
} cgs SEC(".maps");

SEC("?tc")
__success __retval(0)
int keep_cgroup(struct __sk_buff *skb)
{
	struct cg_val *v = bpf_map_lookup_elem(&cgs, &(int){0});
	struct cgroup *c;

	if (!v)
		return 1;
	c = bpf_cgroup_from_id(cgid);
	if (!c)
		return 1;
	c = bpf_kptr_xchg(&v->cg, c);
	if (c)
		bpf_cgroup_release(c);
	return 0;
}

SEC("?tc")
__success __retval(0)
int drop_cgroup(struct __sk_buff *skb)
{
	struct cg_val *v = bpf_map_lookup_elem(&cgs, &(int){0});
	struct cgroup *c;

	if (!v)
		return 1;
	c = bpf_kptr_xchg(&v->cg, NULL);
	if (c)
		bpf_cgroup_release(c);
	return 0;
}

/* Throws from depth d (1 is this function) if the packet is not empty. */
static __noinline int throw_at(struct __sk_buff *skb, int d)
{
	if (d <= 1) {
		if (skb->len)
			bpf_throw(COOKIE);
		return 0;
	}
	return throw_at(skb, d - 1) + 1;
}

static __noinline int level3(struct __sk_buff *skb)
{
	if (skb->len)
		bpf_throw(COOKIE);
	return 1;
}

static __noinline int level2(struct __sk_buff *skb)
{
	return level3(skb) + 1;
}

static __noinline int level1(struct __sk_buff *skb)
{
	return level2(skb) + 1;
}

/* The same for syscall programs, which throw while sys_throw is set. */
int sys_throw = 1;

static __noinline int slevel3(void)
{
	if (sys_throw)
		bpf_throw(COOKIE);
	return 1;
}

static __noinline int slevel2(void)
{
	return slevel3() + 1;
}

static __noinline int slevel1(void)
{
	return slevel2() + 1;
}

SEC("?tc")
__success __retval(7)
int throw_task_d0(struct __sk_buff *skb)
{
	struct task_struct *t = task();

	if (!t)
		return 1;
	if (skb->len)
		bpf_throw(COOKIE);
	bpf_task_release(t);
	return 0;
}

/* Read-only and frozen at load: the verifier knows it is 0, never walks
 * what it guards, and removes that code after verification
 * (opt_hard_wire_dead_code_branches(), opt_remove_dead_code()). Every
 * instruction after the removed ones moves, in the main function and in a
 * subprog, with the calls by whose return addresses a throw finds what to
 * release.
 */
const volatile int dead_code;

static __noinline int throw_after_dead_code(struct __sk_buff *skb)
{
	if (dead_code)
		return skb->mark * 7 + skb->priority;
	if (skb->len)
		bpf_throw(COOKIE);
	return 0;
}

/* Holds a task across a call of a subprog that throws, with dead code
 * removed before the call, in the callee before its throw, and after.
 */
SEC("?tc")
__success __retval(7)
int throw_task_after_dead_code(struct __sk_buff *skb)
{
	struct task_struct *t = task();
	int r;

	if (!t)
		return 1;
	if (dead_code) {
		bpf_task_release(t);
		return skb->mark + skb->priority + skb->protocol;
	}
	r = throw_after_dead_code(skb);
	if (dead_code)
		r += skb->mark * 3;
	bpf_task_release(t);
	return r;
}

SEC("?tc")
__success __retval(7)
int throw_task_d1(struct __sk_buff *skb)
{
	struct task_struct *t = task();
	int r;

	if (!t)
		return 1;
	r = throw_at(skb, 1);
	bpf_task_release(t);
	return r;
}

SEC("?tc")
__success __retval(7)
int throw_task_d3(struct __sk_buff *skb)
{
	struct task_struct *t = task();
	int r;

	if (!t)
		return 1;
	r = level1(skb);
	bpf_task_release(t);
	return r;
}

/* Held in a stack slot of main, past a volatile store. */
SEC("?tc")
__success __retval(7)
int throw_task_stack(struct __sk_buff *skb)
{
	struct task_struct *volatile ts[2] = {};
	struct task_struct *t = task();
	int r;

	if (!t)
		return 1;
	ts[1] = t;
	r = level2(skb);
	t = ts[1];
	if (t)
		bpf_task_release(t);
	return r;
}

/* Acquired in a subprog, which throws from a deeper one. */
static __noinline int acquires_then_calls(struct __sk_buff *skb)
{
	struct task_struct *t = task();
	int r;

	if (!t)
		return 1;
	r = level2(skb);
	bpf_task_release(t);
	return r;
}

SEC("?tc")
__success __retval(7)
int throw_task_in_subprog(struct __sk_buff *skb)
{
	return acquires_then_calls(skb) + 1;
}

/* Two tasks, one per frame. */
static __noinline int second_task(struct __sk_buff *skb)
{
	struct task_struct *t = task();
	int r;

	if (!t)
		return 1;
	r = throw_at(skb, 2);
	bpf_task_release(t);
	return r;
}

SEC("?tc")
__success __retval(7)
int throw_two_tasks(struct __sk_buff *skb)
{
	struct task_struct *t = task();
	int r;

	if (!t)
		return 1;
	r = second_task(skb);
	bpf_task_release(t);
	return r;
}

SEC("?tc")
__success __retval(7)
int throw_obj(struct __sk_buff *skb)
{
	struct holder *h = holder();
	int r;

	if (!h)
		return 1;
	r = throw_at(skb, 2);
	bpf_obj_drop(h);
	return r;
}

SEC("?tc")
__success __retval(7)
int throw_ringbuf(struct __sk_buff *skb)
{
	long *rec = bpf_ringbuf_reserve(&rb, 64, 0);
	int r;

	if (!rec)
		return 1;
	*rec = 1;
	r = throw_at(skb, 1);
	bpf_ringbuf_submit(rec, 0);
	return r;
}

SEC("?tc")
__success __retval(7)
int throw_rcu_d0(struct __sk_buff *skb)
{
	bpf_rcu_read_lock();
	if (skb->len)
		bpf_throw(COOKIE);
	bpf_rcu_read_unlock();
	return 0;
}

SEC("?tc")
__success __retval(7)
int throw_rcu_d3(struct __sk_buff *skb)
{
	int r;

	bpf_rcu_read_lock();
	r = level1(skb);
	bpf_rcu_read_unlock();
	return r;
}

SEC("?tc")
__success __retval(7)
int throw_preempt(struct __sk_buff *skb)
{
	int r;

	bpf_preempt_disable();
	bpf_preempt_disable();
	r = throw_at(skb, 1);
	bpf_preempt_enable();
	bpf_preempt_enable();
	return r;
}

/* Everything at once, from several frames. */
static __noinline int holds_ringbuf(struct __sk_buff *skb)
{
	long *rec = bpf_ringbuf_reserve(&rb, 16, 0);
	int r;

	if (!rec)
		return 1;
	*rec = 2;
	r = throw_at(skb, 1);
	bpf_ringbuf_discard(rec, 0);
	return r;
}

SEC("?tc")
__success __retval(7)
int throw_everything(struct __sk_buff *skb)
{
	struct task_struct *t = task();
	struct holder *h;
	int r = 1;

	if (!t)
		return 1;
	h = holder();
	if (!h)
		goto out;
	bpf_preempt_disable();
	bpf_rcu_read_lock();
	r = holds_ringbuf(skb);
	bpf_rcu_read_unlock();
	bpf_preempt_enable();
	bpf_obj_drop(h);
out:
	bpf_task_release(t);
	return r;
}

/*
 * Acquired on some paths only: NULL on the others, where the throw
 * releases nothing. bpf_get_prandom_u32() takes both paths across the
 * runs, which the verifier walks separately and merges.
 */
SEC("?tc")
__success __retval(7)
int throw_task_maybe(struct __sk_buff *skb)
{
	struct task_struct *t = NULL;
	int r;

	if (bpf_get_prandom_u32() & 1) {
		t = task();
		if (!t)
			return 7;
	}
	r = throw_at(skb, 2);
	if (t)
		bpf_task_release(t);
	return r;
}

/* The same, NULL where bpf_task_acquire() failed. */
SEC("?tc")
__success __retval(7)
int throw_task_maybe_null(struct __sk_buff *skb)
{
	struct task_struct *t = task();
	int r;

	if (t && (bpf_get_prandom_u32() & 1)) {
		bpf_task_release(t);
		t = NULL;
	}
	r = throw_at(skb, 1);
	if (t)
		bpf_task_release(t);
	return r;
}

/*
 * Global functions are verified on their own: a throw in one releases
 * what it holds, and what its callers hold at the call.
 */
__noinline int global_throws(struct __sk_buff *skb)
{
	if (skb->len)
		bpf_throw(COOKIE);
	return 0;
}

__noinline int global_holds_then_throws(struct __sk_buff *skb)
{
	struct task_struct *t = task();
	int r;

	if (!t)
		return 1;
	r = throw_at(skb, 2);
	bpf_task_release(t);
	return r;
}

__noinline int global_calls_global(struct __sk_buff *skb)
{
	struct task_struct *t = task();
	int r;

	if (!t)
		return 1;
	r = global_throws(skb);
	bpf_task_release(t);
	return r;
}

SEC("?tc")
__success __retval(7)
int throw_global_task_rcu(struct __sk_buff *skb)
{
	struct task_struct *t = task();
	int r;

	if (!t)
		return 1;
	bpf_rcu_read_lock();
	r = global_throws(skb);
	bpf_rcu_read_unlock();
	bpf_task_release(t);
	return r;
}

SEC("?tc")
__success __retval(7)
int throw_global_holding(struct __sk_buff *skb)
{
	struct holder *h = holder();
	int r;

	if (!h)
		return 1;
	r = global_holds_then_throws(skb);
	bpf_obj_drop(h);
	return r;
}

/* Three chains: main's, and those of two global functions. */
SEC("?tc")
__success __retval(7)
int throw_global_in_global(struct __sk_buff *skb)
{
	struct task_struct *t = task();
	int r;

	if (!t)
		return 1;
	r = global_calls_global(skb);
	bpf_task_release(t);
	return r;
}

/*
 * 2^15 calls of a global function that may throw, each with a task held:
 * the verifier records a chain per call. Its records once outgrew what
 * kmalloc gives, which warned (fatal with panic_on_warn), and each walk
 * looked the task's destructor up among the kernel's symbols: an adversarial
 * program of this shape took 26 times stock's time to verify. The name
 * keeps it out of the runs of 10^5: it throws at its first call.
 */
#define CALL1 r |= global_throws(skb);
#define CALL8 CALL1 CALL1 CALL1 CALL1 CALL1 CALL1 CALL1 CALL1
#define CALL64 CALL8 CALL8 CALL8 CALL8 CALL8 CALL8 CALL8 CALL8
#define CALL512 CALL64 CALL64 CALL64 CALL64 CALL64 CALL64 CALL64 CALL64
#define CALL4096 CALL512 CALL512 CALL512 CALL512 CALL512 CALL512 CALL512 CALL512
/* In a static subprog of its own: no jump of main's crosses the calls. */
static __noinline int calls_global_many_times(struct __sk_buff *skb)
{
	int r = 0;

	CALL4096 CALL4096 CALL4096 CALL4096 CALL4096 CALL4096 CALL4096 CALL4096
	return r;
}

SEC("?tc")
__success __retval(7)
int many_global_calls_holding_a_task(struct __sk_buff *skb)
{
	struct task_struct *t = task();
	int r;

	if (!t)
		return 1;
	r = calls_global_many_times(skb);
	bpf_task_release(t);
	return r;
}

/*
 * 51^3 = 132651 chains that hold nothing: main calls a static subprog
 * from 51 places, which calls another from 51 places, which calls a
 * global function that may throw (and does not, here) from 51 places.
 * The verifier records each chain, and stock loads the program (some
 * 4*10^5 instructions processed). Records once counted 8 entries each in
 * the verifier's cap of 2^20, which refused it (E2BIG); a record's zeros,
 * most of its size, are now shared, and a record counts its size (5).
 */
__noinline int global_may_throw(struct __sk_buff *skb)
{
	if (skb->len == 12345)
		bpf_throw(COOKIE);
	return 0;
}

#define R3(x) x x x
#define R17(x) R3(x) R3(x) R3(x) R3(x) R3(x) x x
#define R51(x) R17(x) R17(x) R17(x)

static __noinline int calls_51_globals(struct __sk_buff *skb)
{
	int r = 0;

	R51(r |= global_may_throw(skb);)
	return r;
}

static __noinline int calls_51_subprogs(struct __sk_buff *skb)
{
	int r = 0;

	R51(r |= calls_51_globals(skb);)
	return r;
}

SEC("?tc")
__success __retval(0)
int many_chains_holding_nothing(struct __sk_buff *skb)
{
	int r = 0;

	R51(r |= calls_51_subprogs(skb);)
	return r;
}

/*
 * A place that holds a reference on one path and something other than
 * NULL on another: the unwinder could not tell them apart. The first
 * pass of the verifier conflicts; it gives bpf_task_acquire() a stack
 * slot of its own, where the program stores what it returns (zeroed on
 * entry), and the second pass releases the task from there.
 */
SEC("?tc")
__success __retval(7)
__naked int throw_task_or_scalar(void)
{
	asm volatile (
	"call %[bpf_get_prandom_u32];"
	"r6 = 5;"
	"r0 &= 1;"
	"if r0 == 0 goto 1f;"
	"call %[bpf_get_current_task_btf];"
	"r1 = r0;"
	"call %[bpf_task_acquire];"
	"if r0 == 0 goto 2f;"
	"r6 = r0;"
"1:"
	"r1 = 7;"
	"call %[bpf_throw];"
"2:"
	"r0 = 0;"
	"exit;"
	:
	: __imm(bpf_get_prandom_u32), __imm(bpf_get_current_task_btf),
	  __imm(bpf_task_acquire), __imm(bpf_throw)
	: __clobber_all);
}

/*
 * Two kinds of resource in R6, a task on one path and a ring buffer
 * record on the other, each path taken half the time: each acquiring call
 * gets a slot of its own, and each path's throw releases its own.
 */
SEC("?tc")
__success __retval(7)
__naked int throw_task_or_ringbuf(void)
{
	asm volatile (
	"call %[bpf_get_prandom_u32];"
	"r0 &= 1;"
	"if r0 == 0 goto 1f;"
	"call %[bpf_get_current_task_btf];"
	"r1 = r0;"
	"call %[bpf_task_acquire];"
	"if r0 == 0 goto 3f;"
	"r6 = r0;"
	"goto 2f;"
"1:"
	"r1 = %[rb] ll;"
	"r2 = 8;"
	"r3 = 0;"
	"call %[bpf_ringbuf_reserve];"
	"if r0 == 0 goto 3f;"
	"r6 = r0;"
"2:"
	"r1 = 7;"
	"call %[bpf_throw];"
"3:"
	"r0 = 0;"
	"exit;"
	:
	: __imm(bpf_get_prandom_u32), __imm(bpf_get_current_task_btf),
	  __imm(bpf_task_acquire), __imm_addr(rb), __imm(bpf_ringbuf_reserve),
	  __imm(bpf_throw)
	: __clobber_all);
}

/* The same at a call of a global function that may throw: stock loads it
 * and leaks the task or the record on every throw.
 */
SEC("?tc")
__success __retval(7)
__naked int throw_global_task_or_ringbuf(void)
{
	asm volatile (
	"r9 = r1;"
	"call %[bpf_get_prandom_u32];"
	"r0 &= 1;"
	"r8 = r0;"
	"if r0 == 0 goto 1f;"
	"call %[bpf_get_current_task_btf];"
	"r1 = r0;"
	"call %[bpf_task_acquire];"
	"if r0 == 0 goto 3f;"
	"r6 = r0;"
	"goto 2f;"
"1:"
	"r1 = %[rb] ll;"
	"r2 = 8;"
	"r3 = 0;"
	"call %[bpf_ringbuf_reserve];"
	"if r0 == 0 goto 3f;"
	"r6 = r0;"
"2:"
	"r1 = r9;"
	"call global_throws;"
	/* Not thrown: R8, 1 with the task and 0 with the record, says
	 * which R6 holds.
	 */
	"if r8 == 0 goto 4f;"
	"r1 = r6;"
	"call %[bpf_task_release];"
	"goto 3f;"
"4:"
	"r1 = r6;"
	"r2 = 0;"
	"call %[bpf_ringbuf_discard];"
"3:"
	"r0 = 0;"
	"exit;"
	:
	: __imm(bpf_get_prandom_u32), __imm(bpf_get_current_task_btf),
	  __imm(bpf_task_acquire), __imm_addr(rb), __imm(bpf_ringbuf_reserve),
	  __imm(bpf_task_release), __imm(bpf_ringbuf_discard)
	: __clobber_all);
}

/* A task or a ring buffer record in the stack slot at -8 of a static
 * subprog, which throws: the two calls' own slots lie in the subprog's
 * frame, zeroed on each entry to it.
 */
static __naked __noinline __used int two_kinds_in_a_slot(void)
{
	asm volatile (
	"call %[bpf_get_prandom_u32];"
	"r0 &= 1;"
	"if r0 == 0 goto 1f;"
	"call %[bpf_get_current_task_btf];"
	"r1 = r0;"
	"call %[bpf_task_acquire];"
	"if r0 == 0 goto 3f;"
	"*(u64 *)(r10 - 8) = r0;"
	"goto 2f;"
"1:"
	"r1 = %[rb] ll;"
	"r2 = 8;"
	"r3 = 0;"
	"call %[bpf_ringbuf_reserve];"
	"if r0 == 0 goto 3f;"
	"*(u64 *)(r10 - 8) = r0;"
"2:"
	"r0 = 0;"
	"r1 = 7;"
	"call %[bpf_throw];"
"3:"
	"r0 = 0;"
	"exit;"
	:
	: __imm(bpf_get_prandom_u32), __imm(bpf_get_current_task_btf),
	  __imm(bpf_task_acquire), __imm_addr(rb), __imm(bpf_ringbuf_reserve),
	  __imm(bpf_throw)
	: __clobber_all);
}

SEC("?tc")
__success __retval(7)
__naked int throw_two_kinds_in_a_static_slot(void)
{
	asm volatile (
	"call two_kinds_in_a_slot;"
	"r0 = 0;"
	"exit;"
	::: __clobber_all);
}

/* The instruction after the call that gets its own slot is a backward
 * jump, which the inserted store moves down by one: its offset must be
 * corrected, or it lands on "r8 = r0;"'s successor and R8 is read
 * uninitialised (found by an adversarial review, where the skipped
 * instruction fed a precision walk that then missed it).
 */
SEC("?tc")
__success __retval(7)
__naked int throw_own_slot_then_jump_back(void)
{
	asm volatile (
	"call %[bpf_get_prandom_u32];"
	"r6 = 5;"
	"r0 &= 1;"
	"if r0 == 0 goto 2f;"
	"goto 3f;"
"1:"
	"r8 = r0;"
	"if r8 == 0 goto 4f;"
	"r6 = r8;"
"2:"
	"r1 = 7;"
	"call %[bpf_throw];"
"3:"
	"call %[bpf_get_current_task_btf];"
	"r1 = r0;"
	"call %[bpf_task_acquire];"
	"goto 1b;"
"4:"
	"r0 = 0;"
	"exit;"
	:
	: __imm(bpf_get_prandom_u32), __imm(bpf_get_current_task_btf),
	  __imm(bpf_task_acquire), __imm(bpf_throw)
	: __clobber_all);
}

/* A subprog that gets a slot of its own and starts with a call of an
 * earlier subprog: the zeroing inserted before that call moves it down by
 * one, and its backward offset must be corrected (else "No program
 * starts at insn").
 */
static __naked __noinline __used int returns_zero(void)
{
	asm volatile (
	"r0 = 0;"
	"exit;"
	::: __clobber_all);
}

static __naked __noinline __used int calls_back_then_two_kinds(void)
{
	asm volatile (
	"call returns_zero;"
	"call %[bpf_get_prandom_u32];"
	"r6 = 5;"
	"r0 &= 1;"
	"if r0 == 0 goto 1f;"
	"call %[bpf_get_current_task_btf];"
	"r1 = r0;"
	"call %[bpf_task_acquire];"
	"if r0 == 0 goto 2f;"
	"r6 = r0;"
"1:"
	"r1 = 7;"
	"call %[bpf_throw];"
"2:"
	"r0 = 0;"
	"exit;"
	:
	: __imm(bpf_get_prandom_u32), __imm(bpf_get_current_task_btf),
	  __imm(bpf_task_acquire), __imm(bpf_throw)
	: __clobber_all);
}

SEC("?tc")
__success __retval(7)
__naked int throw_own_slot_in_a_subprog_that_calls_back(void)
{
	/* libbpf appends subprogs in the order of the calls it meets:
	 * returns_zero first, so that the call of it is a backward one.
	 */
	asm volatile (
	"call returns_zero;"
	"call calls_back_then_two_kinds;"
	"r0 = 0;"
	"exit;"
	::: __clobber_all);
}

/*
 * A task acquired and released on the path walked first, which then
 * holds a ring buffer record in R6; the task in R6 on the other. The
 * calls get slots of their own (second pass), and the task's slot still
 * holds the released task on the first path (the verifier knows only
 * that it is not zero): the program clears the slot after the release
 * (third pass), and the throw releases the record or the task.
 */
SEC("?tc")
__success __retval(7)
__naked int throw_own_slot_released_before(void)
{
	asm volatile (
	"call %[bpf_get_current_task_btf];"
	"r1 = r0;"
	"call %[bpf_task_acquire];"
	"if r0 == 0 goto 3f;"
	"r7 = r0;"
	"call %[bpf_get_prandom_u32];"
	"if r0 == 0 goto 1f;"
	"r1 = r7;"
	"call %[bpf_task_release];"
	"r1 = %[rb] ll;"
	"r2 = 8;"
	"r3 = 0;"
	"call %[bpf_ringbuf_reserve];"
	"if r0 == 0 goto 3f;"
	"r6 = r0;"
	"goto 2f;"
"1:"
	"r6 = r7;"
"2:"
	"r1 = 7;"
	"call %[bpf_throw];"
"3:"
	"r0 = 0;"
	"exit;"
	:
	: __imm(bpf_get_prandom_u32), __imm(bpf_get_current_task_btf),
	  __imm(bpf_task_acquire), __imm(bpf_task_release), __imm_addr(rb),
	  __imm(bpf_ringbuf_reserve), __imm(bpf_throw)
	: __clobber_all);
}

/* The same at a call of a global function that may throw, which stock
 * loads: it then leaks the task or the record on every throw.
 */
SEC("?tc")
__success __retval(7)
__naked int throw_global_own_slot_released_before(void)
{
	asm volatile (
	"r9 = r1;"
	"call %[bpf_get_current_task_btf];"
	"r1 = r0;"
	"call %[bpf_task_acquire];"
	"if r0 == 0 goto 3f;"
	"r7 = r0;"
	"call %[bpf_get_prandom_u32];"
	"r0 &= 1;"
	"r8 = r0;"
	"if r0 == 0 goto 1f;"
	"r1 = r7;"
	"call %[bpf_task_release];"
	"r1 = %[rb] ll;"
	"r2 = 8;"
	"r3 = 0;"
	"call %[bpf_ringbuf_reserve];"
	"if r0 == 0 goto 3f;"
	"r6 = r0;"
	"goto 2f;"
"1:"
	"r6 = r7;"
"2:"
	"r1 = r9;"
	"call global_throws;"
	/* Not thrown: R8, 1 with the record and 0 with the task, says
	 * which R6 holds.
	 */
	"if r8 == 0 goto 4f;"
	"r1 = r6;"
	"r2 = 0;"
	"call %[bpf_ringbuf_discard];"
	"goto 3f;"
"4:"
	"r1 = r6;"
	"call %[bpf_task_release];"
"3:"
	"r0 = 0;"
	"exit;"
	:
	: __imm(bpf_get_prandom_u32), __imm(bpf_get_current_task_btf),
	  __imm(bpf_task_acquire), __imm(bpf_task_release), __imm_addr(rb),
	  __imm(bpf_ringbuf_reserve), __imm(bpf_ringbuf_discard)
	: __clobber_all);
}

/* Acquires the current task and returns it: the pointer outlives the
 * frame of the call that acquired it.
 */
static __noinline __used struct task_struct *acquire_current(void)
{
	return bpf_task_acquire(bpf_get_current_task_btf());
}

/*
 * A task that a static subprog acquired and returned, or a ring buffer
 * record, in R6 at a throw. The task's acquiring call has no frame at
 * the throw: the call of the subprog gets the slot of its own, filled
 * with what it returns.
 */
SEC("?tc")
__success __retval(7)
__naked int throw_returned_task_or_ringbuf(void)
{
	asm volatile (
	"call %[bpf_get_prandom_u32];"
	"if r0 == 0 goto 1f;"
	"call acquire_current;"
	"if r0 == 0 goto 3f;"
	"r6 = r0;"
	"goto 2f;"
"1:"
	"r1 = %[rb] ll;"
	"r2 = 8;"
	"r3 = 0;"
	"call %[bpf_ringbuf_reserve];"
	"if r0 == 0 goto 3f;"
	"r6 = r0;"
"2:"
	"r1 = 7;"
	"call %[bpf_throw];"
"3:"
	"r0 = 0;"
	"exit;"
	:
	: __imm(bpf_get_prandom_u32), __imm_addr(rb), __imm(bpf_ringbuf_reserve),
	  __imm(bpf_throw)
	: __clobber_all);
}

/* The same at a call of a global function that may throw, which stock
 * loads: it then leaks the task or the record on every throw.
 */
SEC("?tc")
__success __retval(7)
__naked int throw_global_returned_task_or_ringbuf(void)
{
	asm volatile (
	"r9 = r1;"
	"call %[bpf_get_prandom_u32];"
	"r0 &= 1;"
	"r8 = r0;"
	"if r0 == 0 goto 1f;"
	"call acquire_current;"
	"if r0 == 0 goto 3f;"
	"r6 = r0;"
	"goto 2f;"
"1:"
	"r1 = %[rb] ll;"
	"r2 = 8;"
	"r3 = 0;"
	"call %[bpf_ringbuf_reserve];"
	"if r0 == 0 goto 3f;"
	"r6 = r0;"
"2:"
	"r1 = r9;"
	"call global_throws;"
	/* Not thrown: R8, 1 with the task and 0 with the record, says
	 * which R6 holds.
	 */
	"if r8 == 0 goto 4f;"
	"r1 = r6;"
	"call %[bpf_task_release];"
	"goto 3f;"
"4:"
	"r1 = r6;"
	"r2 = 0;"
	"call %[bpf_ringbuf_discard];"
"3:"
	"r0 = 0;"
	"exit;"
	:
	: __imm(bpf_get_prandom_u32), __imm_addr(rb), __imm(bpf_ringbuf_reserve),
	  __imm(bpf_task_release), __imm(bpf_ringbuf_discard)
	: __clobber_all);
}

/* Releases the task in R1. */
static __naked __noinline __used int release_task_in_a_subprog(void)
{
	asm volatile (
	"call %[bpf_task_release];"
	"r0 = 0;"
	"exit;"
	:
	: __imm(bpf_task_release)
	: __clobber_all);
}

/*
 * As throw_own_slot_released_before, but a static subprog releases the
 * task: it cannot reach the slot, which the program clears after the
 * call of the subprog.
 */
SEC("?tc")
__success __retval(7)
__naked int throw_own_slot_released_in_a_subprog(void)
{
	asm volatile (
	"call %[bpf_get_current_task_btf];"
	"r1 = r0;"
	"call %[bpf_task_acquire];"
	"if r0 == 0 goto 3f;"
	"r7 = r0;"
	"call %[bpf_get_prandom_u32];"
	"if r0 == 0 goto 1f;"
	"r1 = r7;"
	"call release_task_in_a_subprog;"
	"r1 = %[rb] ll;"
	"r2 = 8;"
	"r3 = 0;"
	"call %[bpf_ringbuf_reserve];"
	"if r0 == 0 goto 3f;"
	"r6 = r0;"
	"goto 2f;"
"1:"
	"r6 = r7;"
"2:"
	"r1 = 7;"
	"call %[bpf_throw];"
"3:"
	"r0 = 0;"
	"exit;"
	:
	: __imm(bpf_get_prandom_u32), __imm(bpf_get_current_task_btf),
	  __imm(bpf_task_acquire), __imm_addr(rb), __imm(bpf_ringbuf_reserve),
	  __imm(bpf_throw)
	: __clobber_all);
}

/* The same at a call of a global function that may throw, which stock
 * loads.
 */
SEC("?tc")
__success __retval(7)
__naked int throw_global_own_slot_released_in_a_subprog(void)
{
	asm volatile (
	"r9 = r1;"
	"call %[bpf_get_current_task_btf];"
	"r1 = r0;"
	"call %[bpf_task_acquire];"
	"if r0 == 0 goto 3f;"
	"r7 = r0;"
	"call %[bpf_get_prandom_u32];"
	"r0 &= 1;"
	"r8 = r0;"
	"if r0 == 0 goto 1f;"
	"r1 = r7;"
	"call release_task_in_a_subprog;"
	"r1 = %[rb] ll;"
	"r2 = 8;"
	"r3 = 0;"
	"call %[bpf_ringbuf_reserve];"
	"if r0 == 0 goto 3f;"
	"r6 = r0;"
	"goto 2f;"
"1:"
	"r6 = r7;"
"2:"
	"r1 = r9;"
	"call global_throws;"
	"if r8 == 0 goto 4f;"
	"r1 = r6;"
	"r2 = 0;"
	"call %[bpf_ringbuf_discard];"
	"goto 3f;"
"4:"
	"r1 = r6;"
	"call %[bpf_task_release];"
"3:"
	"r0 = 0;"
	"exit;"
	:
	: __imm(bpf_get_prandom_u32), __imm(bpf_get_current_task_btf),
	  __imm(bpf_task_acquire), __imm(bpf_task_release), __imm_addr(rb),
	  __imm(bpf_ringbuf_reserve), __imm(bpf_ringbuf_discard)
	: __clobber_all);
}

/*
 * As throw_own_slot_released_before, but the task is moved into a map
 * with bpf_kptr_xchg(), which drops the reference without
 * release_reference(), and the map's old task, if any, put back (the task
 * taken out again is released): the program clears the slot after the
 * move.
 */
SEC("?tc")
__success __retval(7)
__naked int throw_own_slot_moved_to_a_map(void)
{
	asm volatile (
	"call %[bpf_get_current_task_btf];"
	"r1 = r0;"
	"call %[bpf_task_acquire];"
	"if r0 == 0 goto 3f;"
	"r7 = r0;"
	"call %[bpf_get_prandom_u32];"
	"if r0 == 0 goto 1f;"
	"r1 = 0;"
	"*(u32 *)(r10 - 4) = r1;"
	"r2 = r10;"
	"r2 += -4;"
	"r1 = %[kept] ll;"
	"call %[bpf_map_lookup_elem];"
	"if r0 != 0 goto 4f;"
	"r1 = r7;"
	"call %[bpf_task_release];"
	"goto 3f;"
"4:"
	"*(u64 *)(r10 - 16) = r0;"
	"r1 = r0;"
	"r2 = r7;"
	"call %[bpf_kptr_xchg];"
	"if r0 == 0 goto 7f;"
	"r2 = r0;"
	"r1 = *(u64 *)(r10 - 16);"
	"call %[bpf_kptr_xchg];"
	"goto 8f;"
"7:"
	"r1 = *(u64 *)(r10 - 16);"
	"r2 = 0;"
	"call %[bpf_kptr_xchg];"
"8:"
	"if r0 == 0 goto 5f;"
	"r1 = r0;"
	"call %[bpf_task_release];"
"5:"
	"r1 = %[rb] ll;"
	"r2 = 8;"
	"r3 = 0;"
	"call %[bpf_ringbuf_reserve];"
	"if r0 == 0 goto 3f;"
	"r6 = r0;"
	"goto 2f;"
"1:"
	"r6 = r7;"
"2:"
	"r1 = 7;"
	"call %[bpf_throw];"
"3:"
	"r0 = 0;"
	"exit;"
	:
	: __imm(bpf_get_prandom_u32), __imm(bpf_get_current_task_btf),
	  __imm(bpf_task_acquire), __imm(bpf_task_release), __imm_addr(rb),
	  __imm(bpf_ringbuf_reserve), __imm(bpf_throw), __imm_addr(kept),
	  __imm(bpf_map_lookup_elem), __imm(bpf_kptr_xchg)
	: __clobber_all);
}

/* The same at a call of a global function that may throw, which stock
 * loads.
 */
SEC("?tc")
__success __retval(7)
__naked int throw_global_own_slot_moved_to_a_map(void)
{
	asm volatile (
	"r9 = r1;"
	"call %[bpf_get_current_task_btf];"
	"r1 = r0;"
	"call %[bpf_task_acquire];"
	"if r0 == 0 goto 3f;"
	"r7 = r0;"
	"call %[bpf_get_prandom_u32];"
	"r0 &= 1;"
	"r8 = r0;"
	"if r0 == 0 goto 1f;"
	"r1 = 0;"
	"*(u32 *)(r10 - 4) = r1;"
	"r2 = r10;"
	"r2 += -4;"
	"r1 = %[kept] ll;"
	"call %[bpf_map_lookup_elem];"
	"if r0 != 0 goto 4f;"
	"r1 = r7;"
	"call %[bpf_task_release];"
	"goto 3f;"
"4:"
	"*(u64 *)(r10 - 16) = r0;"
	"r1 = r0;"
	"r2 = r7;"
	"call %[bpf_kptr_xchg];"
	"if r0 == 0 goto 7f;"
	"r2 = r0;"
	"r1 = *(u64 *)(r10 - 16);"
	"call %[bpf_kptr_xchg];"
	"goto 8f;"
"7:"
	"r1 = *(u64 *)(r10 - 16);"
	"r2 = 0;"
	"call %[bpf_kptr_xchg];"
"8:"
	"if r0 == 0 goto 5f;"
	"r1 = r0;"
	"call %[bpf_task_release];"
"5:"
	"r1 = %[rb] ll;"
	"r2 = 8;"
	"r3 = 0;"
	"call %[bpf_ringbuf_reserve];"
	"if r0 == 0 goto 3f;"
	"r6 = r0;"
	"goto 2f;"
"1:"
	"r6 = r7;"
"2:"
	"r1 = r9;"
	"call global_throws;"
	"if r8 == 0 goto 6f;"
	"r1 = r6;"
	"r2 = 0;"
	"call %[bpf_ringbuf_discard];"
	"goto 3f;"
"6:"
	"r1 = r6;"
	"call %[bpf_task_release];"
"3:"
	"r0 = 0;"
	"exit;"
	:
	: __imm(bpf_get_prandom_u32), __imm(bpf_get_current_task_btf),
	  __imm(bpf_task_acquire), __imm(bpf_task_release), __imm_addr(rb),
	  __imm(bpf_ringbuf_reserve), __imm(bpf_ringbuf_discard),
	  __imm_addr(kept), __imm(bpf_map_lookup_elem), __imm(bpf_kptr_xchg)
	: __clobber_all);
}

/* Acquires the current task and returns it if R1 is not zero; else
 * returns without writing R0, which the verifier allows of a static
 * subprog whose caller does not read it.
 */
static __naked __noinline __used void maybe_acquire_current(void)
{
	asm volatile (
	"if r1 == 0 goto 1f;"
	"call %[bpf_get_current_task_btf];"
	"r1 = r0;"
	"call %[bpf_task_acquire];"
"1:"
	"exit;"
	:
	: __imm(bpf_get_current_task_btf), __imm(bpf_task_acquire)
	: __clobber_all);
}

/*
 * As throw_returned_task_or_ringbuf, but the call that returned the task
 * returns nothing on the paths that hold the record: R7, tied to the
 * callee's R1, says which, and those paths never read R0. The store of
 * what the call returns into its slot of its own reads R0 on every path:
 * the callee sets it to zero on entry.
 */
SEC("?tc")
__success __retval(7)
__naked int throw_returned_task_or_unset_r0(void)
{
	asm volatile (
	"call %[bpf_get_prandom_u32];"
	"r7 = r0;"
	"r7 &= 1;"
	"r1 = r7;"
	"call maybe_acquire_current;"
	"if r7 == 0 goto 1f;"
	"if r0 == 0 goto 3f;"
	"r6 = r0;"
	"goto 2f;"
"1:"
	"r1 = %[rb] ll;"
	"r2 = 8;"
	"r3 = 0;"
	"call %[bpf_ringbuf_reserve];"
	"if r0 == 0 goto 3f;"
	"r6 = r0;"
"2:"
	"r1 = 7;"
	"call %[bpf_throw];"
"3:"
	"r0 = 0;"
	"exit;"
	:
	: __imm(bpf_get_prandom_u32), __imm_addr(rb), __imm(bpf_ringbuf_reserve),
	  __imm(bpf_throw)
	: __clobber_all);
}

/* The same at a call of a global function that may throw, which stock
 * loads.
 */
SEC("?tc")
__success __retval(7)
__naked int throw_global_returned_task_or_unset_r0(void)
{
	asm volatile (
	"r9 = r1;"
	"call %[bpf_get_prandom_u32];"
	"r7 = r0;"
	"r7 &= 1;"
	"r1 = r7;"
	"call maybe_acquire_current;"
	"if r7 == 0 goto 1f;"
	"if r0 == 0 goto 3f;"
	"r6 = r0;"
	"goto 2f;"
"1:"
	"r1 = %[rb] ll;"
	"r2 = 8;"
	"r3 = 0;"
	"call %[bpf_ringbuf_reserve];"
	"if r0 == 0 goto 3f;"
	"r6 = r0;"
"2:"
	"r1 = r9;"
	"call global_throws;"
	"if r7 == 0 goto 4f;"
	"r1 = r6;"
	"call %[bpf_task_release];"
	"goto 3f;"
"4:"
	"r1 = r6;"
	"r2 = 0;"
	"call %[bpf_ringbuf_discard];"
"3:"
	"r0 = 0;"
	"exit;"
	:
	: __imm(bpf_get_prandom_u32), __imm_addr(rb), __imm(bpf_ringbuf_reserve),
	  __imm(bpf_task_release), __imm(bpf_ringbuf_discard)
	: __clobber_all);
}

/* Upstream's exceptions_fail.c reject_with_rcu_read_lock and
 * reject_subprog_with_rcu_read_lock, which now load, with our cookie.
 */
SEC("?tc")
__success __retval(7)
int throw_upstream_rcu(void *ctx)
{
	bpf_rcu_read_lock();
	bpf_throw(7);
	return 0;
}

static __noinline int upstream_throwing_subprog(struct __sk_buff *ctx)
{
	if (ctx->len)
		bpf_throw(7);
	return 0;
}

SEC("?tc")
__success __retval(7)
int throw_upstream_subprog_rcu(void *ctx)
{
	bpf_rcu_read_lock();
	upstream_throwing_subprog(ctx);
	bpf_rcu_read_unlock();
	return 0;
}

/*
 * A reference that lives only in a caller-saved register at the call of
 * bpf_throw(), as with an assertion that clang knows does not return: the
 * unwinder's entry keeps R0 and R3-R5.
 */
SEC("?tc")
__success __retval(7)
int throw_task_noreturn(struct __sk_buff *skb)
{
	struct task_struct *t = task();

	if (!t)
		return 1;
	if (skb->len) {
		bpf_throw(COOKIE);
		__builtin_unreachable();
	}
	bpf_task_release(t);
	return 0;
}

SEC("?tc")
__success __retval(7)
__naked int throw_task_in_r4(void)
{
	asm volatile (
	"call %[bpf_get_current_task_btf];"
	"r1 = r0;"
	"call %[bpf_task_acquire];"
	"if r0 == 0 goto 1f;"
	"r4 = r0;"
	"r0 = 0;"
	"r1 = 7;"
	"call %[bpf_throw];"
"1:"
	"r0 = 0;"
	"exit;"
	:
	: __imm(bpf_get_current_task_btf), __imm(bpf_task_acquire), __imm(bpf_throw)
	: __clobber_all);
}

/*
 * From an adversarial review: the x86-64 JIT loads the tail call count
 * pointer into rax before every call of a function that can reach a tail
 * call, and did so before bpf_throw() too. A reference in R0 at the throw
 * was then a stack address to the unwinder: it called the task's
 * destructor on the stack, discarded a stack address as a ring buffer
 * record, and released "R0" where the acquire had failed and R0 was
 * NULL, and leaked the reference. The JIT leaves rax alone at calls of
 * bpf_throw() now. tail_calls stays empty: the tail call falls through,
 * but makes its function, and each that calls it, tail-call reachable.
 */
struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 1);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u32));
} tail_calls SEC(".maps");

SEC("?tc")
__success __retval(7)
__naked int throw_task_in_r0_tail_call_reachable(void)
{
	asm volatile (
	"r6 = r1;"
	"r2 = %[tail_calls] ll;"
	"r3 = 0;"
	"call %[bpf_tail_call];"
	"call %[bpf_get_current_task_btf];"
	"r1 = r0;"
	"call %[bpf_task_acquire];"
	"if r0 == 0 goto 1f;"
	"r1 = 7;"
	"call %[bpf_throw];"
"1:"
	"r0 = 0;"
	"exit;"
	:
	: __imm(bpf_tail_call), __imm(bpf_get_current_task_btf),
	  __imm(bpf_task_acquire), __imm(bpf_throw), __imm_addr(tail_calls)
	: __clobber_all);
}

SEC("?tc")
__success __retval(7)
__naked int throw_ringbuf_in_r0_tail_call_reachable(void)
{
	asm volatile (
	"r2 = %[tail_calls] ll;"
	"r3 = 0;"
	"call %[bpf_tail_call];"
	"r1 = %[rb] ll;"
	"r2 = 8;"
	"r3 = 0;"
	"call %[bpf_ringbuf_reserve];"
	"if r0 == 0 goto 1f;"
	"r1 = 7;"
	"call %[bpf_throw];"
"1:"
	"r0 = 0;"
	"exit;"
	:
	: __imm(bpf_tail_call), __imm(bpf_ringbuf_reserve), __imm(bpf_throw),
	  __imm_addr(tail_calls), __imm_addr(rb)
	: __clobber_all);
}

/* No cgroup has that id: R0 is NULL at the throw, and nothing is released. */
SEC("?tc")
__success __retval(7)
__naked int throw_null_in_r0_tail_call_reachable(void)
{
	asm volatile (
	"r2 = %[tail_calls] ll;"
	"r3 = 0;"
	"call %[bpf_tail_call];"
	"r1 = -1;"
	"call %[bpf_cgroup_from_id];"
	"r1 = 7;"
	"call %[bpf_throw];"
	"r0 = 0;"
	"exit;"
	:
	: __imm(bpf_tail_call), __imm(bpf_cgroup_from_id), __imm(bpf_throw),
	  __imm_addr(tail_calls)
	: __clobber_all);
}

/*
 * The same in C, where a static subprog makes the tail call and the
 * throwing subprog keeps the task in R0 (clang knows the throw does not
 * return): both it and main are tail-call reachable.
 */
static __noinline int tail_call_through(struct __sk_buff *skb)
{
	bpf_tail_call_static(skb, &tail_calls, 0);
	return skb->len & 1;
}

static __noinline int throw_task_in_r0_subprog(struct __sk_buff *skb)
{
	struct task_struct *t;

	if (tail_call_through(skb) > 1)
		return 2;
	t = task();
	if (!t)
		return 1;
	if (skb->len) {
		bpf_throw(COOKIE);
		__builtin_unreachable();
	}
	bpf_task_release(t);
	return 0;
}

SEC("?tc")
__success __retval(7)
int throw_task_noreturn_tail_call_reachable(struct __sk_buff *skb)
{
	return throw_task_in_r0_subprog(skb);
}

/*
 * From an adversarial review: passes that run after the verifier must
 * know that a throw reads the places it releases. A bpf_fastcall
 * spill/fill pair around an inlined helper (bpf_get_smp_processor_id) is
 * removed after verification, and the frame may shrink: the task would
 * then be in no slot at run time, and the unwinder would release what
 * the slot holds (a value the program wrote there with a kept pair, a
 * return address, or the caller's R6). The throw's read keeps the pairs.
 */
SEC("?tc")
__success __retval(7)
__naked int throw_fastcall_kept(void)
{
	asm volatile (
	"r1 = 0x4141414141414141 ll;"
	"*(u64 *)(r10 - 8) = r1;"
	"call %[bpf_ktime_get_ns];"
	"r1 = *(u64 *)(r10 - 8);"
	"call %[bpf_get_current_task_btf];"
	"r1 = r0;"
	"call %[bpf_task_acquire];"
	"if r0 == 0 goto 1f;"
	"r1 = r0;"
	"*(u64 *)(r10 - 8) = r1;"
	"call %[bpf_get_smp_processor_id];"
	"r1 = *(u64 *)(r10 - 8);"
	"r1 = 7;"
	"call %[bpf_throw];"
"1:"
	"r0 = 0;"
	"exit;"
	:
	: __imm(bpf_ktime_get_ns), __imm(bpf_get_current_task_btf),
	  __imm(bpf_task_acquire), __imm(bpf_get_smp_processor_id), __imm(bpf_throw)
	: __clobber_all);
}

SEC("?tc")
__success __retval(7)
__naked int throw_fastcall_shrunk(void)
{
	asm volatile (
	"call %[bpf_get_current_task_btf];"
	"r1 = r0;"
	"call %[bpf_task_acquire];"
	"if r0 == 0 goto 1f;"
	"r1 = r0;"
	"*(u64 *)(r10 - 8) = r1;"
	"call %[bpf_get_smp_processor_id];"
	"r1 = *(u64 *)(r10 - 8);"
	"r1 = 7;"
	"call %[bpf_throw];"
"1:"
	"r0 = 0;"
	"exit;"
	:
	: __imm(bpf_get_current_task_btf), __imm(bpf_task_acquire),
	  __imm(bpf_get_smp_processor_id), __imm(bpf_throw)
	: __clobber_all);
}

__naked __noinline __used static int fastcall_sub(void)
{
	asm volatile (
	"r6 = 0;"
	"call %[bpf_get_current_task_btf];"
	"r1 = r0;"
	"call %[bpf_task_acquire];"
	"if r0 == 0 goto 1f;"
	"r1 = r0;"
	"*(u64 *)(r10 - 8) = r1;"
	"call %[bpf_get_smp_processor_id];"
	"r1 = *(u64 *)(r10 - 8);"
	"r1 = 7;"
	"call %[bpf_throw];"
"1:"
	"r0 = r6;"
	"exit;"
	:
	: __imm(bpf_get_current_task_btf), __imm(bpf_task_acquire),
	  __imm(bpf_get_smp_processor_id), __imm(bpf_throw)
	: __clobber_all);
}

SEC("?tc")
__success __retval(7)
__naked int throw_fastcall_callee(void)
{
	asm volatile (
	"r6 = 0x4242424242424242 ll;"
	"call fastcall_sub;"
	"r0 = r6;"
	"exit;"
	::: __clobber_all);
}

/*
 * From the same review: with BPF_F_TEST_RND_HI32, which upstream's
 * test_loader sets on every program, a register set by a 32-bit
 * instruction gets random upper bits unless something reads it as 64
 * bits. The NULL in R6 that the throw relies on on one path is such a
 * register: the throw's read zero-extends it.
 */
SEC("?tc")
__flag(BPF_F_TEST_RND_HI32)
__success __retval(7)
__naked int throw_hi32_null(void)
{
	asm volatile (
	"call %[bpf_get_prandom_u32];"
	"r7 = r0;"
	"r7 &= 1;"
	"w6 = 0;"
	"if r7 != 0 goto 1f;"
	"call %[bpf_get_current_task_btf];"
	"r1 = r0;"
	"call %[bpf_task_acquire];"
	"if r0 == 0 goto 2f;"
	"r6 = r0;"
"1:"
	"r1 = 7;"
	"call %[bpf_throw];"
"2:"
	"r0 = 0;"
	"exit;"
	:
	: __imm(bpf_get_prandom_u32), __imm(bpf_get_current_task_btf),
	  __imm(bpf_task_acquire), __imm(bpf_throw)
	: __clobber_all);
}

/* A bpf_spin_lock is still never held across a throw. */
private(A) struct bpf_spin_lock lock;

/*
 * An owning reference from a collection, held as the pointer to its list
 * node (clang computes container_of() only where it drops it): the throw
 * drops the object from the node's offset, and with it the task it holds.
 */
struct elem {
	long v;
	struct task_struct __kptr *task;
	struct bpf_list_node node;
};

private(L) struct bpf_spin_lock list_lock;
private(L) struct bpf_list_head list __contains(elem, node);

SEC("?tc")
__success __retval(7)
int throw_list_node_pointer(struct __sk_buff *skb)
{
	struct elem *e = bpf_obj_new(typeof(*e));
	struct bpf_list_node *n;
	struct task_struct *t;
	int r;

	if (!e)
		return 1;
	t = task();
	if (t) {
		t = bpf_kptr_xchg(&e->task, t);
		if (t)
			bpf_task_release(t);
	}
	bpf_spin_lock(&list_lock);
	bpf_list_push_back(&list, &e->node);
	bpf_spin_unlock(&list_lock);
	bpf_spin_lock(&list_lock);
	n = bpf_list_pop_front(&list);
	bpf_spin_unlock(&list_lock);
	if (!n)
		return 1;
	e = container_of(n, struct elem, node);
	r = throw_at(skb, 2);
	bpf_obj_drop(e);
	return r;
}

/*
 * An object held, or pushed into the list (and taken out and dropped
 * again, to leave the list as it was) and a ring buffer record held
 * instead, at a call of a global function that may throw, which stock
 * loads. The push first makes the pointer in the object's own slot a
 * non-owning one, which the unlock then invalidates: the program clears
 * the slot after the push.
 */
SEC("?tc")
__success __retval(7)
int throw_global_own_slot_pushed_to_a_list(struct __sk_buff *skb)
{
	struct elem *e = bpf_obj_new(typeof(*e));
	struct bpf_list_node *n;
	/* Volatile: else clang threads the two paths apart up to the
	 * returns, and the call of the global function is two calls.
	 */
	volatile long pushed;
	void *held;
	int r;

	if (!e)
		return 1;
	pushed = bpf_get_prandom_u32() & 1;
	if (pushed) {
		bpf_spin_lock(&list_lock);
		bpf_list_push_back(&list, &e->node);
		n = bpf_list_pop_back(&list);
		bpf_spin_unlock(&list_lock);
		if (n)
			bpf_obj_drop(container_of(n, struct elem, node));
		held = bpf_ringbuf_reserve(&rb, 8, 0);
		if (!held)
			return 1;
	} else {
		held = e;
	}
	r = global_throws(skb);
	if (pushed)
		bpf_ringbuf_discard(held, 0);
	else
		bpf_obj_drop((struct elem *)held);
	return r;
}

/* Two owning references of one refcounted object: each is dropped once,
 * the second drop frees it and releases the task it holds.
 */
struct relem {
	long v;
	struct task_struct __kptr *task;
	struct bpf_refcount ref;
};

SEC("?tc")
__success __retval(7)
int throw_refcount(struct __sk_buff *skb)
{
	struct relem *a = bpf_obj_new(typeof(*a)), *b;
	struct task_struct *t;
	int r;

	if (!a)
		return 1;
	t = task();
	if (t) {
		t = bpf_kptr_xchg(&a->task, t);
		if (t)
			bpf_task_release(t);
	}
	b = bpf_refcount_acquire(a);
	if (!b) {
		bpf_obj_drop(a);
		return 1;
	}
	r = throw_at(skb, 2);
	bpf_obj_drop(b);
	bpf_obj_drop(a);
	return r;
}

SEC("?tc")
__failure __msg("function calls are not allowed while holding a lock")
int reject_spin_lock(struct __sk_buff *skb)
{
	bpf_spin_lock(&lock);
	bpf_throw(0);
	return 0;
}

/* A ring buffer dynptr in main's stack, thrown from depth 2. */
SEC("?tc")
__success __retval(7)
int throw_dynptr(struct __sk_buff *skb)
{
	struct bpf_dynptr ptr;
	int r;

	bpf_ringbuf_reserve_dynptr(&rb, 8, 0, &ptr);
	r = throw_at(skb, 2);
	bpf_ringbuf_discard_dynptr(&ptr, 0);
	return r;
}

extern int bpf_dynptr_clone(const struct bpf_dynptr *ptr, struct bpf_dynptr *clone__init) __ksym __weak;

/* Two dynptrs of one record: discarded once (twice would corrupt the
 * ring buffer's header and its positions), in a subprog's stack.
 */
static __noinline int dynptr_clone(struct __sk_buff *skb)
{
	struct bpf_dynptr ptr, clone;
	int r;

	bpf_ringbuf_reserve_dynptr(&rb, 16, 0, &ptr);
	bpf_dynptr_clone(&ptr, &clone);
	r = throw_at(skb, 1);
	bpf_ringbuf_discard_dynptr(&clone, 0);
	return r;
}

SEC("?tc")
__success __retval(7)
int throw_dynptr_clone(struct __sk_buff *skb)
{
	return dynptr_clone(skb);
}

/* A dynptr on some paths, zero bytes on the others, thrown from one
 * call site (in asm: clang would duplicate the call into both paths):
 * discarded only where it was reserved. The verifier walks the
 * reserving fall-through first.
 */
SEC("?tc")
__success __retval(7)
__naked int throw_dynptr_maybe(void)
{
	asm volatile (
	"call %[bpf_get_prandom_u32];"
	"r7 = r0;"
	"r7 &= 1;"
	"r1 = 0;"
	"*(u64 *)(r10 - 8) = r1;"
	"*(u64 *)(r10 - 16) = r1;"
	"if r7 == 0 goto 1f;"
	"r1 = %[rb] ll;"
	"r2 = 8;"
	"r3 = 0;"
	"r4 = r10;"
	"r4 += -16;"
	"call %[bpf_ringbuf_reserve_dynptr];"
"1:"
	"r1 = 7;"
	"call %[bpf_throw];"
	"if r7 == 0 goto 2f;"
	"r1 = r10;"
	"r1 += -16;"
	"r2 = 0;"
	"call %[bpf_ringbuf_discard_dynptr];"
"2:"
	"r0 = 0;"
	"exit;"
	:
	: __imm(bpf_get_prandom_u32), __imm_addr(rb), __imm(bpf_ringbuf_reserve_dynptr),
	  __imm(bpf_throw), __imm(bpf_ringbuf_discard_dynptr)
	: __clobber_all);
}

/* throw_dynptr_maybe with 5 in the dynptr's record on the other path,
 * where a discard would read 5 as a record: the reserving call gets a
 * handle, as a task_vma iterator's call does (throw_iter_vma_or_scalar).
 */
SEC("?tc")
__success __retval(7)
__naked int throw_dynptr_or_scalar(void)
{
	asm volatile (
	"call %[bpf_get_prandom_u32];"
	"r7 = r0;"
	"r7 &= 1;"
	"r1 = 5;"
	"*(u64 *)(r10 - 8) = r1;"
	"*(u64 *)(r10 - 16) = r1;"
	"if r7 == 0 goto 1f;"
	"r1 = %[rb] ll;"
	"r2 = 8;"
	"r3 = 0;"
	"r4 = r10;"
	"r4 += -16;"
	"call %[bpf_ringbuf_reserve_dynptr];"
"1:"
	"r1 = 7;"
	"call %[bpf_throw];"
	"if r7 == 0 goto 2f;"
	"r1 = r10;"
	"r1 += -16;"
	"r2 = 0;"
	"call %[bpf_ringbuf_discard_dynptr];"
"2:"
	"r0 = 0;"
	"exit;"
	:
	: __imm(bpf_get_prandom_u32), __imm_addr(rb), __imm(bpf_ringbuf_reserve_dynptr),
	  __imm(bpf_throw), __imm(bpf_ringbuf_discard_dynptr)
	: __clobber_all);
}

/* The dynptr's record submitted and 5 put in its bytes on one path, held
 * on the other: the handle is cleared after the submit.
 */
SEC("?tc")
__success __retval(7)
__naked int throw_dynptr_submitted_then_scalar(void)
{
	asm volatile (
	"call %[bpf_get_prandom_u32];"
	"r7 = r0;"
	"r7 &= 1;"
	"r1 = %[rb] ll;"
	"r2 = 8;"
	"r3 = 0;"
	"r4 = r10;"
	"r4 += -16;"
	"call %[bpf_ringbuf_reserve_dynptr];"
	"if r7 == 0 goto 1f;"
	"r1 = r10;"
	"r1 += -16;"
	"r2 = 0;"
	"call %[bpf_ringbuf_submit_dynptr];"
	"r1 = 5;"
	"*(u64 *)(r10 - 16) = r1;"
"1:"
	"r1 = 7;"
	"call %[bpf_throw];"
	"if r7 != 0 goto 2f;"
	"r1 = r10;"
	"r1 += -16;"
	"r2 = 0;"
	"call %[bpf_ringbuf_discard_dynptr];"
"2:"
	"r0 = 0;"
	"exit;"
	:
	: __imm(bpf_get_prandom_u32), __imm_addr(rb), __imm(bpf_ringbuf_reserve_dynptr),
	  __imm(bpf_throw), __imm(bpf_ringbuf_discard_dynptr),
	  __imm(bpf_ringbuf_submit_dynptr)
	: __clobber_all);
}

/* Three paths to one throw: 5 in fp-32 (the dynptr's record on the
 * others, so its call gets a handle), a dynptr at fp-32 with 5 at fp-16,
 * walked first, and the dynptr at fp-32 with its clone at fp-16. The
 * record is discarded once, through the dynptr that the handle found on
 * the walk before: the clone, at the lower slot, would give another
 * offset from the handle, and the walks would not merge (found by an
 * adversarial review). Walked the other way round, the clone first, the
 * program is still refused.
 */
SEC("?tc")
__success __retval(7)
__naked int throw_dynptr_clone_or_scalar(void)
{
	asm volatile (
	"call %[bpf_get_prandom_u32];"
	"r7 = r0;"
	"r7 &= 3;"
	"r1 = 5;"
	"*(u64 *)(r10 - 8) = r1;"
	"*(u64 *)(r10 - 16) = r1;"
	"*(u64 *)(r10 - 24) = r1;"
	"*(u64 *)(r10 - 32) = r1;"
	"if r7 == 0 goto 1f;"
	"r1 = %[rb] ll;"
	"r2 = 8;"
	"r3 = 0;"
	"r4 = r10;"
	"r4 += -32;"
	"call %[bpf_ringbuf_reserve_dynptr];"
	"if r7 != 1 goto 3f;"
	"goto 1f;"
"3:"
	"r1 = r10;"
	"r1 += -32;"
	"r2 = r10;"
	"r2 += -16;"
	"call %[bpf_dynptr_clone];"
"1:"
	"r1 = 7;"
	"call %[bpf_throw];"
	"if r7 == 0 goto 2f;"
	"r1 = r10;"
	"r1 += -32;"
	"r2 = 0;"
	"call %[bpf_ringbuf_discard_dynptr];"
"2:"
	"r0 = 0;"
	"exit;"
	:
	: __imm(bpf_get_prandom_u32), __imm_addr(rb), __imm(bpf_ringbuf_reserve_dynptr),
	  __imm(bpf_throw), __imm(bpf_ringbuf_discard_dynptr), __imm(bpf_dynptr_clone)
	: __clobber_all);
}

/* Thrown from inside a bpf_for() loop, and from a loop in a subprog. */
SEC("?tc")
__success __retval(7)
int throw_iter_num(struct __sk_buff *skb)
{
	int i, sum = 0;

	bpf_for(i, 0, 16) {
		if (i == 5 && skb->len)
			bpf_throw(COOKIE);
		sum += i;
	}
	return sum;
}

static __noinline int loop_then_throw(struct __sk_buff *skb)
{
	int i, sum = 0;

	bpf_for(i, 0, 8)
		sum += throw_at(skb, 2);
	return sum;
}

SEC("?tc")
__success __retval(7)
int throw_iter_num_nested(struct __sk_buff *skb)
{
	int i, sum = 0;

	bpf_for(i, 0, 4)
		sum += loop_then_throw(skb);
	return sum;
}

/* A task_vma iterator holds the task (usage) and its mm (mm_users):
 * the throw from its loop must give both back.
 */
SEC("?tc")
__success __retval(7)
int throw_iter_task_vma(struct __sk_buff *skb)
{
	struct task_struct *t = bpf_get_current_task_btf();
	struct bpf_iter_task_vma it;
	struct vm_area_struct *vma;

	bpf_iter_task_vma_new(&it, t, 0);
	while ((vma = bpf_iter_task_vma_next(&it)))
		throw_at(skb, 2);
	bpf_iter_task_vma_destroy(&it);
	return 1;
}

/* An iterator and a task of the iterated tasks, under RCU. */
SEC("?tc")
__success __retval(7)
int throw_iter_task(struct __sk_buff *skb)
{
	struct task_struct *pos, *t = NULL;
	struct bpf_iter_task it;
	int r = 1;

	bpf_rcu_read_lock();
	bpf_iter_task_new(&it, NULL, BPF_TASK_ITER_ALL_PROCS);
	while ((pos = bpf_iter_task_next(&it))) {
		t = bpf_task_acquire(pos);
		if (t) {
			r = throw_at(skb, 1);
			bpf_task_release(t);
		}
	}
	bpf_iter_task_destroy(&it);
	bpf_rcu_read_unlock();
	return r;
}

/* A bpf_for() iterator on one path only: bpf_iter_num_destroy() reads
 * nothing (it zeroes the iterator's bytes), so whatever the other path
 * holds there, the throw may destroy it.
 */
SEC("?tc")
__success __retval(7)
__naked int throw_iter_num_or_zero(void)
{
	asm volatile (
	"call %[bpf_get_prandom_u32];"
	"r7 = r0;"
	"r1 = 0;"
	"*(u64 *)(r10 - 8) = r1;"
	"if r7 == 0 goto 1f;"
	"r1 = r10;"
	"r1 += -8;"
	"r2 = 0;"
	"r3 = 4;"
	"call %[bpf_iter_num_new];"
"1:"
	"r1 = 7;"
	"call %[bpf_throw];"
	"if r7 == 0 goto 2f;"
	"r1 = r10;"
	"r1 += -8;"
	"call %[bpf_iter_num_destroy];"
"2:"
	"r0 = 0;"
	"exit;"
	:
	: __imm(bpf_get_prandom_u32), __imm(bpf_iter_num_new), __imm(bpf_throw),
	  __imm(bpf_iter_num_destroy)
	: __clobber_all);
}

/* A task_vma iterator on the path walked first only, its slot zero on the
 * other: bpf_iter_task_vma_destroy() frees nothing where its first eight
 * bytes are zero, so the throw destroys it on both. At run time the
 * iterator is there (but once in 2^32), and its task and mm are given
 * back.
 */
SEC("?tc")
__success __retval(7)
__naked int throw_iter_vma_maybe(void)
{
	asm volatile (
	"r1 = 0;"
	"*(u64 *)(r10 - 8) = r1;"
	"call %[bpf_get_prandom_u32];"
	"r7 = r0;"
	"if r7 == 0 goto 1f;"
	"call %[bpf_get_current_task_btf];"
	"r2 = r0;"
	"r1 = r10;"
	"r1 += -8;"
	"r3 = 0;"
	"call %[bpf_iter_task_vma_new];"
"1:"
	"r1 = 7;"
	"call %[bpf_throw];"
	"if r7 == 0 goto 2f;"
	"r1 = r10;"
	"r1 += -8;"
	"call %[bpf_iter_task_vma_destroy];"
"2:"
	"r0 = 0;"
	"exit;"
	:
	: __imm(bpf_get_prandom_u32), __imm(bpf_get_current_task_btf),
	  __imm(bpf_iter_task_vma_new), __imm(bpf_throw),
	  __imm(bpf_iter_task_vma_destroy)
	: __clobber_all);
}

/* The same without the zero: the slot is never written on the other
 * path. The first pass cannot merge the two; the verifier zeroes the
 * slot on entry (an instruction it inserts), and the next pass loads it.
 */
SEC("?tc")
__success __retval(7)
__naked int throw_iter_vma_or_unwritten(void)
{
	asm volatile (
	"call %[bpf_get_prandom_u32];"
	"r7 = r0;"
	"if r7 == 0 goto 1f;"
	"call %[bpf_get_current_task_btf];"
	"r2 = r0;"
	"r1 = r10;"
	"r1 += -8;"
	"r3 = 0;"
	"call %[bpf_iter_task_vma_new];"
"1:"
	"r1 = 7;"
	"call %[bpf_throw];"
	"if r7 == 0 goto 2f;"
	"r1 = r10;"
	"r1 += -8;"
	"call %[bpf_iter_task_vma_destroy];"
"2:"
	"r0 = 0;"
	"exit;"
	:
	: __imm(bpf_get_prandom_u32), __imm(bpf_get_current_task_btf),
	  __imm(bpf_iter_task_vma_new), __imm(bpf_throw),
	  __imm(bpf_iter_task_vma_destroy)
	: __clobber_all);
}

/* The same with 5 in the slot on the other path: destroying that would
 * free a pointer of the program's choosing, and no zero on entry helps.
 * The iterator gets a handle: a slot of its own, zeroed on entry, where
 * the program stores r10 after bpf_iter_task_vma_new(). A throw destroys
 * the iterator by it where it holds the frame's pointer, and nothing where
 * it holds zero, whatever fp-8 holds.
 */
SEC("?tc")
__success __retval(7)
__naked int throw_iter_vma_or_scalar(void)
{
	asm volatile (
	"r1 = 5;"
	"*(u64 *)(r10 - 8) = r1;"
	"call %[bpf_get_prandom_u32];"
	"r7 = r0;"
	"if r7 == 0 goto 1f;"
	"call %[bpf_get_current_task_btf];"
	"r2 = r0;"
	"r1 = r10;"
	"r1 += -8;"
	"r3 = 0;"
	"call %[bpf_iter_task_vma_new];"
"1:"
	"r1 = 7;"
	"call %[bpf_throw];"
	"if r7 == 0 goto 2f;"
	"r1 = r10;"
	"r1 += -8;"
	"call %[bpf_iter_task_vma_destroy];"
"2:"
	"r0 = 0;"
	"exit;"
	:
	: __imm(bpf_get_prandom_u32), __imm(bpf_get_current_task_btf),
	  __imm(bpf_iter_task_vma_new), __imm(bpf_throw),
	  __imm(bpf_iter_task_vma_destroy)
	: __clobber_all);
}

/* The same in a static subprog, whose frame holds the iterator and its
 * handle, zeroed on each entry to it; the throw unwinds two frames.
 */
static __naked __noinline __used int iter_vma_or_scalar(void)
{
	asm volatile (
	"r1 = 5;"
	"*(u64 *)(r10 - 16) = r1;"
	"call %[bpf_get_prandom_u32];"
	"r7 = r0;"
	"if r7 == 0 goto 1f;"
	"call %[bpf_get_current_task_btf];"
	"r2 = r0;"
	"r1 = r10;"
	"r1 += -16;"
	"r3 = 0;"
	"call %[bpf_iter_task_vma_new];"
"1:"
	"r1 = 7;"
	"call %[bpf_throw];"
	"if r7 == 0 goto 2f;"
	"r1 = r10;"
	"r1 += -16;"
	"call %[bpf_iter_task_vma_destroy];"
"2:"
	"r0 = 0;"
	"exit;"
	:
	: __imm(bpf_get_prandom_u32), __imm(bpf_get_current_task_btf),
	  __imm(bpf_iter_task_vma_new), __imm(bpf_throw),
	  __imm(bpf_iter_task_vma_destroy)
	: __clobber_all);
}

SEC("?tc")
__success __retval(7)
__naked int throw_iter_vma_or_scalar_in_a_subprog(void)
{
	asm volatile (
	"r6 = 0;"
	"*(u64 *)(r10 - 8) = r6;"
	"call iter_vma_or_scalar;"
	"r0 = 0;"
	"exit;"
	::: __clobber_all);
}

/* The iterator destroyed on one path and its slot reused for a scalar,
 * held on the other: the handle would still hold the frame's pointer
 * after the destroy, but the verifier has the program clear it there.
 * Without the clear, the walks would not merge (the destroyed path's
 * handle is neither zero nor next to an iterator).
 */
SEC("?tc")
__success __retval(7)
__naked int throw_iter_vma_destroyed_then_scalar(void)
{
	asm volatile (
	"call %[bpf_get_prandom_u32];"
	"r7 = r0;"
	"call %[bpf_get_current_task_btf];"
	"r2 = r0;"
	"r1 = r10;"
	"r1 += -8;"
	"r3 = 0;"
	"call %[bpf_iter_task_vma_new];"
	"r7 &= 1;"
	"if r7 == 0 goto 1f;"
	"r1 = r10;"
	"r1 += -8;"
	"call %[bpf_iter_task_vma_destroy];"
	"r1 = 5;"
	"*(u64 *)(r10 - 8) = r1;"
"1:"
	"r1 = 7;"
	"call %[bpf_throw];"
	"if r7 != 0 goto 2f;"
	"r1 = r10;"
	"r1 += -8;"
	"call %[bpf_iter_task_vma_destroy];"
"2:"
	"r0 = 0;"
	"exit;"
	:
	: __imm(bpf_get_prandom_u32), __imm(bpf_get_current_task_btf),
	  __imm(bpf_iter_task_vma_new), __imm(bpf_throw),
	  __imm(bpf_iter_task_vma_destroy)
	: __clobber_all);
}

/* throw_iter_vma_or_scalar at a call of a global function that may throw,
 * which stock loads (and leaks the iterator, its task and its mm on every
 * throw): the record of the call releases by the handle.
 */
SEC("?tc")
__success __retval(7)
__naked int throw_global_iter_vma_or_scalar(void)
{
	asm volatile (
	"r9 = r1;"
	"r1 = 5;"
	"*(u64 *)(r10 - 8) = r1;"
	"call %[bpf_get_prandom_u32];"
	"r7 = r0;"
	"if r7 == 0 goto 1f;"
	"call %[bpf_get_current_task_btf];"
	"r2 = r0;"
	"r1 = r10;"
	"r1 += -8;"
	"r3 = 0;"
	"call %[bpf_iter_task_vma_new];"
"1:"
	"r1 = r9;"
	"call global_throws;"
	"if r7 == 0 goto 2f;"
	"r1 = r10;"
	"r1 += -8;"
	"call %[bpf_iter_task_vma_destroy];"
"2:"
	"r0 = 0;"
	"exit;"
	:
	: __imm(bpf_get_prandom_u32), __imm(bpf_get_current_task_btf),
	  __imm(bpf_iter_task_vma_new), __imm(bpf_iter_task_vma_destroy)
	: __clobber_all);
}

/* Destroys the iterator that R1 points to. */
static __naked __noinline __used int destroy_iter_vma(void)
{
	asm volatile (
	"call %[bpf_iter_task_vma_destroy];"
	"r0 = 0;"
	"exit;"
	:
	: __imm(bpf_iter_task_vma_destroy)
	: __clobber_all);
}

/* throw_iter_vma_destroyed_then_scalar with the destroy in a static
 * subprog: the handle is cleared after the call of the subprog.
 */
SEC("?tc")
__success __retval(7)
__naked int throw_iter_vma_destroyed_in_a_subprog(void)
{
	asm volatile (
	"call %[bpf_get_prandom_u32];"
	"r7 = r0;"
	"call %[bpf_get_current_task_btf];"
	"r2 = r0;"
	"r1 = r10;"
	"r1 += -8;"
	"r3 = 0;"
	"call %[bpf_iter_task_vma_new];"
	"r7 &= 1;"
	"if r7 == 0 goto 1f;"
	"r1 = r10;"
	"r1 += -8;"
	"call destroy_iter_vma;"
	"r1 = 5;"
	"*(u64 *)(r10 - 8) = r1;"
"1:"
	"r1 = 7;"
	"call %[bpf_throw];"
	"if r7 != 0 goto 2f;"
	"r1 = r10;"
	"r1 += -8;"
	"call %[bpf_iter_task_vma_destroy];"
"2:"
	"r0 = 0;"
	"exit;"
	:
	: __imm(bpf_get_prandom_u32), __imm(bpf_get_current_task_btf),
	  __imm(bpf_iter_task_vma_new), __imm(bpf_throw),
	  __imm(bpf_iter_task_vma_destroy)
	: __clobber_all);
}

/* A loop that makes the iterator, destroys it and puts 5 in its bytes, up
 * to three times, then makes it once more or not, and throws: the handle
 * is set by the call in every round and cleared after each destroy.
 */
SEC("?tc")
__success __retval(7)
__naked int throw_iter_vma_made_in_a_loop(void)
{
	asm volatile (
	"r6 = 3;"
"1:"
	"call %[bpf_get_current_task_btf];"
	"r2 = r0;"
	"r1 = r10;"
	"r1 += -8;"
	"r3 = 0;"
	"call %[bpf_iter_task_vma_new];"
	"r1 = r10;"
	"r1 += -8;"
	"call %[bpf_iter_task_vma_destroy];"
	"r1 = 5;"
	"*(u64 *)(r10 - 8) = r1;"
	"r6 += -1;"
	"if r6 != 0 goto 1b;"
	"call %[bpf_get_prandom_u32];"
	"r7 = r0;"
	"r7 &= 1;"
	"if r7 == 0 goto 2f;"
	"call %[bpf_get_current_task_btf];"
	"r2 = r0;"
	"r1 = r10;"
	"r1 += -8;"
	"r3 = 0;"
	"call %[bpf_iter_task_vma_new];"
"2:"
	"r1 = 7;"
	"call %[bpf_throw];"
	"if r7 == 0 goto 3f;"
	"r1 = r10;"
	"r1 += -8;"
	"call %[bpf_iter_task_vma_destroy];"
"3:"
	"r0 = 0;"
	"exit;"
	:
	: __imm(bpf_get_prandom_u32), __imm(bpf_get_current_task_btf),
	  __imm(bpf_iter_task_vma_new), __imm(bpf_throw),
	  __imm(bpf_iter_task_vma_destroy)
	: __clobber_all);
}

/* One call that makes its iterator at fp-8 on one path and at fp-16 on
 * the other, with 5 in the other slot: the handle finds the iterator 8
 * bytes below the frame's pointer on one path, 16 on the other. Refused:
 * one record cannot say where.
 */
SEC("?tc")
__failure __msg("leaves different resources held on different paths")
__naked int reject_iter_vma_one_call_two_slots(void)
{
	asm volatile (
	"r1 = 5;"
	"*(u64 *)(r10 - 8) = r1;"
	"*(u64 *)(r10 - 16) = r1;"
	"call %[bpf_get_prandom_u32];"
	"r7 = r0;"
	"call %[bpf_get_current_task_btf];"
	"r2 = r0;"
	"r1 = r10;"
	"r1 += -8;"
	"if r7 == 0 goto 1f;"
	"r1 += -8;"
"1:"
	"r3 = 0;"
	"call %[bpf_iter_task_vma_new];"
	"r1 = 7;"
	"call %[bpf_throw];"
	"r0 = 0;"
	"exit;"
	:
	: __imm(bpf_get_prandom_u32), __imm(bpf_get_current_task_btf),
	  __imm(bpf_iter_task_vma_new), __imm(bpf_throw)
	: __clobber_all);
}

/* A static subprog makes the iterator in its caller's frame: a handle in
 * the subprog's frame would be gone when it returns, so it gets none, and
 * 5 in the slot on the other path is still refused.
 */
static __naked __noinline __used int make_iter_vma(void)
{
	asm volatile (
	"r6 = r1;"
	"call %[bpf_get_current_task_btf];"
	"r2 = r0;"
	"r1 = r6;"
	"r3 = 0;"
	"call %[bpf_iter_task_vma_new];"
	"r0 = 0;"
	"exit;"
	:
	: __imm(bpf_get_current_task_btf), __imm(bpf_iter_task_vma_new)
	: __clobber_all);
}

SEC("?tc")
__failure __msg("leaves different resources held on different paths")
__naked int reject_iter_vma_from_a_callee_or_scalar(void)
{
	asm volatile (
	"r1 = 5;"
	"*(u64 *)(r10 - 8) = r1;"
	"call %[bpf_get_prandom_u32];"
	"r7 = r0;"
	"if r7 == 0 goto 1f;"
	"r1 = r10;"
	"r1 += -8;"
	"call make_iter_vma;"
"1:"
	"r1 = 7;"
	"call %[bpf_throw];"
	"if r7 == 0 goto 2f;"
	"r1 = r10;"
	"r1 += -8;"
	"call %[bpf_iter_task_vma_destroy];"
"2:"
	"r0 = 0;"
	"exit;"
	:
	: __imm(bpf_get_prandom_u32), __imm(bpf_iter_task_vma_destroy),
	  __imm(bpf_throw)
	: __clobber_all);
}

/* Destroys the number iterator that R1 points to if R2 is not zero. */
static __naked __noinline __used int maybe_destroy_num(void)
{
	asm volatile (
	"if r2 == 0 goto 1f;"
	"call %[bpf_iter_num_destroy];"
"1:"
	"r0 = 0;"
	"exit;"
	:
	: __imm(bpf_iter_num_destroy)
	: __clobber_all);
}

/* Four paths to one throw, each with something at fp-8: a task_vma
 * iterator (r6 == 0), a number iterator held (1), one that a callee keeps
 * (2) and one that the same call destroys (3). The two kinds in one slot
 * give both calls handles; the call that destroys on one path gets a
 * clear of the number iterator's handle after it, so on path 2 the
 * iterator lives with its handle zero and is released in place, while
 * path 1 releases it by its handle. bpf_iter_num_destroy() reads nothing,
 * so each walk on its own merges; the record would destroy path 1's
 * iterator twice, by its handle and in place (and, on path 0, the
 * task_vma iterator's bytes again as a number iterator). Refused. Found
 * by the third adversarial review of handles.
 */
SEC("?tc")
__failure __msg("leaves different resources held on different paths")
__naked int reject_iter_num_by_handle_and_in_place(void)
{
	asm volatile (
	"call %[bpf_get_prandom_u32];"
	"r6 = r0;"
	"r6 &= 3;"
	"if r6 != 0 goto 1f;"
	"call %[bpf_get_current_task_btf];"
	"r2 = r0;"
	"r1 = r10;"
	"r1 += -8;"
	"r3 = 0;"
	"call %[bpf_iter_task_vma_new];"
	"goto 3f;"
"1:"
	"r1 = r10;"
	"r1 += -8;"
	"r2 = 0;"
	"r3 = 10;"
	"call %[bpf_iter_num_new];"
	"if r6 == 1 goto 3f;"
	"r2 = r6;"
	"r2 += -2;"
	"r1 = r10;"
	"r1 += -8;"
	"call maybe_destroy_num;"
"3:"
	"r1 = 7;"
	"call %[bpf_throw];"
	"r0 = 0;"
	"exit;"
	:
	: __imm(bpf_get_prandom_u32), __imm(bpf_get_current_task_btf),
	  __imm(bpf_iter_task_vma_new), __imm(bpf_iter_num_new), __imm(bpf_throw)
	: __clobber_all);
}

extern struct bpf_key *bpf_lookup_system_key(__u64 id) __weak __ksym;
extern void bpf_key_put(struct bpf_key *bkey) __weak __ksym;

/* A key of bpf_lookup_system_key() (1: the builtin and secondary
 * keyrings), which the verifier tracks as an acquired reference (the
 * kfunc allocates a struct bpf_key that bpf_key_put() frees) and for
 * which 6.12 registers no BTF destructor: a throw that holds it cannot
 * release it, and is refused as upstream refuses it. The same shape
 * holding a task loads (fentry_task_held_throws).
 */
SEC("?fentry/bpf_fentry_test1")
__failure __msg("Unreleased reference")
int BPF_PROG(reject_key_held, int a)
{
	struct bpf_key *k = bpf_lookup_system_key(1);

	if (!k)
		return 0;
	if (a)
		bpf_throw(0);
	bpf_key_put(k);
	return 0;
}

/* The same shape holding a task, which has a destructor: it loads. */
SEC("?fentry/bpf_fentry_test1")
__success
int BPF_PROG(fentry_task_held_throws, int a)
{
	struct task_struct *t = bpf_task_acquire(bpf_get_current_task_btf());

	if (!t)
		return 0;
	if (a)
		bpf_throw(0);
	bpf_task_release(t);
	return 0;
}

/* The same key put before the throw: nothing is held there. */
SEC("?fentry/bpf_fentry_test1")
__success
int BPF_PROG(key_put_then_throws, int a)
{
	struct bpf_key *k = bpf_lookup_system_key(1);

	if (!k)
		return 0;
	bpf_key_put(k);
	if (a)
		bpf_throw(0);
	return 0;
}

extern int bpf_iter_bits_new(struct bpf_iter_bits *it, const u64 *unsafe_ptr__ign,
			     u32 nr_words) __weak __ksym;
extern void bpf_iter_bits_destroy(struct bpf_iter_bits *it) __weak __ksym;

/* A bits iterator whose second slot the program overwrites (the verifier
 * lets it, and then counts the iterator leaked): destroying it would
 * free the "bits" pointer at fp-16 once nr_bits is over 64. Found by an
 * adversarial review; refused.
 */
SEC("?tc")
__failure __msg("Unreleased reference")
int reject_iter_overwritten(struct __sk_buff *skb)
{
	struct bpf_iter_bits it;
	u64 bits = 0;

	bpf_iter_bits_new(&it, &bits, 1);
	((volatile u64 *)&it)[1] = 1000;
	if (skb->len)
		bpf_throw(7);
	bpf_iter_bits_destroy(&it);
	return 0;
}

/* A socket held only by its bpf_sk_fullsock() cast, NULL for a request or
 * time-wait socket that the lookup did take a reference of: releasing
 * nothing there would leak it. Found by an adversarial review; refused.
 */
SEC("?tc")
__failure __msg("Unreleased reference")
__naked int reject_sk_cast_only(void)
{
	asm volatile (
	"r6 = r1;"
	"r1 = 0;"
	"*(u64 *)(r10 - 8) = r1;"
	"*(u64 *)(r10 - 16) = r1;"
	"r1 = r6;"
	"r2 = r10;"
	"r2 += -16;"
	"r3 = 12;"
	"r4 = -1;"
	"r5 = 0;"
	"call %[bpf_skc_lookup_tcp];"
	"if r0 == 0 goto 1f;"
	"r1 = r0;"
	"call %[bpf_sk_fullsock];"
	"r7 = r0;"
	"r1 = 7;"
	"call %[bpf_throw];"
"1:"
	"r0 = 0;"
	"exit;"
	:
	: __imm(bpf_skc_lookup_tcp), __imm(bpf_sk_fullsock), __imm(bpf_throw)
	: __clobber_all);
}

/* NULL on the path walked first (the fall-through), a task on the other:
 * the first pass of the verifier, which marked R6 precise only once it
 * released it, cannot merge the second walk. It hints R6 to a second
 * pass, whose first walk marks that zero, and the program loads. At run
 * time the task is held (but once in 2^32) and released.
 */
SEC("?tc")
__success __retval(7)
__naked int throw_null_walked_first(void)
{
	asm volatile (
	"call %[bpf_get_prandom_u32];"
	"r6 = 0;"
	"if r0 != 0 goto 1f;"
	"goto 2f;"
"1:"
	"call %[bpf_get_current_task_btf];"
	"r1 = r0;"
	"call %[bpf_task_acquire];"
	"if r0 == 0 goto 3f;"
	"r6 = r0;"
"2:"
	"r1 = 7;"
	"call %[bpf_throw];"
	"if r6 == 0 goto 3f;"
	"r1 = r6;"
	"call %[bpf_task_release];"
"3:"
	"r0 = 0;"
	"exit;"
	:
	: __imm(bpf_get_prandom_u32), __imm(bpf_get_current_task_btf),
	  __imm(bpf_task_acquire), __imm(bpf_throw), __imm(bpf_task_release)
	: __clobber_all);
}

/* The same through a call of a global function that may throw: stock
 * loads it (and leaks the task on every throw), and so do we now.
 */
SEC("?tc")
__success __retval(7)
__naked int throw_global_null_walked_first(void)
{
	asm volatile (
	"r9 = r1;"
	"call %[bpf_get_prandom_u32];"
	"r6 = 0;"
	"if r0 != 0 goto 1f;"
	"goto 2f;"
"1:"
	"call %[bpf_get_current_task_btf];"
	"r1 = r0;"
	"call %[bpf_task_acquire];"
	"if r0 == 0 goto 3f;"
	"r6 = r0;"
"2:"
	"r1 = r9;"
	"call global_throws;"
	"if r6 == 0 goto 3f;"
	"r1 = r6;"
	"call %[bpf_task_release];"
"3:"
	"r0 = 0;"
	"exit;"
	:
	: __imm(bpf_get_prandom_u32), __imm(bpf_get_current_task_btf),
	  __imm(bpf_task_acquire), __imm(bpf_task_release)
	: __clobber_all);
}

/* One task reference, in R6 on the path walked first and in a stack slot
 * (R6 zero) on the other, with nothing at all in the slot on the first:
 * no hint lets a pass release the slot there (the cpumask shape "m =
 * cond ? acquire() : create()" does this after clang's register
 * allocation). bpf_task_acquire() gets a slot of its own, and the third
 * pass releases the task from there on both paths.
 */
SEC("?tc")
__success __retval(7)
__naked int throw_ref_moved_on_other_path(void)
{
	asm volatile (
	"call %[bpf_get_current_task_btf];"
	"r1 = r0;"
	"call %[bpf_task_acquire];"
	"if r0 == 0 goto 3f;"
	"r7 = r0;"
	"call %[bpf_get_prandom_u32];"
	"if r0 != 0 goto 1f;"
	"r6 = r7;"
	"r7 = 0;"
	"goto 2f;"
"1:"
	"*(u64 *)(r10 - 8) = r7;"
	"r7 = 0;"
	"r6 = 0;"
"2:"
	"r1 = 7;"
	"call %[bpf_throw];"
"3:"
	"r0 = 0;"
	"exit;"
	:
	: __imm(bpf_get_prandom_u32), __imm(bpf_get_current_task_btf),
	  __imm(bpf_task_acquire), __imm(bpf_throw)
	: __clobber_all);
}

/* The same with the slot zeroed first: the first walk releases R6 and
 * the second the slot, where the first holds zero. The second pass marks
 * that zero from the first walk on, and releases each path's task where
 * it is: the slot at run time (but once in 2^32).
 */
SEC("?tc")
__success __retval(7)
__naked int throw_ref_moved_to_zeroed_slot(void)
{
	asm volatile (
	"r1 = 0;"
	"*(u64 *)(r10 - 8) = r1;"
	"call %[bpf_get_current_task_btf];"
	"r1 = r0;"
	"call %[bpf_task_acquire];"
	"if r0 == 0 goto 3f;"
	"r7 = r0;"
	"call %[bpf_get_prandom_u32];"
	"if r0 != 0 goto 1f;"
	"r6 = r7;"
	"r7 = 0;"
	"goto 2f;"
"1:"
	"*(u64 *)(r10 - 8) = r7;"
	"r7 = 0;"
	"r6 = 0;"
"2:"
	"r1 = 7;"
	"call %[bpf_throw];"
"3:"
	"r0 = 0;"
	"exit;"
	:
	: __imm(bpf_get_prandom_u32), __imm(bpf_get_current_task_btf),
	  __imm(bpf_task_acquire), __imm(bpf_throw)
	: __clobber_all);
}

/* The other order: the task only in a stack slot on the path walked
 * first, in R6 and that slot on the other. The second walk releases it
 * where the first did, the slot, and the program loads. R6 is read after
 * the paths join, so that the second walk is not pruned there (whatever
 * the checkpoints) and reaches the throw. At run time the path with R6 is
 * the one taken (but once in 2^32): released once, from the slot.
 */
SEC("?tc")
__success __retval(7)
__naked int throw_ref_in_slot_then_reg(void)
{
	asm volatile (
	"call %[bpf_get_current_task_btf];"
	"r1 = r0;"
	"call %[bpf_task_acquire];"
	"if r0 == 0 goto 3f;"
	"*(u64 *)(r10 - 8) = r0;"
	"r7 = r0;"
	"call %[bpf_get_prandom_u32];"
	"if r0 != 0 goto 1f;"
	"r6 = 0;"
	"goto 2f;"
"1:"
	"r6 = r7;"
"2:"
	"r7 = 0;"
	"if r6 == 0 goto 4f;"
"4:"
	"r1 = 7;"
	"call %[bpf_throw];"
"3:"
	"r0 = 0;"
	"exit;"
	:
	: __imm(bpf_get_prandom_u32), __imm(bpf_get_current_task_btf),
	  __imm(bpf_task_acquire), __imm(bpf_throw)
	: __clobber_all);
}

/* The socket of a lookup, in main, thrown from depth 3. Without the
 * loader's connection the lookup finds nothing: it returns 1.
 */
SEC("?tc")
__success
int throw_sk(struct __sk_buff *skb)
{
	struct bpf_sock *sk = lookup(skb);
	int r;

	if (!sk)
		return 1;
	r = level1(skb);
	bpf_sk_release(sk);
	return r;
}

/* A sock_common of bpf_skc_lookup_tcp() with its bpf_tcp_sock(), which
 * holds the same reference (or NULL): released once.
 */
SEC("?tc")
__success
int throw_skc_cast(struct __sk_buff *skb)
{
	struct bpf_sock_tuple t = {};
	struct bpf_sock *sk;
	struct bpf_tcp_sock *tp;
	int r;

	t.ipv4.saddr = snap.saddr;
	t.ipv4.daddr = snap.daddr;
	t.ipv4.sport = snap.sport;
	t.ipv4.dport = snap.dport;
	sk = bpf_skc_lookup_tcp(skb, &t, sizeof(t.ipv4), BPF_F_CURRENT_NETNS, 0);
	if (!sk)
		return 1;
	tp = bpf_tcp_sock(sk);
	r = throw_at(skb, tp ? 2 : 1);
	bpf_sk_release(sk);
	return r;
}

/* Each kind, held by main, a static or a global subprog, thrown from
 * depth 0 to 3, in a register or a stack slot: generated by
 * tools/selftests/cleanup-matrix.py.
 */
#include "exceptions_cleanup_matrix.h"

/*
 * Attackers of a release, which exc_loader cleanup attaches while
 * throw_task_d0 runs: programs on the destructor that the throw calls
 * for the task it holds, which throw themselves, inside the release. Each
 * unwinds only its own frames; the release then goes on.
 */
SEC("?fentry/bpf_task_release_dtor")
int BPF_PROG(attack_fentry_dtor, void *p)
{
	bpf_throw(0);
	return 0;
}

SEC("?kprobe/put_task_struct_rcu_user")
int attack_kprobe_put(struct pt_regs *ctx)
{
	bpf_throw(0);
	return 0;
}

/*
 * An extension is its own exception boundary: its throw returns the
 * cookie to the caller of the function it replaces. exc_loader cleanup
 * loads ext_holds_then_throws for ext_quiet() of ext_target, sharing rb:
 * it holds the loader's task or a ring buffer record in R6, chosen at
 * random, at a call of global_throws(), so each acquiring call gets a
 * slot of its own in the extension; the throw releases what it holds.
 */
/* 0 under BPF_PROG_TEST_RUN, but not a constant clang could put in its
 * caller.
 */
__noinline int ext_quiet(struct __sk_buff *skb)
{
	return skb->mark;
}

SEC("?tc")
__success __retval(0)
int ext_target(struct __sk_buff *skb)
{
	return ext_quiet(skb);
}

/* Not __naked, which would leave its argument without a name in BTF,
 * and the kernel refuses that for a global function: the asm starts with
 * skb in R1, which nothing before it touches, and ends with the exit.
 */
SEC("?freplace")
int ext_holds_then_throws(struct __sk_buff *skb)
{
	asm volatile (
	"r9 = r1;"
	"call %[bpf_get_prandom_u32];"
	"r0 &= 1;"
	"r8 = r0;"
	"if r0 == 0 goto 1f;"
	"call %[bpf_get_current_task_btf];"
	"r1 = r0;"
	"call %[bpf_task_acquire];"
	"if r0 == 0 goto 3f;"
	"r6 = r0;"
	"goto 2f;"
"1:"
	"r1 = %[rb] ll;"
	"r2 = 8;"
	"r3 = 0;"
	"call %[bpf_ringbuf_reserve];"
	"if r0 == 0 goto 3f;"
	"r6 = r0;"
"2:"
	"r1 = r9;"
	"call global_throws;"
	"if r8 == 0 goto 4f;"
	"r1 = r6;"
	"call %[bpf_task_release];"
	"goto 3f;"
"4:"
	"r1 = r6;"
	"r2 = 0;"
	"call %[bpf_ringbuf_discard];"
"3:"
	"r0 = 0;"
	"exit;"
	:
	: __imm(bpf_get_prandom_u32), __imm(bpf_get_current_task_btf),
	  __imm(bpf_task_acquire), __imm_addr(rb), __imm(bpf_ringbuf_reserve),
	  __imm(bpf_task_release), __imm(bpf_ringbuf_discard)
	: __clobber_all);
	__builtin_unreachable();
}

char _license[] SEC("license") = "GPL";
