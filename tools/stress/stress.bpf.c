// SPDX-License-Identifier: GPL-2.0
/*
 * Programs of the stress run (tools/scripts/guest.sh stress): a TC program
 * run under BPF_PROG_TEST_RUN on every CPU, and XDP and TC ingress programs
 * run in softirq on every packet sent over lo, all throwing from three
 * calls deep (the first every time, the others as the clock says); and a
 * tracing program that throws, on a helper that they all call.
 *
 * Where a throw releases what the program holds (x86-64, arm64), the
 * held_* programs too: held_test_run (BPF_PROG_TEST_RUN on every CPU) and
 * held_tc_ingress (softirq) hold a task on some runs and a ring buffer
 * record on others, in one register, at a call of a global function that
 * may throw, so each acquiring call gets a stack slot of its own; the
 * throw releases what they hold. held_dtor (fentry on the task destructor
 * the throw calls) and held_kprobe (on the ring buffer discard it calls)
 * throw inside those releases while they hold something of their own.
 * Counters let stress.c check that every task acquired was released once.
 *
 * The handle_* programs do the same with what a throw releases by a
 * handle: a task_vma iterator (handle_test_run) or a ring buffer dynptr
 * (all of them) that another path overwrites with a scalar, so that the
 * making call gets a handle. handle_dtor (fentry on the iterator's destroy)
 * and handle_kprobe (on the dynptr's discard) throw inside those releases
 * holding a dynptr and a bits iterator by a handle of their own;
 * handle_dtor_exit (fexit) and handle_kretprobe (kretprobe) do the same on
 * the destroy's return.
 */
#include <vmlinux.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include "bpf_misc.h"
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

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} held_rb SEC(".maps");

/* Tasks acquired by the held_* programs, tasks they released themselves,
 * the destructor's calls (each a release by a throw), ring buffer records
 * reserved.
 */
u64 tasks_acquired, tasks_released, dtor_calls, records_reserved;

/* Throws the cookie every time if told to, otherwise as
 * the clock says; stress_fentry throws inside it.
 */
__noinline int held_top(struct __sk_buff *ctx, u64 always, u64 cookie)
{
	if ((bpf_ktime_get_ns() & 1) | always)
		bpf_throw(cookie);
	return ctx->len & 0;
}

/* R6 holds the current task or a ring buffer record, chosen at random,
 * at the call of held_top(); R8 says which.
 */
#define HELD_BODY(always, cookie)					\
	"r9 = r1;"							\
	"call %[bpf_get_prandom_u32];"					\
	"r0 &= 1;"							\
	"r8 = r0;"							\
	"if r0 == 0 goto 1f;"						\
	"call %[bpf_get_current_task_btf];"				\
	"r1 = r0;"							\
	"call %[bpf_task_acquire];"					\
	"if r0 == 0 goto 3f;"						\
	"r6 = r0;"							\
	"r1 = %[tasks_acquired] ll;"					\
	"r2 = 1;"							\
	"lock *(u64 *)(r1 + 0) += r2;"					\
	"goto 2f;"							\
"1:"									\
	"r1 = %[held_rb] ll;"						\
	"r2 = 8;"							\
	"r3 = 0;"							\
	"call %[bpf_ringbuf_reserve];"					\
	"if r0 == 0 goto 3f;"						\
	"r6 = r0;"							\
	"r1 = %[records_reserved] ll;"					\
	"r2 = 1;"							\
	"lock *(u64 *)(r1 + 0) += r2;"					\
"2:"									\
	"r1 = r9;"							\
	"r2 = " #always ";"						\
	"r3 = " #cookie ";"						\
	"call held_top;"						\
	"if r8 == 0 goto 4f;"						\
	"r1 = %[tasks_released] ll;"					\
	"r2 = 1;"							\
	"lock *(u64 *)(r1 + 0) += r2;"					\
	"r1 = r6;"							\
	"call %[bpf_task_release];"					\
	"goto 3f;"							\
"4:"									\
	"r1 = r6;"							\
	"r2 = 0;"							\
	"call %[bpf_ringbuf_discard];"					\
"3:"									\
	"r0 = " #cookie ";"						\
	"exit;"

