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
 * Then it detaches and frees everything and checks that the kernel's
 * program and map counts are back to where they were. Prints
 * "BPFEXC-RESULT stress CHECK ok|FAIL: why" lines.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/if_link.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#define PER_RUN 1000

static const char *obj_path;
static long throws_per_thread;
static volatile bool done;
static long bad_retval, failed_runs, sent, loads, failed_loads;
static char pkt[64];

static void result(const char *name, const char *fail)
{
	if (fail)
		printf("BPFEXC-RESULT stress %s FAIL: %s\n", name, fail);
	else
		printf("BPFEXC-RESULT stress %s ok\n", name);
}

static void *run_throws(void *arg)
{
	int fd = *(int *)arg;

	for (long n = 0; n < throws_per_thread; n += PER_RUN) {
		LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = pkt, .data_size_in = sizeof(pkt),
			    .repeat = PER_RUN);

		if (bpf_prog_test_run_opts(fd, &o))
			__atomic_add_fetch(&failed_runs, 1, __ATOMIC_RELAXED);
		else if (o.retval != 7)
			__atomic_add_fetch(&bad_retval, 1, __ATOMIC_RELAXED);
	}
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

int main(int argc, char **argv)
{
	int ncpu = sysconf(_SC_NPROCESSORS_ONLN), progs0, maps0, ifindex, tr_fd, xdp_fd, tc_fd, fe_fd;
	struct bpf_link *fentry, *tcx;
	struct bpf_object *obj;
	pthread_t t[64], sender, loader;
	char why[200];
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

	obj = bpf_object__open_file(obj_path, NULL);
	if (!obj || bpf_object__load(obj)) {
		result("load", "cannot load the object");
		return 1;
	}
	tr_fd = bpf_program__fd(bpf_object__find_program_by_name(obj, "stress_test_run"));
	xdp_fd = bpf_program__fd(bpf_object__find_program_by_name(obj, "stress_xdp"));
	tc_fd = bpf_program__fd(bpf_object__find_program_by_name(obj, "stress_tc_ingress"));
	ifindex = if_nametoindex("lo");
	if (ifindex <= 0 || system("ifconfig lo 127.0.0.1 up"))
		result("lo_up", "cannot bring lo up");
	fentry = bpf_program__attach(bpf_object__find_program_by_name(obj, "stress_fentry"));
	result("attach_fentry", fentry ? NULL : "cannot attach fentry to bpf_ktime_get_ns");
	result("attach_xdp", bpf_xdp_attach(ifindex, xdp_fd, XDP_FLAGS_SKB_MODE, NULL) ?
	       "cannot attach generic XDP to lo" : NULL);
	tcx = bpf_program__attach_tcx(bpf_object__find_program_by_name(obj, "stress_tc_ingress"),
				      ifindex, NULL);
	snprintf(why, sizeof(why), "cannot attach tcx ingress to lo: %d", -errno);
	result("attach_tcx", tcx ? NULL : why);

	pthread_create(&sender, NULL, send_packets, NULL);
	pthread_create(&loader, NULL, load_and_free, NULL);
	for (int i = 0; i < ncpu; i++)
		pthread_create(&t[i], NULL, run_throws, &tr_fd);
	for (int i = 0; i < ncpu; i++)
		pthread_join(t[i], NULL);
	done = true;
	pthread_join(sender, NULL);
	pthread_join(loader, NULL);

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

	bpf_link__destroy(tcx);
	bpf_xdp_detach(ifindex, XDP_FLAGS_SKB_MODE, NULL);
	bpf_link__destroy(fentry);
	bpf_object__close(obj);
	result("no_programs_or_maps_left", counts_back(progs0, maps0, why, sizeof(why)) ? NULL : why);
	return 0;
}
