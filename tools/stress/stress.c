// SPDX-License-Identifier: GPL-2.0
/*
 * The stress run, in the SMP guest: throws from process context on every
 * CPU at once, from softirq, and from a tracing program nested in the
 * throwing programs, while programs are loaded and freed.
 *
 *   stress OBJ THROWS
 *
 * Loads stress.bpf.o, attaches stress_fentry (fentry on
 * bpf_ktime_get_ns(), which every program calls), stress_xdp (generic XDP
 * on lo) and stress_tc_ingress (tcx ingress on lo); then at once:
 * - one thread per CPU runs stress_test_run with BPF_PROG_TEST_RUN, THROWS
 *   runs in all, each throwing from three calls deep, and checks every
 *   return value;
 * - one thread sends UDP packets over lo, each run by the XDP and TC
 *   programs in softirq;
 * - one thread loads and frees copies of the object.
 * On x86-64 and arm64 it also attaches held_tc_ingress (a second tcx ingress
 * program), held_dtor and held_kprobe, and each thread also runs
 * held_test_run, one run in ten; a thread consumes the ring buffer. These
 * throw while they hold a task or a ring buffer record in a slot of their
 * own (stress.bpf.c), in softirq and in process context, and throw again
 * inside the releases. Afterwards every task they acquired must have been
 * released exactly once (by the program, or by a throw through the task
 * destructor), and no ring buffer record may be left reserved.
 * The handle_* programs join them (handle_test_run, one run in ten as
 * well, handle_tc_ingress after held_tc_ingress, handle_dtor,
 * handle_dtor_exit, handle_kretprobe and handle_kprobe): they throw
 * holding task_vma iterators, ring buffer dynptrs and bits iterators that
 * a throw releases by a handle; every task_vma iterator made must have
 * been destroyed exactly once, by a throw, and each destroy must have
 * returned once through the fexit trampoline and the kretprobe.
 * In hardirq: irq_perf runs on a cpu-clock perf event of every CPU (from
 * the hrtimer interrupt, every IRQ_PERIOD_NS or tick) and throws
 * holding a task, a ring buffer record, an RCU read section, disabled
 * preemption and an iterator, whatever it interrupts; each thread also
 * runs irq_victim, one run in ten, which throws holding the same and whose
 * exception callback checks the task's RCU read nesting. Every run of
 * irq_perf must have thrown; some of its interrupts must have landed in
 * the throw path's own code (the entry, the unwinder, the release: their
 * addresses from /proc/kallsyms), whichever program threw, and some in
 * irq_victim; the nesting must never have changed, and the tasks and
 * records they took count in the checks above.
 * Then it detaches and frees everything and checks that the kernel's
 * program and map counts are back to where they were. Prints
 * "BPFEXC-RESULT stress CHECK ok|FAIL: why" lines.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/if_link.h>
#include <linux/perf_event.h>
#include <sys/syscall.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#define PER_RUN 1000
/* The cpu-clock period of irq_perf's perf events, in ns of each CPU's
 * time. Without high-resolution timers (our configs) the hrtimer fires at
 * the next tick, so irq_perf runs at most HZ times a second on each CPU.
 */
#define IRQ_PERIOD_NS 100000

/* A throw releases what the program holds on x86-64 and arm64. */
#if defined(__x86_64__) || defined(__aarch64__)
#define HELD 1
#else
#define HELD 0
#endif

static const char *obj_path;
static long throws_per_thread;
static volatile bool done;
static long bad_retval, failed_runs, sent, loads, failed_loads, held_runs, handle_runs;
static long victim_runs;
static int held_fd = -1, handle_fd = -1, victim_fd = -1;
static struct ring_buffer *held_ring;
static char pkt[64];

static void result(const char *name, const char *fail)
{
	if (fail)
		printf("BPFEXC-RESULT stress %s FAIL: %s\n", name, fail);
	else
		printf("BPFEXC-RESULT stress %s ok\n", name);
}

/* libbpf's warnings while the object loads: the verifier's log of a
 * program it refuses.
 */
static int print_warnings(enum libbpf_print_level level, const char *fmt, va_list args)
{
	if (level != LIBBPF_WARN)
		return 0;
	fputs("# ", stdout);
	return vprintf(fmt, args);
}

