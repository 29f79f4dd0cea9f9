// SPDX-License-Identifier: GPL-2.0
/*
 * The guest side of `make bench`: load bench.bpf.o, run every program with
 * BPF_PROG_TEST_RUN on a 64-byte IPv4 frame, and print one line per program:
 *
 *   BENCH <program> <guest instructions per run> <main image bytes>
 *         <all images bytes> <return value> <ok|WRONG>
 *
 * Under QEMU with -icount shift=0, the run duration the kernel reports (ns,
 * averaged over the repeats) is the number of guest instructions per run.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#define REPEAT	10000
#define COOKIE	7
#define PKT_LEN	64

static unsigned int expected(const char *name)
{
	if (!strcmp(name, "throw_cb_2"))
		return COOKIE + 1;
	if (!strncmp(name, "throw_", 6) || !strcmp(name, "tailcall_0") ||
	    !strncmp(name, "hthrow_", 7))
		return COOKIE;
	return PKT_LEN;
}

/* Bytes of the main function's image, and of all of the program's. */
static int image_sizes(int fd, unsigned int *main_len, unsigned int *total)
{
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info), lens[16] = {}, n;

	if (bpf_prog_get_info_by_fd(fd, &info, &len))
		return -errno;
	n = info.nr_jited_func_lens;
	*total = info.jited_prog_len;
	if (!n || n > 16) {
		*main_len = info.jited_prog_len;
		return 0;
	}
	memset(&info, 0, sizeof(info));
	info.nr_jited_func_lens = n;
	info.jited_func_lens = (__u64)(unsigned long)lens;
	len = sizeof(info);
	if (bpf_prog_get_info_by_fd(fd, &info, &len))
		return -errno;
	*main_len = lens[0];
	return 0;
}

static struct bpf_object *load(const char *path, bool optional);
static int bench(struct bpf_object *obj);

/* Says which programs of PATH do not load, with the verifier's last line. */
static void why_not(const char *path)
{
	static char log[1 << 20];
	struct bpf_object *obj = bpf_object__open_file(path, NULL);
	struct bpf_program *p, *q;
	int n = 0;

	bpf_object__for_each_program(p, obj)
		n++;
	bpf_object__close(obj);
	for (int i = 0; i < n; i++) {
		struct bpf_object *o = bpf_object__open_file(path, NULL);
		int j = 0;
		char *last;

		p = NULL;
		bpf_object__for_each_program(q, o) {
			bpf_program__set_autoload(q, j == i);
			if (j++ == i)
				p = q;
		}
		log[0] = 0;
		bpf_program__set_log_buf(p, log, sizeof(log));
		if (bpf_object__load(o)) {
			log[strcspn(log, "\0")] = 0;
			while (*log && log[strlen(log) - 1] == '\n')
				log[strlen(log) - 1] = 0;
			last = strrchr(log, '\n');
			printf("BENCH-SKIP %s: %s\n", bpf_program__name(p), last ? last + 1 : log);
		}
		bpf_object__close(o);
	}
}

/*
 * bench [OBJ [OPTIONAL_OBJ...]]: OBJ (bench.bpf.o) must load; an optional
 * object (cleanup.bpf.o, whose programs throw holding resources) loads
 * only on kernels that release them, and is skipped elsewhere.
 */
/*
 * Every object is loaded before any runs, and stays loaded: the JIT's
 * allocator then places each program's functions side by side, as on a
 * fresh system, rather than in the holes an unloaded object leaves (the
 * unwinder's table gets coarser, and its lookups slower, the wider a
 * program's functions spread).
 */
int main(int argc, char **argv)
{
	struct bpf_object *objs[8] = {};
	int bad = 0, n = argc > 1 ? argc - 1 : 1;

	if (n > 8)
		n = 8;
	for (int i = 0; i < n; i++) {
		objs[i] = load(argc > 1 ? argv[i + 1] : "bench.bpf.o", i > 0);
		if (!objs[i] && !i)
			return 1;
	}
	for (int i = 0; i < n; i++)
		if (objs[i])
			bad |= bench(objs[i]);
	for (int i = 0; i < n; i++)
		bpf_object__close(objs[i]);
	return bad;
}

static struct bpf_object *load(const char *path, bool optional)
{
	struct bpf_object *obj;
	int key = 0, target;

	if (optional)
		libbpf_set_print(NULL);
	obj = bpf_object__open_file(path, NULL);
	if (!obj || bpf_object__load(obj)) {
		if (optional) {
			printf("BENCH-SKIP %s does not load on this kernel\n", path);
			why_not(path);
			return NULL;
		}
		fprintf(stderr, "bench: cannot load the object: %s\n", strerror(errno));
		return NULL;
	}
	target = bpf_program__fd(bpf_object__find_program_by_name(obj, "throw_static_0"));
	if (!optional && bpf_map_update_elem(bpf_object__find_map_fd_by_name(obj, "jmp_table"),
					     &key, &target, BPF_ANY)) {
		fprintf(stderr, "bench: cannot fill jmp_table: %s\n", strerror(errno));
		return NULL;
	}
	return obj;
}

static int bench(struct bpf_object *obj)
{
	unsigned char pkt[PKT_LEN] = { [12] = 0x08, [14] = 0x45 };
	struct bpf_program *prog;
	int bad = 0;

	bpf_object__for_each_program(prog, obj) {
		LIBBPF_OPTS(bpf_test_run_opts, opts,
			.data_in = pkt,
			.data_size_in = sizeof(pkt),
			.repeat = REPEAT,
		);
		const char *name = bpf_program__name(prog);
		unsigned int main_len = 0, total = 0, best = -1U;
		int fd = bpf_program__fd(prog), ok, i, err = 0;

		/*
		 * The least of three: a timer tick that lands in one of them
		 * adds a fraction of an instruction per run, which the
		 * kernel's integer average can turn into one.
		 */
		for (i = 0; i < 3 && !err; i++) {
			err = bpf_prog_test_run_opts(fd, &opts);
			if (!err && opts.duration < best)
				best = opts.duration;
		}
		if (err || image_sizes(fd, &main_len, &total)) {
			fprintf(stderr, "bench: %s: %s\n", name, strerror(errno));
			bad++;
			continue;
		}
		opts.duration = best;
		ok = opts.retval == expected(name);
		bad += !ok;
		printf("BENCH %s %u %u %u %u %s\n", name, opts.duration, main_len, total,
		       opts.retval, ok ? "ok" : "WRONG");
	}
	return bad ? 1 : 0;
}