#define HELD_IMMS							\
	__imm(bpf_get_prandom_u32), __imm(bpf_get_current_task_btf),	\
	__imm(bpf_task_acquire), __imm(bpf_task_release),		\
	__imm(bpf_ringbuf_reserve), __imm(bpf_ringbuf_discard),		\
	__imm_addr(held_rb), __imm_addr(tasks_acquired),		\
	__imm_addr(tasks_released), __imm_addr(records_reserved)

/* Throws 7 every time, holding a task or a record. */
SEC("?tc")
__naked int held_test_run(void)
{
	asm volatile (HELD_BODY(1, 7) : : HELD_IMMS : __clobber_all);
}

/* In softirq: throws TCX_NEXT (-1) as the clock says, and returns it
 * otherwise, so that stress_tc_ingress, after it, runs too.
 */
SEC("?tcx/ingress")
__naked int held_tc_ingress(void)
{
	asm volatile (HELD_BODY(0, -1) : : HELD_IMMS : __clobber_all);
}

/* Inside the releases of the throws above (and nowhere else here: the
 * programs release their tasks with bpf_task_release()): holds the
 * current task and throws, so the release of that task enters this
 * program again, which the trampoline counts as a recursion miss.
 */
SEC("?fentry/bpf_task_release_dtor")
int held_dtor(void *ctx)
{
	struct task_struct *t;

	__sync_fetch_and_add(&dtor_calls, 1);
	t = bpf_task_acquire(bpf_get_current_task_btf());
	if (!t)
		return 0;
	__sync_fetch_and_add(&tasks_acquired, 1);
	bpf_throw(0);
	__sync_fetch_and_add(&tasks_released, 1);
	bpf_task_release(t);
	return 0;
}

/* On the discard the throws above call: throws while it holds an RCU read
 * section and an iterator.
 */
SEC("?kprobe/bpf_ringbuf_discard")
int held_kprobe(struct pt_regs *ctx)
{
	int i;

	bpf_rcu_read_lock();
	bpf_for(i, 0, 2)
		bpf_throw(0);
	bpf_rcu_read_unlock();
	return 0;
}

/* Iterators that handle_test_run made (whether or not they found an mm),
 * handle_dtor's calls (each a destroy by a throw), handle_dtor_exit's and
 * handle_kretprobe's (each the return of one), ring buffer dynptrs
 * reserved (with a record).
 */
u64 iters_made, iter_destroys, iter_destroy_exits, iter_destroy_rets, dynptrs_reserved;

/* Holds a ring buffer dynptr at fp-16, or 5 in its bytes, chosen at random,
 * and throws the cookie (R2) every time if R1 says so, otherwise as the
 * clock says; discards the dynptr if it does not throw. The reserving call
 * gets a handle in this frame. Called from assembly only: the BTF of a
 * naked function's arguments has no names, which the kernel refuses.
 */
static __naked __noinline __used int dynptr_or_scalar(void)
{
	asm volatile (
	"r6 = r1;"
	"r9 = r2;"
	"r1 = 5;"
	"*(u64 *)(r10 - 8) = r1;"
	"*(u64 *)(r10 - 16) = r1;"
	"call %[bpf_get_prandom_u32];"
	"r8 = r0;"
	"r8 &= 1;"
	"if r8 == 0 goto 1f;"
	"r1 = %[held_rb] ll;"
	"r2 = 8;"
	"r3 = 0;"
	"r4 = r10;"
	"r4 += -16;"
	"call %[bpf_ringbuf_reserve_dynptr];"
	"if r0 != 0 goto 1f;"
	"r1 = %[dynptrs_reserved] ll;"
	"r2 = 1;"
	"lock *(u64 *)(r1 + 0) += r2;"
"1:"
	"call %[bpf_ktime_get_ns];"
	"r0 &= 1;"
	"r0 |= r6;"
	"if r0 == 0 goto 2f;"
	"r1 = r9;"
	"call %[bpf_throw];"
"2:"
	"if r8 == 0 goto 3f;"
	"r1 = r10;"
	"r1 += -16;"
	"r2 = 0;"
	"call %[bpf_ringbuf_discard_dynptr];"
"3:"
	"r0 = 0;"
	"exit;"
	:
	: __imm(bpf_get_prandom_u32), __imm(bpf_ringbuf_reserve_dynptr),
	  __imm(bpf_ktime_get_ns), __imm(bpf_throw), __imm(bpf_ringbuf_discard_dynptr),
	  __imm_addr(held_rb), __imm_addr(dynptrs_reserved)
	: __clobber_all);
}