/* Runs the program at FD REPEAT times under BPF_PROG_TEST_RUN: a failed
 * run or a return value other than 7 is counted, and otherwise REPEAT is
 * added to *RAN if given.
 */
static void run_checked(int fd, int repeat, long *ran)
{
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = pkt, .data_size_in = sizeof(pkt),
		    .repeat = repeat);

	if (bpf_prog_test_run_opts(fd, &o))
		__atomic_add_fetch(&failed_runs, 1, __ATOMIC_RELAXED);
	else if (o.retval != 7)
		__atomic_add_fetch(&bad_retval, 1, __ATOMIC_RELAXED);
	else if (ran)
		__atomic_add_fetch(ran, repeat, __ATOMIC_RELAXED);
}

static void *run_throws(void *arg)
{
	int fd = *(int *)arg;

	for (long n = 0; n < throws_per_thread; n += PER_RUN) {
		run_checked(fd, PER_RUN, NULL);
		if (held_fd < 0)
			continue;
		run_checked(held_fd, PER_RUN / 10, &held_runs);
		run_checked(handle_fd, PER_RUN / 10, &handle_runs);
		run_checked(victim_fd, PER_RUN / 10, &victim_runs);
	}
	return NULL;
}

static int drop_record(void *ctx, void *data, size_t size)
{
	(void)ctx;
	(void)data;
	(void)size;
	return 0;
}

/* Consumes the held programs' ring buffer, which would fill otherwise. */
static void *consume(void *arg)
{
	(void)arg;
	while (!done)
		ring_buffer__consume(held_ring);
	return NULL;
}

static void *send_packets(void *arg)
{
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(9) };
	int s = socket(AF_INET, SOCK_DGRAM, 0);

	(void)arg;
	to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	while (!done && s >= 0)
		if (sendto(s, pkt, sizeof(pkt), 0, (struct sockaddr *)&to, sizeof(to)) > 0)
			sent++;
	if (s >= 0)
		close(s);
	return NULL;
}

static void *load_and_free(void *arg)
{
	(void)arg;
	while (!done) {
		struct bpf_object *obj = bpf_object__open_file(obj_path, NULL);
		struct bpf_program *p;

		if (!obj) {
			failed_loads++;
			continue;
		}
		bpf_object__for_each_program(p, obj)
			bpf_program__set_autoload(p, !strcmp(bpf_program__name(p), "stress_test_run"));
		if (bpf_object__load(obj))
			failed_loads++;
		else
			loads++;
		bpf_object__close(obj);
	}
	return NULL;
}

/* The number of programs, or maps, the kernel has. */
static int count(int (*next)(__u32, __u32 *))
{
	__u32 id = 0;
	int n = 0;

	while (!next(id, &id))
		n++;
	return n;
}

/* Program and map counts, once the deferred frees are done (up to 10 s). */
static bool counts_back(int progs, int maps, char *why, size_t len)
{
	int p = 0, m = 0;

	for (int i = 0; i < 100; i++) {
		p = count(bpf_prog_get_next_id);
		m = count(bpf_map_get_next_id);
		if (p == progs && m == maps)
			return true;
		usleep(100000);
	}
	snprintf(why, len, "programs %d -> %d, maps %d -> %d", progs, p, maps, m);
	return false;
}

static long run_cnt(int fd)
{
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);

	return bpf_prog_get_info_by_fd(fd, &info, &len) ? -1 : (long)info.run_cnt;
}

static long recursion_misses(int fd)
{
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);

	return bpf_prog_get_info_by_fd(fd, &info, &len) ? -1 : (long)info.recursion_misses;
}

/* The misses of a kprobe link's probe (its maxactive instances in use). */
static long kprobe_missed(struct bpf_link *link)
{
	struct bpf_link_info info = {};
	__u32 len = sizeof(info);

	if (!link || bpf_link_get_info_by_fd(bpf_link__fd(link), &info, &len))
		return -1;
	return (long)info.perf_event.kprobe.missed;
}

static int prog_fd(struct bpf_object *obj, const char *name)
{
	return bpf_program__fd(bpf_object__find_program_by_name(obj, name));
}

/* The held_*, handle_* and irq_* programs' counters, from the object's
 * .bss.
 */
