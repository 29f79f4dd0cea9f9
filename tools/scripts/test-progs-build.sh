#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Build upstream's test_progs (tools/testing/selftests/bpf) from the
# patched tree, for the guest (run inside the build root), with the tests
# that make check runs (the list below), which the guest runs all.
#
# Upstream's Makefile builds every test and every BPF program, and some of
# them need options our config does not have (IPv6, MPTCP, netfilter...):
# the build stops there. So test_progs is built, by upstream's Makefile,
# from a copy of the selftests directory made of symbolic links, whose
# prog_tests/ holds only those tests and whose progs/ only the BPF programs
# they include (their skeletons) and every header. test_progs.c, the test
# loader and the tests themselves are upstream's, unchanged.
#
# The result is kept in CACHEDIR/build/test_progs; make only redoes what
# changed. Prints the directory holding test_progs, and objects.list there
# names the objects it opens at run time.
#
# Usage: test-progs-build.sh CACHEDIR
set -euo pipefail

cache=$1
tree=$cache/src/linux-source-6.12
self=$tree/tools/testing/selftests/bpf
farm=$tree/tools/testing/selftests/bpf-exc
out=$cache/build/test_progs
# exceptions and the verifier_* tests; the tests of what a throw releases
# (objects, lists and rbtrees, acquired kernel objects, dynptrs, iterators,
# RCU and preemption sections, callbacks' references) and of the verifier's
# handling of them, whose programs must get the same verdicts on both
# kernels; and test_lsm, which defines the stack_mprotect() that iters
# calls.
tests="exceptions verifier verifier_kfunc_prog_types verifier_log
	async_stack_depth bpf_loop cb_refs cgrp_kfunc cpumask dynptr iters
	jeq_infer_not_null kfunc_dynptr_param kfunc_param_nullable
	kptr_xchg_inline linked_list local_kptr_stash map_kptr nested_trust
	percpu_alloc preempt_lock rbtree rcu_read_lock refcounted_kptr
	ringbuf_multi spin_lock task_kfunc test_global_funcs timer uninit_stack
	user_ringbuf wq test_lsm"
tests=$(echo $tests)
die() { echo "test-progs-build: error: $*" >&2; exit 1; }

. "$(dirname "$0")/lib.sh"
lock_build "$out"

# The copy sits beside the original, so that the Makefile's relative paths
# (../lib.mk, ../../../../tools/...) lead to the same places.
# Only the links are made again: what the build generates there (tests.h)
# stays, so that an unchanged tree rebuilds nothing.
[ ! -d "$farm" ] || find "$farm" -type l -delete
mkdir -p "$farm/prog_tests" "$farm/progs"
# A changed list of tests needs a new tests.h (its rule only sees the
# sources' dates).
[ "$(cat "$farm/tests.list" 2>/dev/null)" = "$tests" ] || rm -f "$farm/prog_tests/tests.h"
echo "$tests" >"$farm/tests.list"
for f in "$self"/*; do
	case ${f##*/} in prog_tests | progs) ;; *) ln -s "$f" "$farm/" ;; esac
done
for t in $tests; do
	[ -f "$self/prog_tests/$t.c" ] || die "no test $t: there is no prog_tests/$t.c"
	ln -s "$self/prog_tests/$t.c" "$farm/prog_tests/"
done
for h in "$self"/prog_tests/*.h; do
	[ "${h##*/}" = tests.h ] || ln -s "$h" "$farm/prog_tests/"
done
ln -s "$self"/progs/*.h "$farm/progs/"
# The BPF programs whose skeletons the tests include.
for t in $tests; do
	sed -n 's/^#include ["<]\([a-z0-9_]*\)\.skel\.h[">].*/\1/p' "$self/prog_tests/$t.c"
done | sort -u >"$farm/progs.list"
# The objects that test_progs opens by name at run time: the BTF objects
# (progs/btf__*.c) that those name with __btf_path(), and those the tests
# name ("./test_pkt_access.bpf.o"). The guest copies them beside it.
{
	sed 's|.*|'"$self"'/progs/&.c|' "$farm/progs.list" | xargs cat |
		sed -n 's/.*__btf_path("\([a-z0-9_]*\)\.bpf\.o").*/\1/p'
	for t in $tests; do
		sed -n 's|.*"\(\./\)\?\([a-z0-9_]*\)\.bpf\.o".*|\2|p' "$self/prog_tests/$t.c"
	done
} | sort -u >"$farm/objects.list"
cat "$farm/objects.list" >>"$farm/progs.list"
while read -r p; do
	[ -f "$self/progs/$p.c" ] || die "the tests need $p, but there is no progs/$p.c"
	ln -sf "$self/progs/$p.c" "$farm/progs/"
done <"$farm/progs.list"

mkdir -p "$out"
# No linked or light skeletons: none of these tests uses one, and their
# rules name programs that are not in the copy. KDIR and LLVM=1 build
# bpf_testmod.ko and the other modules against our kernel (the guest
# builds bpf_testmod.ko again for the kernel under test).
make -s -C "$farm" -j"$(nproc)" OUTPUT="$out" VMLINUX_BTF="$cache/build/linux-6.12/vmlinux" \
	KDIR="$cache/build/linux-6.12" LLVM=1 LINKED_SKELS= LSKELS= LSKELS_EXTRA= \
	"$out/test_progs" >"$out/build.log" 2>&1 || {
	tail -n 40 "$out/build.log" >&2
	die "cannot build test_progs (log: $out/build.log)"
}
# What the guest copies (objects.list) and the tests that must run
# (tests.list, from the tests.h that the build made), for guest.sh and
# vs-stock.sh, which read them without the lock: replaced whole, and only
# when they change.
publish() {
	if ! cmp -s "$out/$1.new" "$out/$1"; then
		mv -f "$out/$1.new" "$out/$1"
	else
		rm -f "$out/$1.new"
	fi
}
sed 's/$/.bpf.o/' "$farm/objects.list" >"$out/objects.list.new"
publish objects.list
sed -n 's/^DEFINE_TEST(\(.*\))$/\1/p' "$farm/prog_tests/tests.h" >"$out/tests.list.new"
[ -s "$out/tests.list.new" ] || die "no test in $farm/prog_tests/tests.h"
publish tests.list
echo "$out"