extern int bpf_iter_bits_new(struct bpf_iter_bits *it, const u64 *unsafe_ptr__ign,
			     u32 nr_words) __weak __ksym;
extern void bpf_iter_bits_destroy(struct bpf_iter_bits *it) __weak __ksym;

/* Holds a bits iterator over two words at fp-16 (its words allocated, as
 * over 64 bits), or 5 in its bytes, and throws 0. The destroy reads
 * nr_bits, at fp-8, to decide whether it frees: the making call gets a
 * handle.
 */
static __naked __noinline __used int bits_or_scalar_throws(void)
{
	asm volatile (
	"r1 = 5;"
	"*(u64 *)(r10 - 8) = r1;"
	"*(u64 *)(r10 - 16) = r1;"
	"r1 = -1;"
	"*(u64 *)(r10 - 24) = r1;"
	"*(u64 *)(r10 - 32) = r1;"
	"call %[bpf_get_prandom_u32];"
	"r7 = r0;"
	"r7 &= 1;"
	"if r7 == 0 goto 1f;"
	"r1 = r10;"
	"r1 += -16;"
	"r2 = r10;"
	"r2 += -32;"
	"r3 = 2;"
	"call %[bpf_iter_bits_new];"
"1:"
	"r1 = 0;"
	"call %[bpf_throw];"
	"if r7 == 0 goto 2f;"
	"r1 = r10;"
	"r1 += -16;"
	"call %[bpf_iter_bits_destroy];"
"2:"
	"r0 = 0;"
	"exit;"
	:
	: __imm(bpf_get_prandom_u32), __imm(bpf_iter_bits_new), __imm(bpf_throw),
	  __imm(bpf_iter_bits_destroy)
	: __clobber_all);
}

/* Holds a task_vma iterator of the current task at fp-8, or 5 in its
 * bytes, at the call of dynptr_or_scalar(), which throws 7 every time: the
 * throw releases a dynptr by a handle in the callee's frame and an iterator
 * by one in this frame.
 */
SEC("?tc")
__naked int handle_test_run(void)
{
	asm volatile (
	"r1 = 5;"
	"*(u64 *)(r10 - 8) = r1;"
	"call %[bpf_get_prandom_u32];"
	"r7 = r0;"
	"r7 &= 1;"
	"if r7 == 0 goto 1f;"
	"call %[bpf_get_current_task_btf];"
	"r2 = r0;"
	"r1 = r10;"
	"r1 += -8;"
	"r3 = 0;"
	"call %[bpf_iter_task_vma_new];"
	"r1 = %[iters_made] ll;"
	"r2 = 1;"
	"lock *(u64 *)(r1 + 0) += r2;"
"1:"
	"r1 = 1;"
	"r2 = 7;"
	"call dynptr_or_scalar;"
	"if r7 == 0 goto 2f;"
	"r1 = r10;"
	"r1 += -8;"
	"call %[bpf_iter_task_vma_destroy];"
"2:"
	"r0 = 7;"
	"exit;"
	:
	: __imm(bpf_get_prandom_u32), __imm(bpf_get_current_task_btf),
	  __imm(bpf_iter_task_vma_new), __imm(bpf_iter_task_vma_destroy),
	  __imm_addr(iters_made)
	: __clobber_all);
}

/* In softirq: a dynptr by a handle, thrown away as the clock says;
 * TCX_NEXT either way.
 */
SEC("?tcx/ingress")
__naked int handle_tc_ingress(void)
{
	asm volatile (
	"r1 = 0;"
	"r2 = -1;"
	"call dynptr_or_scalar;"
	"r0 = -1;"
	"exit;"
	::: __clobber_all);
}