struct held_counts {
	__u64 tasks_acquired, tasks_released, dtor_calls, records_reserved;
	__u64 iters_made, iter_destroys, iter_destroy_exits, iter_destroy_rets, dynptrs_reserved;
	__u64 irq_runs, irq_throws, irq_in_throw_path, irq_in_victim, irq_in_victim_throw;
	__u64 irq_victim_throws, irq_nesting_wrong;
};

static bool read_counts(struct bpf_object *obj, struct held_counts *c)
{
	struct bpf_map *bss = bpf_object__find_map_by_name(obj, ".bss");
	const struct btf *btf = bpf_object__btf(obj);
	const char *names[] = { "tasks_acquired", "tasks_released", "dtor_calls",
				"records_reserved", "iters_made", "iter_destroys",
				"iter_destroy_exits", "iter_destroy_rets", "dynptrs_reserved",
				"irq_runs", "irq_throws", "irq_in_throw_path", "irq_in_victim",
				"irq_in_victim_throw", "irq_victim_throws", "irq_nesting_wrong" };
	__u64 *out[] = { &c->tasks_acquired, &c->tasks_released, &c->dtor_calls,
			 &c->records_reserved, &c->iters_made, &c->iter_destroys,
			 &c->iter_destroy_exits, &c->iter_destroy_rets, &c->dynptrs_reserved,
			 &c->irq_runs, &c->irq_throws, &c->irq_in_throw_path, &c->irq_in_victim,
			 &c->irq_in_victim_throw, &c->irq_victim_throws, &c->irq_nesting_wrong };
	char buf[4096];
	__u32 zero = 0;
	const struct btf_type *sec;
	const struct btf_var_secinfo *vs;
	int id;

	if (!bss || !btf || bpf_map__value_size(bss) > sizeof(buf) ||
	    bpf_map_lookup_elem(bpf_map__fd(bss), &zero, buf))
		return false;
	id = btf__find_by_name_kind(btf, ".bss", BTF_KIND_DATASEC);
	if (id < 0)
		return false;
	sec = btf__type_by_id(btf, id);
	for (int n = 0; n < (int)(sizeof(names) / sizeof(names[0])); n++) {
		bool found = false;

		vs = btf_var_secinfos(sec);
		for (int i = 0; i < btf_vlen(sec); i++, vs++) {
			const struct btf_type *v = btf__type_by_id(btf, vs->type);

			if (!strcmp(btf__name_by_offset(btf, v->name_off), names[n])) {
				memcpy(out[n], buf + vs->offset, sizeof(__u64));
				found = true;
			}
		}
		if (!found)
			return false;
	}
	return true;
}

/* The functions a throw runs through, by the end of their names in
 * /proc/kallsyms (the Rust ones mangled): the entry, the unwinder, its
 * lookups and the release.
 */
static const char *const throw_path_syms[] = {
	"bpf_exceptions_throw", "21bpf_exceptions_unwind", "5throw7release",
	"6unwind7site_of", "10ChainIndex4find", "3Map4find",
};
#define THROW_PATH_SYMS ((int)(sizeof(throw_path_syms) / sizeof(throw_path_syms[0])))

static int cmp_addr(const void *a, const void *b)
{
	unsigned long long x = *(const unsigned long long *)a, y = *(const unsigned long long *)b;

	return x < y ? -1 : x > y;
}

static bool ends_with(const char *s, const char *end)
{
	size_t n = strlen(s), m = strlen(end);

	return n >= m && !strcmp(s + n - m, end);
}

/* Fills the map at FD with the code of throw_path_syms, each from its
 * address to the next text symbol's; returns how many it found.
 */
