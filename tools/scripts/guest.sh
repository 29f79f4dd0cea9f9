#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Boot a built kernel in QEMU with a busybox initramfs and run, in the
# guest, one of (run inside the build root):
#
#   sample     samples/bpf_exceptions: the packet parser and its summary
#   selftests  tools/testing/selftests/bpf/progs/exceptions.c, loaded with
#              bpftool prog loadall; every RUN_SUCCESS check of
#              prog_tests/exceptions.c run with bpftool prog run on pkt_v4
#   test_bpf   lib/test_bpf.ko: the JIT test suite; its summaries and
#              failures are written to <work dir>/test_bpf.txt
#   bench      tools/bench: guest instructions per run of each benchmark
#              program, under -icount; written to <work dir>/bench.txt
#
# BUILD is the build directory under CACHEDIR/build: linux-6.12 (ours, the
# default) or stock-6.12.
#
# Usage: guest.sh CACHEDIR sample|selftests|test_bpf|bench [BUILD]
set -euo pipefail

cache=$1 mode=$2 which=${3:-linux-6.12}
repo=$(pwd)
tree=$cache/src/linux-source-6.12
build=$cache/build/$which
self=$tree/tools/testing/selftests/bpf
work=$cache/guest/$mode-$which
bzimage=$build/arch/x86/boot/bzImage

die() { echo "guest: error: $*" >&2; exit 1; }
[ -f "$bzimage" ] || die "no kernel at $bzimage: run 'make kernel' first"

rm -rf "$work"
mkdir -p "$work/obj" "$work/initramfs"
obj=$work/obj

# BPF objects, compiled as the selftests Makefile does, against this
# kernel's BTF.
bpftool btf dump file "$build/vmlinux" format c >"$obj/vmlinux.h"
bpf_cc() {
	clang -g -O2 --target=bpf -mcpu=v3 -mlittle-endian -D__TARGET_ARCH_x86 \
		-Wall -Werror -Wno-compare-distinct-pointer-types \
		-I"$obj" -I"$self" -I"$self/progs" -I"$tree/tools/include/uapi" "$@"
}
if [ "$mode" = bench ]; then
	python3 "$repo/tools/bench/gen.py" >"$obj/bench.bpf.c"
	bpf_cc -c "$obj/bench.bpf.c" -o "$obj/bench.bpf.o"
	clang -O2 -Wall -Werror "$repo/tools/bench/bench.c" -lbpf -o "$obj/bench"
elif [ "$mode" != test_bpf ]; then

# Selftests: the object, the expected return values and the packet.
bpf_cc -c "$self/progs/exceptions.c" -o "$obj/exceptions.bpf.o"
sed -n '/^#define RUN_SUCCESS/,/^#define RUN_EXT/p' "$self/prog_tests/exceptions.c" |
	sed -n 's/^[[:space:]]*RUN_SUCCESS(\([a-z0-9_]*\), *\([0-9]*\));.*/\1 \2/p' >"$obj/exceptions.expect"
[ "$(wc -l <"$obj/exceptions.expect")" -gt 0 ] || die "found no RUN_SUCCESS checks in prog_tests/exceptions.c"
# pkt_v4 of selftests/bpf/network_helpers.c: Ethernet (ETH_P_IP), IPv4
# (ihl 5, TCP, tot_len 123), TCP (doff 5, urg_ptr 123 in host order).
{
	printf '\0\0\0\0\0\0\0\0\0\0\0\0\010\0'
	printf '\005\0\0\173\0\0\0\0\0\006\0\0\0\0\0\0\0\0\0\0'
	printf '\0\0\0\0\0\0\0\0\0\0\0\0\120\0\0\0\0\0\173\0'
} >"$obj/pkt_v4.bin"

# The sample: BPF object, skeleton and the loader.
sample=$repo/samples/bpf_exceptions
bpf_cc -I"$sample" -c "$sample/parser.bpf.c" -o "$obj/parser.bpf.o"
bpftool gen skeleton "$obj/parser.bpf.o" name parser >"$obj/parser.skel.h"
clang -O2 -Wall -Werror -I"$obj" -I"$sample" "$sample/parser.c" -lbpf -o "$obj/parser"
fi

# The initramfs: busybox, bpftool with its libraries, the tests, /init.
ir=$work/initramfs
mkdir -p "$ir"/{bin,sbin,lib64,proc,sys,dev,tmp,tests,sample}
cp /bin/busybox "$ir/bin/busybox"
for app in sh mount mkdir cat echo sed grep reboot sleep wc head tr insmod dmesg; do
	ln -s busybox "$ir/bin/$app"
done
copy_libs() {
	ldd "$@" | grep -v ':$' | grep -o '/[^ ]*' | sort -u | while read -r lib; do
		mkdir -p "$ir$(dirname "$lib")"
		cp -L "$lib" "$ir$lib"
	done
}
case $mode in
test_bpf) cp "$build/lib/test_bpf.ko" "$ir/tests/" ;;
bench)
	cp "$obj/bench" "$obj/bench.bpf.o" "$ir/tests/"
	copy_libs "$obj/bench"
	;;