/* The body of handle_dtor and handle_dtor_exit: adds 1 to COUNTER, then
 * calls dynptr_or_scalar() to throw holding a dynptr by a handle.
 */
#define COUNT_AND_THROW_HOLDING_DYNPTR(counter)		\
	asm volatile (					\
	"r1 = %[c] ll;"					\
	"r2 = 1;"					\
	"lock *(u64 *)(r1 + 0) += r2;"			\
	"r1 = 1;"					\
	"r2 = 0;"					\
	"call dynptr_or_scalar;"			\
	"r0 = 0;"					\
	"exit;"						\
	:						\
	: [c] "i"(&counter)				\
	: __clobber_all)

/* Inside the destroys of handle_test_run's throws (only they destroy a
 * task_vma iterator here): throws holding a dynptr by a handle.
 */
SEC("?fentry/bpf_iter_task_vma_destroy")
__naked int handle_dtor(void)
{
	COUNT_AND_THROW_HOLDING_DYNPTR(iter_destroys);
}

/* After the destroys of handle_test_run's throws, with the fexit
 * trampoline on the stack between the unwinder and the destroy: throws
 * holding a dynptr by a handle.
 */
SEC("?fexit/bpf_iter_task_vma_destroy")
__naked int handle_dtor_exit(void)
{
	COUNT_AND_THROW_HOLDING_DYNPTR(iter_destroy_exits);
}

/* On the return of those destroys, whose return address the kretprobe
 * replaced while the unwinder called them: throws holding a bits iterator
 * by a handle.
 */
SEC("?kretprobe/bpf_iter_task_vma_destroy")
int handle_kretprobe(struct pt_regs *ctx)
{
	__sync_fetch_and_add(&iter_destroy_rets, 1);
	bits_or_scalar_throws();
	return 0;
}

/* Inside every dynptr discard, the throws' included: throws holding a
 * bits iterator by a handle.
 */
SEC("?kprobe/bpf_ringbuf_discard_dynptr")
int handle_kprobe(struct pt_regs *ctx)
{
	bits_or_scalar_throws();
	return 0;
}

/* The hardirq attack (the irq_* programs, loaded with the held_* ones):
 * irq_perf runs on a cpu-clock perf event of every CPU, from the hrtimer
 * interrupt, whatever it interrupts (but kprobe and other perf programs:
 * perf skips its programs while one runs on the CPU), and throws from a
 * static subprog inside a bpf_for() loop while it holds a task, a ring
 * buffer record (of held_rb, which the interrupted programs reserve from
 * too), an RCU read section and disabled preemption; its exception
 * callback counts its throws. It counts the interrupts whose PC lies in
 * the throw path's own code (throw_path: the entry, the unwinder, the
 * release; stress.c fills it from /proc/kallsyms), whichever program
 * threw. irq_victim, under BPF_PROG_TEST_RUN, holds the same and throws;
 * it marks its CPU in throwing[] (1 from its start, 2 from just before its
 * throw) until its exception callback runs, after the releases and the
 * unwind, and irq_perf counts the interrupts that land there. The callback
 * also checks that the task's RCU read nesting is what it was when
 * irq_victim started: an RCU section that a throw in the interrupt left
 * held would raise the nesting of the task it interrupted.
 */
u64 irq_runs, irq_throws, irq_in_throw_path, irq_in_victim, irq_in_victim_throw;
u64 irq_victim_throws, irq_nesting_wrong;
u32 throwing[64];
int victim_nesting[64];

struct code_range {
	u64 lo, hi;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 8);
	__type(key, u32);
	__type(value, struct code_range);
} throw_path SEC(".maps");

/* Throws COOKIE, after marking CPU if asked: always, as the verifier
 * knows ((x & 0xff) is never 0x100).
 */
static __noinline int throws_marked(u64 x, u32 cpu, int mark, u64 cookie)
{
	if ((x & 0xff) != 0x100) {
		if (mark)
			throwing[cpu & 63] = 2;
		bpf_throw(cookie);
	}
	return 0;
}

/* The body of irq_perf and irq_victim (whose locals t, rec, i and ret it
 * uses): takes TASK and a record, enters an RCU section and disables
 * preemption, runs THROW (which throws) in a bpf_for() loop, and releases
 * all of it if THROW returns.
 */