static int fill_throw_path(int fd)
{
	unsigned long long *addrs = NULL, found[8], addr;
	size_t n = 0, cap = 0;
	char line[512], name[400], type;
	int nfound = 0;
	FILE *f = fopen("/proc/kallsyms", "r");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%llx %c %399s", &addr, &type, name) != 3 || !addr ||
		    (type != 't' && type != 'T'))
			continue;
		if (n == cap) {
			unsigned long long *p = realloc(addrs, (cap = cap ? 2 * cap : 65536) * sizeof(*p));

			if (!p)
				break;
			addrs = p;
		}
		addrs[n++] = addr;
		for (int k = 0; k < THROW_PATH_SYMS; k++)
			if (nfound < 8 && (!strcmp(name, throw_path_syms[k]) ||
					   (k && ends_with(name, throw_path_syms[k]))))
				found[nfound++] = addr;
	}
	fclose(f);
	qsort(addrs, n, sizeof(*addrs), cmp_addr);
	for (int k = 0; k < nfound; k++) {
		struct { __u64 lo, hi; } r = { found[k], 0 };
		__u32 key = k;

		for (size_t i = 0; i < n && !r.hi; i++)
			if (addrs[i] > r.lo)
				r.hi = addrs[i];
		if (!r.hi || bpf_map_update_elem(fd, &key, &r, BPF_ANY)) {
			nfound = 0;
			break;
		}
	}
	free(addrs);
	return nfound;
}

/* Attaches PROG to a cpu-clock perf event on each of NCPU CPUs, one
 * link each in LINKS; false if one fails.
 */
static bool attach_perf(struct bpf_program *prog, int ncpu, struct bpf_link **links)
{
	struct perf_event_attr a = {
		.type = PERF_TYPE_SOFTWARE,
		.size = sizeof(a),
		.config = PERF_COUNT_SW_CPU_CLOCK,
		.sample_period = IRQ_PERIOD_NS,
	};
	bool ok = true;

	for (int i = 0; i < ncpu; i++) {
		int pfd = syscall(__NR_perf_event_open, &a, -1, i, -1, PERF_FLAG_FD_CLOEXEC);

		links[i] = pfd < 0 ? NULL : bpf_program__attach_perf_event(prog, pfd);
		if (!links[i]) {
			if (pfd >= 0)
				close(pfd);
			ok = false;
		}
	}
	return ok;
}