*)
	cp /usr/sbin/bpftool "$ir/sbin/bpftool"
	copy_libs /usr/sbin/bpftool "$obj/parser"
	cp "$obj/exceptions.bpf.o" "$obj/exceptions.expect" "$obj/pkt_v4.bin" "$ir/tests/"
	cp "$obj/parser" "$ir/sample/"
	;;
esac
cp "$repo/tools/guest/init" "$ir/init"
cp "$repo/tools/guest/run-selftests" "$ir/tests/run-selftests"
chmod +x "$ir/init" "$ir/tests/run-selftests"
(cd "$ir" && find . | cpio -o -H newc --quiet | gzip -1) >"$work/initramfs.cpio.gz"

# Boot. The guest prints its results between markers and reboots, which
# -no-reboot turns into QEMU exiting. loglevel=5 keeps boot chatter out of
# the console but shows warnings (KERN_WARNING is 4), which fail the run.
# For bench, guest time counts guest instructions exactly
# (shared/reference-figures.md describes the method).
log=$work/$mode.log
qemu_extra=() append_extra=
if [ "$mode" = bench ]; then
	qemu_extra=(-icount shift=0,align=off,sleep=off -rtc base=2024-01-01T00:00:00,clock=vm)
	append_extra=" tsc=reliable"
fi
start=$(date +%s)
timeout 1200 qemu-system-x86_64 -nodefaults -machine pc -cpu qemu64 -smp 1 -m 1024 \
	-bios qboot.rom -display none -monitor none -serial stdio -no-reboot "${qemu_extra[@]}" \
	-kernel "$bzimage" -initrd "$work/initramfs.cpio.gz" \
	-append "console=ttyS0 loglevel=5 panic=-1 bpfexc.mode=$mode$append_extra" \
	</dev/null >"$log" 2>&1 || true
secs=$(($(date +%s) - start))
grep -q '^BPFEXC-END' "$log" || {
	tail -n 60 "$log" >&2
	die "the guest did not finish ($secs s); full console log in $log"
}
# A kernel warning or oops anywhere in the run fails it.
if grep -qE 'WARNING:|BUG:|Oops|Call Trace:|bpf_throw: ' "$log"; then
	grep -nE -A20 'WARNING:|BUG:|Oops|bpf_throw: ' "$log" | head -n 60 >&2
	oops=1
else
	oops=0
fi

case $mode in
sample)
	sed -n '/^BPFEXC-BEGIN/,/^BPFEXC-END/p' "$log" | sed '1d;$d' | tr -d '\r'
	grep -q '^BPFEXC-END rc=0' "$log" && [ $oops = 0 ] || die "the sample failed (console log: $log)"
	echo "(guest booted and ran in $secs s of QEMU TCG)"
	;;
selftests)
	passed=0 failed=0
	while read -r name want; do
		got=$(tr -d '\r' <"$log" | sed -n "s/^BPFEXC-RESULT exceptions $name \(.*\)$/\1/p" | head -n 1)
		if [ "$got" = "$want" ]; then
			passed=$((passed + 1))
		else
			failed=$((failed + 1))
			echo "  FAIL exceptions/$name: want $want, got ${got:-no result}"
		fi
	done <"$obj/exceptions.expect"
	if grep -q '^BPFEXC-LOADFAIL' "$log"; then
		tr -d '\r' <"$log" | sed -n '/^BPFEXC-LOADFAIL/,/^BPFEXC-LOADEND/p' | tail -n 40
	fi
	[ $oops = 0 ] || { echo "  FAIL kernel warning or oops during the run"; failed=$((failed + 1)); }
	echo "selftests exceptions: $passed passed, $failed failed"
	[ "$failed" = 0 ]
	;;
test_bpf)
	# The three suites' summaries and every failed test, as the guest
	# printed them, without timings.
	tr -d '\r' <"$log" | sed -n 's/^BPFEXC-TEST_BPF //p' |
		sed -E 's/ [0-9]+ ns//g' >"$work/test_bpf.txt"
	grep -q 'Summary' "$work/test_bpf.txt" || die "test_bpf printed no summary (console log: $log)"
	[ $oops = 0 ] || die "kernel warning or oops during test_bpf (console log: $log)"
	cat "$work/test_bpf.txt"
	echo "(test_bpf ran in $secs s of QEMU TCG)"
	;;
bench)
	tr -d '\r' <"$log" | sed -n 's/^BENCH //p' >"$work/bench.txt"
	grep -q . "$work/bench.txt" || die "no benchmark results (console log: $log)"
	grep -q '^BPFEXC-END rc=0' "$log" && [ $oops = 0 ] || die "the benchmark failed (console log: $log)"
	echo "$(wc -l <"$work/bench.txt") programs measured in $secs s"
	;;
*) die "unknown mode $mode" ;;
esac