#define HOLD_AND_THROW(task, throw)					\
	do {								\
		t = bpf_task_acquire(task);				\
		if (t)							\
			__sync_fetch_and_add(&tasks_acquired, 1);	\
		rec = bpf_ringbuf_reserve(&held_rb, 8, 0);		\
		if (rec)						\
			__sync_fetch_and_add(&records_reserved, 1);	\
		bpf_rcu_read_lock();					\
		bpf_preempt_disable();					\
		bpf_for(i, 0, 2)					\
			ret += throw;					\
		bpf_preempt_enable();					\
		bpf_rcu_read_unlock();					\
		if (rec)						\
			bpf_ringbuf_discard(rec, 0);			\
		if (t) {						\
			__sync_fetch_and_add(&tasks_released, 1);	\
			bpf_task_release(t);				\
		}							\
	} while (0)

/* Whether IP lies in one of the throw_path ranges. */
static bool in_throw_path(u64 ip)
{
	struct code_range *r;
	int k;

	bpf_for(k, 0, 8) {
		r = bpf_map_lookup_elem(&throw_path, &k);
		if (r && ip >= r->lo && ip < r->hi)
			return true;
	}
	return false;
}

__noinline int irq_perf_cb(u64 cookie)
{
	__sync_fetch_and_add(&irq_throws, 1);
	return 0;
}

SEC("?perf_event")
__exception_cb(irq_perf_cb)
int irq_perf(struct bpf_perf_event_data *ctx)
{
	u32 cpu = bpf_get_smp_processor_id() & 63;
	struct task_struct *t;
	int i, ret = 0;
	u64 *rec;

	__sync_fetch_and_add(&irq_runs, 1);
	if (in_throw_path(PT_REGS_IP((struct pt_regs *)&ctx->regs)))
		__sync_fetch_and_add(&irq_in_throw_path, 1);
	if (throwing[cpu])
		__sync_fetch_and_add(&irq_in_victim, 1);
	if (throwing[cpu] == 2)
		__sync_fetch_and_add(&irq_in_victim_throw, 1);
	HOLD_AND_THROW(bpf_get_current_task_btf(),
		       throws_marked(bpf_get_prandom_u32(), cpu, 0, 0));
	return ret;
}

/* irq_victim's exception callback: unmarks the CPU, counts the throw and
 * compares the RCU read nesting with irq_victim's at its start.
 */
__noinline int irq_victim_cb(u64 cookie)
{
	struct task_struct *cur = bpf_get_current_task_btf();
	u32 cpu = bpf_get_smp_processor_id() & 63;

	throwing[cpu] = 0;
	__sync_fetch_and_add(&irq_victim_throws, 1);
	if (cur->rcu_read_lock_nesting != victim_nesting[cpu])
		__sync_fetch_and_add(&irq_nesting_wrong, 1);
	return cookie;
}

/* Throws 7 every time, holding what irq_perf holds. */
SEC("?tc")
__exception_cb(irq_victim_cb)
int irq_victim(struct __sk_buff *ctx)
{
	struct task_struct *cur = bpf_get_current_task_btf(), *t;
	u32 cpu = bpf_get_smp_processor_id() & 63;
	int i, ret = 0;
	u64 *rec;

	victim_nesting[cpu] = cur->rcu_read_lock_nesting;
	throwing[cpu] = 1;
	HOLD_AND_THROW(cur, throws_marked(ctx->len, cpu, 1, 7));
	return 7 + ret;
}

/* Never loaded: its calls give the object the BTF of the iterator kfuncs
 * that the programs above call only from inline assembly.
 */
SEC("?tc")
int iter_kfuncs_btf(struct __sk_buff *ctx)
{
	struct bpf_iter_task_vma it;
	struct bpf_iter_bits bits;
	u64 words[2] = {};

	bpf_iter_task_vma_new(&it, bpf_get_current_task_btf(), 0);
	bpf_iter_task_vma_destroy(&it);
	bpf_iter_bits_new(&bits, words, 2);
	bpf_iter_bits_destroy(&bits);
	return 0;
}

char _license[] SEC("license") = "GPL";