int main(int argc, char **argv)
{
	int ncpu = sysconf(_SC_NPROCESSORS_ONLN), progs0, maps0, ifindex, tr_fd, xdp_fd, tc_fd, fe_fd;
	struct bpf_link *fentry, *tcx, *held_tcx = NULL, *held_dtor = NULL, *held_kprobe = NULL;
	struct bpf_link *handle_tcx = NULL, *handle_dtor = NULL, *handle_kprobe = NULL;
	struct bpf_link *handle_dtor_exit = NULL, *handle_kretprobe = NULL, *irq[64] = {};
	pthread_t consumer;
	struct bpf_object *obj;
	pthread_t t[64], sender, loader;
	char why[200];
	int throw_path_n = 0;
	long total;

	if (argc != 3) {
		fprintf(stderr, "usage: %s OBJ THROWS\n", argv[0]);
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	libbpf_set_print(NULL);
	obj_path = argv[1];
	total = atol(argv[2]);
	if (ncpu > 64)
		ncpu = 64;
	throws_per_thread = (total / ncpu + PER_RUN - 1) / PER_RUN * PER_RUN;
	progs0 = count(bpf_prog_get_next_id);
	maps0 = count(bpf_map_get_next_id);

	libbpf_set_print(print_warnings);
	obj = bpf_object__open_file(obj_path, NULL);
	if (obj && HELD) {
		struct bpf_program *p;

		bpf_object__for_each_program(p, obj)
			if (!strncmp(bpf_program__name(p), "held_", 5) ||
			    !strncmp(bpf_program__name(p), "handle_", 7) ||
			    !strncmp(bpf_program__name(p), "irq_", 4))
				bpf_program__set_autoload(p, true);
	}
	if (!obj || bpf_object__load(obj)) {
		result("load", "cannot load the object");
		return 1;
	}
	libbpf_set_print(NULL);
	tr_fd = bpf_program__fd(bpf_object__find_program_by_name(obj, "stress_test_run"));
	xdp_fd = bpf_program__fd(bpf_object__find_program_by_name(obj, "stress_xdp"));
	tc_fd = bpf_program__fd(bpf_object__find_program_by_name(obj, "stress_tc_ingress"));
	ifindex = if_nametoindex("lo");
	if (ifindex <= 0 || system("ifconfig lo 127.0.0.1 up"))
		result("lo_up", "cannot bring lo up");
	/* First in the chain: it passes every packet on to stress_tc_ingress. */
	if (HELD) {
		held_tcx = bpf_program__attach_tcx(bpf_object__find_program_by_name(obj,
						   "held_tc_ingress"), ifindex, NULL);
		handle_tcx = bpf_program__attach_tcx(bpf_object__find_program_by_name(obj,
						     "handle_tc_ingress"), ifindex, NULL);
	}
	fentry = bpf_program__attach(bpf_object__find_program_by_name(obj, "stress_fentry"));
	result("attach_fentry", fentry ? NULL : "cannot attach fentry to bpf_ktime_get_ns");
	result("attach_xdp", bpf_xdp_attach(ifindex, xdp_fd, XDP_FLAGS_SKB_MODE, NULL) ?
	       "cannot attach generic XDP to lo" : NULL);
	tcx = bpf_program__attach_tcx(bpf_object__find_program_by_name(obj, "stress_tc_ingress"),
				      ifindex, NULL);
	snprintf(why, sizeof(why), "cannot attach tcx ingress to lo: %d", -errno);
	result("attach_tcx", tcx ? NULL : why);

	if (HELD) {
		held_fd = prog_fd(obj, "held_test_run");
		handle_fd = prog_fd(obj, "handle_test_run");
		handle_dtor = bpf_program__attach(bpf_object__find_program_by_name(obj,
						  "handle_dtor"));
		handle_kprobe = bpf_program__attach(bpf_object__find_program_by_name(obj,
						    "handle_kprobe"));
		handle_dtor_exit = bpf_program__attach(bpf_object__find_program_by_name(obj,
						       "handle_dtor_exit"));
		handle_kretprobe = bpf_program__attach(bpf_object__find_program_by_name(obj,
						       "handle_kretprobe"));
		result("attach_handle", handle_tcx && handle_dtor && handle_kprobe &&
		       handle_dtor_exit && handle_kretprobe ? NULL :
		       "cannot attach the handle_* programs");
		held_dtor = bpf_program__attach(bpf_object__find_program_by_name(obj, "held_dtor"));
		held_kprobe = bpf_program__attach(bpf_object__find_program_by_name(obj,
						  "held_kprobe"));
		held_ring = ring_buffer__new(bpf_map__fd(bpf_object__find_map_by_name(obj,
					     "held_rb")), drop_record, NULL, NULL);
		result("attach_held", held_tcx && held_dtor && held_kprobe && held_ring ? NULL :
		       "cannot attach the held_* programs or open their ring buffer");
		victim_fd = prog_fd(obj, "irq_victim");
		throw_path_n = fill_throw_path(bpf_map__fd(bpf_object__find_map_by_name(obj,
								"throw_path")));
		snprintf(why, sizeof(why), "found %d of the %d throw path functions in"
			 " /proc/kallsyms", throw_path_n, THROW_PATH_SYMS);
		result("throw_path_found", throw_path_n == THROW_PATH_SYMS ? NULL : why);
		result("attach_irq", attach_perf(bpf_object__find_program_by_name(obj, "irq_perf"),
						 ncpu, irq) ? NULL :
		       "cannot attach irq_perf to a cpu-clock perf event");
		pthread_create(&consumer, NULL, consume, NULL);
	}
	pthread_create(&sender, NULL, send_packets, NULL);
	pthread_create(&loader, NULL, load_and_free, NULL);
	for (int i = 0; i < ncpu; i++)
		pthread_create(&t[i], NULL, run_throws, &tr_fd);
	for (int i = 0; i < ncpu; i++)
		pthread_join(t[i], NULL);
	done = true;
	pthread_join(sender, NULL);
	pthread_join(loader, NULL);
	if (HELD)
		pthread_join(consumer, NULL);

	snprintf(why, sizeof(why), "%ld test runs failed, %ld returned other than 7",
		 failed_runs, bad_retval);
	result("throws_on_every_cpu", failed_runs || bad_retval ? why : NULL);
	printf("# %ld throws from %d CPUs, %ld packets through XDP and tc ingress in softirq,"
	       " %ld loads and frees meanwhile\n", throws_per_thread * ncpu, ncpu, sent, loads);
	snprintf(why, sizeof(why), "run_cnt %ld, want at least %ld", run_cnt(tr_fd),
		 throws_per_thread * ncpu);
	result("test_run_count", run_cnt(tr_fd) >= throws_per_thread * ncpu ? NULL : why);
	snprintf(why, sizeof(why), "xdp ran %ld, tc %ld times for %ld packets", run_cnt(xdp_fd),
		 run_cnt(tc_fd), sent);
	result("softirq_programs_ran", sent >= 100 && run_cnt(xdp_fd) >= sent &&
	       run_cnt(tc_fd) >= sent ? NULL : why);
	fe_fd = bpf_program__fd(bpf_object__find_program_by_name(obj, "stress_fentry"));
	snprintf(why, sizeof(why), "the fentry program ran %ld times", run_cnt(fe_fd));
	result("tracing_program_throws_nested", run_cnt(fe_fd) >= throws_per_thread * ncpu ?
	       NULL : why);
	snprintf(why, sizeof(why), "%ld of %ld loads failed", failed_loads, loads + failed_loads);
	result("loads_meanwhile", loads > 0 && !failed_loads ? NULL : why);

	if (HELD) {
		struct held_counts c = {};
		long misses, left, kret_missed;

		/* The kretprobe's own misses are the link's: read them before
		 * the link goes.
		 */
		kret_missed = kprobe_missed(handle_kretprobe);

		/* Detached, nothing runs them any more: irq_perf first, which
		 * takes tasks that held_dtor counts as they are released.
		 */
		for (int i = 0; i < ncpu; i++)
			bpf_link__destroy(irq[i]);
		bpf_link__destroy(held_tcx);
		bpf_link__destroy(held_dtor);
		bpf_link__destroy(held_kprobe);
		bpf_link__destroy(handle_tcx);
		bpf_link__destroy(handle_dtor);
		bpf_link__destroy(handle_kprobe);
		bpf_link__destroy(handle_dtor_exit);
		bpf_link__destroy(handle_kretprobe);
		misses = recursion_misses(prog_fd(obj, "held_dtor"));
		printf("# held: %ld test runs, tc ran %ld times, dtor %ld (missed %ld), kprobe %ld\n",
		       held_runs, run_cnt(prog_fd(obj, "held_tc_ingress")),
		       run_cnt(prog_fd(obj, "held_dtor")), misses,
		       run_cnt(prog_fd(obj, "held_kprobe")));
		if (!read_counts(obj, &c)) {
			result("held_tasks_released_once", "cannot read the counters");
		} else {
			printf("# held: %llu tasks acquired, %llu released by the programs, %llu by"
			       " throws (destructor calls), %llu records reserved\n",
			       c.tasks_acquired, c.tasks_released, c.dtor_calls, c.records_reserved);
			/* A release that re-entered held_dtor is a miss, not a call. */
			snprintf(why, sizeof(why), "acquired %llu, released %llu + %llu + %ld",
				 c.tasks_acquired, c.tasks_released, c.dtor_calls, misses);
			result("held_tasks_released_once",
			       c.dtor_calls > 0 && misses >= 0 && c.tasks_acquired ==
			       c.tasks_released + c.dtor_calls + (__u64)misses ? NULL : why);
		}
		if (read_counts(obj, &c)) {
			long hmiss = recursion_misses(prog_fd(obj, "handle_dtor"));
			long xmiss = recursion_misses(prog_fd(obj, "handle_dtor_exit"));
			long rmiss = recursion_misses(prog_fd(obj, "handle_kretprobe"));

			printf("# handle: %ld test runs, tc ran %ld times, dtor %ld (missed %ld),"
			       " kprobe %ld; %llu task_vma iterators made, %llu destroyed by"
			       " throws, %llu dynptrs reserved\n", handle_runs,
			       run_cnt(prog_fd(obj, "handle_tc_ingress")),
			       run_cnt(prog_fd(obj, "handle_dtor")), hmiss,
			       run_cnt(prog_fd(obj, "handle_kprobe")), c.iters_made,
			       c.iter_destroys, c.dynptrs_reserved);
			snprintf(why, sizeof(why), "made %llu, destroyed %llu + %ld missed",
				 c.iters_made, c.iter_destroys, hmiss);
			result("handle_iterators_destroyed_once",
			       c.iters_made > 0 && hmiss >= 0 &&
			       c.iters_made == c.iter_destroys + (__u64)hmiss ? NULL : why);
			/* Every destroy returned once, through the fexit
			 * trampoline and the kretprobe, whose programs threw.
			 */
			printf("# handle: %llu destroys returned through fexit (missed %ld),"
			       " %llu through the kretprobe (missed %ld + %ld by the probe)\n",
			       c.iter_destroy_exits, xmiss, c.iter_destroy_rets, rmiss,
			       kret_missed);
			snprintf(why, sizeof(why),
				 "made %llu, fexit %llu + %ld, kretprobe %llu + %ld + %ld",
				 c.iters_made, c.iter_destroy_exits, xmiss, c.iter_destroy_rets,
				 rmiss, kret_missed);
			result("handle_destroys_returned_once",
			       xmiss >= 0 && rmiss >= 0 && kret_missed >= 0 &&
			       c.iters_made == c.iter_destroy_exits + (__u64)xmiss &&
			       c.iters_made == c.iter_destroy_rets + (__u64)rmiss +
			       (__u64)kret_missed ? NULL : why);
			snprintf(why, sizeof(why), "%ld test runs, %llu dynptrs", handle_runs,
				 c.dynptrs_reserved);
			result("handle_softirq_and_nested",
			       handle_runs > 0 && c.dynptrs_reserved > 0 &&
			       run_cnt(prog_fd(obj, "handle_tc_ingress")) >= sent &&
			       run_cnt(prog_fd(obj, "handle_kprobe")) > 0 ? NULL : why);
		}
		if (read_counts(obj, &c)) {
			printf("# irq: %llu runs of irq_perf in hardirq, %llu throws; %llu in the throw"
			       " path's code, %llu in irq_victim (%llu in its throw); %ld test runs"
			       " of irq_victim, %llu throws, RCU nesting changed %llu times\n",
			       c.irq_runs, c.irq_throws, c.irq_in_throw_path, c.irq_in_victim,
			       c.irq_in_victim_throw, victim_runs, c.irq_victim_throws,
			       c.irq_nesting_wrong);
			snprintf(why, sizeof(why), "%llu runs, %llu throws", c.irq_runs,
				 c.irq_throws);
			result("hardirq_every_run_throws",
			       c.irq_runs > 0 && c.irq_throws == c.irq_runs ? NULL : why);
			snprintf(why, sizeof(why), "%llu of %llu runs in the throw path's code",
				 c.irq_in_throw_path, c.irq_runs);
			result("hardirq_inside_the_throw_path",
			       c.irq_in_throw_path > 0 ? NULL : why);
			snprintf(why, sizeof(why), "%ld runs, %llu throws, %llu interrupted,"
				 " nesting changed %llu times", victim_runs, c.irq_victim_throws,
				 c.irq_in_victim, c.irq_nesting_wrong);
			result("hardirq_victim_rcu_nesting_back",
			       victim_runs > 0 && c.irq_victim_throws >= (__u64)victim_runs &&
			       c.irq_in_victim > 0 && !c.irq_nesting_wrong ? NULL : why);
		}
		/* A record left reserved stops the consumer before it. */
		ring_buffer__consume(held_ring);
		left = (long)ring__avail_data_size(ring_buffer__ring(held_ring, 0));
		snprintf(why, sizeof(why), "%ld bytes left after consuming, %llu records",
			 left, c.records_reserved);
		result("held_records_discarded", left == 0 && c.records_reserved > 0 ? NULL : why);
		ring_buffer__free(held_ring);
		snprintf(why, sizeof(why), "%ld of the held test runs", held_runs);
		result("held_softirq_and_nested",
		       held_runs > 0 && run_cnt(prog_fd(obj, "held_tc_ingress")) >= sent &&
		       run_cnt(prog_fd(obj, "held_kprobe")) > 0 ? NULL : why);
	}
	bpf_link__destroy(tcx);
	bpf_xdp_detach(ifindex, XDP_FLAGS_SKB_MODE, NULL);
	bpf_link__destroy(fentry);
	bpf_object__close(obj);
	result("no_programs_or_maps_left", counts_back(progs0, maps0, why, sizeof(why)) ? NULL : why);
	return 0;
}
