#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Boot a built kernel in QEMU with a busybox initramfs and run, in the
# guest, one of (run inside the build root):
#
#   sample     samples/bpf_exceptions: the packet parser and its summary
#   selftests  tools/testing/selftests/bpf/progs/exceptions.c, loaded with
#              bpftool prog loadall; every RUN_SUCCESS check of
#              prog_tests/exceptions.c run with bpftool prog run on pkt_v4;
#              then, with tools/selftests/exc_loader, each program of
#              progs/exceptions_fail.c, progs/exceptions_assert.c and our
#              tools/selftests/progs/exceptions_hole.c checked against its
#              __success/__failure/__msg/__retval tags, and the RUN_EXT
#              checks of prog_tests/exceptions.c (progs/exceptions_ext.c)
#              and ours (tools/selftests/exceptions_hole_ext.checks);
#              and bpftool prog dump xlated shows the default callback
#   hole       only exceptions_hole and exceptions_hole_ext, to show what a
#              kernel (stock-6.12) accepts: prints each verdict, fails on none
#   faults     the programs of our fault tests (exceptions_faults,
#              exceptions_faults_ext, exceptions_tracing, exceptions_hole_ext):
#              prints where a kernel (stock-6.12) differs from ours and
#              whether it oopsed, fails on none
#   test_bpf   lib/test_bpf.ko: the JIT test suite; its summaries and
#              failures are written to <work dir>/test_bpf.txt
#   test_verifier  tools/testing/selftests/bpf/test_verifier: each test's
#              verdict and the summary are written to
#              <work dir>/test_verifier.txt
#   test_progs upstream's test_progs (tools/scripts/test-progs-build.sh),
#              every test built into it: each test's
#              and subtest's verdict and the summary are written to
#              <work dir>/test_progs.txt
#   fuzz       tools/fuzz: each program of the BPF objects in $FUZZ_OBJ
#              loaded on its own and run once on pkt_v4 (the ones listed
#              in $FUZZ_OBJ/skip-BUILD are skipped); the results are
#              written to <work dir>/fuzz.txt
#   stress     tools/stress: 10^6 throws on all 4 CPUs at once under
#              BPF_PROG_TEST_RUN, XDP and tc programs that throw in softirq
#              on packets over lo, a throwing fentry program nested in all
#              of them, programs loaded and freed meanwhile; then the
#              program and map counts, and kmemleak on a debug kernel
#   bench      tools/bench: guest instructions per run of each benchmark
#              program, under -icount; written to <work dir>/bench.txt
#
# BUILD is the build directory under CACHEDIR/build: linux-6.12 (ours, the
# default), stock-6.12, debug-6.12, norust-6.12, or an arm64 build
# (arm64-6.12, stock-arm64-6.12; tools/scripts/arm64.sh), which boots in
# qemu-system-aarch64 (virt, a "max" CPU with pointer authentication and
# BTI) with arm64 binaries and no bpftool: selftests then runs
# exc_loader in place of bpftool and leaves out the tracing checks.
#
# Usage: guest.sh CACHEDIR sample|selftests|hole|faults|test_bpf|test_verifier|test_progs|bench|fuzz|stress [BUILD]
set -euo pipefail

cache=$1 mode=$2 which=${3:-linux-6.12}
repo=$(pwd)
tree=$cache/src/linux-source-6.12
build=$cache/build/$which
self=$tree/tools/testing/selftests/bpf
# GUEST_TAG keeps apart guests of the same mode that run at once (fuzz
# campaigns beside make check).
work=$cache/guest/$mode-$which${GUEST_TAG:+-$GUEST_TAG}
case $which in
*arm64*)
	arch=arm64 bzimage=$build/arch/arm64/boot/Image
	# arm64 binaries, linked against the root's arm64 libraries
	# (multiarch); copy_libs copies what they need. (Debian's static
	# libelf.a lacks elfutils' libeu.)
	ucc() { clang --target=aarch64-linux-gnu -fuse-ld=lld -O2 -Wall -Werror "$@"; }
	;;
*)
	arch=x86 bzimage=$build/arch/x86/boot/bzImage
	ucc() { clang -O2 -Wall -Werror "$@"; }
	;;
esac

die() { echo "guest: error: $*" >&2; exit 1; }
[ -f "$bzimage" ] || die "no kernel at $bzimage: run 'make kernel' first"

rm -rf "$work"
mkdir -p "$work/obj" "$work/initramfs"
obj=$work/obj

# BPF objects, compiled as the selftests Makefile does, against this
# kernel's BTF.
bpftool btf dump file "$build/vmlinux" format c >"$obj/vmlinux.h"
bpf_cc() {
	local triplet=x86_64-linux-gnu
	[ "$arch" = x86 ] || triplet=aarch64-linux-gnu
	clang -g -O2 --target=bpf -mcpu=v3 -mlittle-endian -D__TARGET_ARCH_$arch \
		-Wall -Werror -Wno-compare-distinct-pointer-types \
		-I"$obj" -I"$self" -I"$self/progs" -I"$tree/tools/include/uapi" \
		-idirafter /usr/include/$triplet "$@"
}
if [ "$mode" = bench ]; then
	python3 "$repo/tools/bench/gen.py" >"$obj/bench.bpf.c"
	bpf_cc -c "$obj/bench.bpf.c" -o "$obj/bench.bpf.o"
	python3 "$repo/tools/bench/gen.py" cleanup >"$obj/cleanup.bpf.c"
	bpf_cc -c "$obj/cleanup.bpf.c" -o "$obj/cleanup.bpf.o"
	ucc "$repo/tools/bench/bench.c" -lbpf -o "$obj/bench"
elif [ "$mode" = test_verifier ] || [ "$mode" = test_progs ]; then
	if [ "$mode" = test_verifier ]; then
		# Built as the selftests Makefile builds it, from the tree's
		# tools/ (the same in both kernels' trees), once per tree.
		tv=$cache/build/test_verifier
		mkdir -p "$tv"
		make -s -C "$self" -j"$(nproc)" OUTPUT="$tv" VMLINUX_BTF="$build/vmlinux" \
			"$tv/test_verifier" >"$work/$mode-build.log" 2>&1 || {
			tail -n 30 "$work/$mode-build.log" >&2
			die "cannot build test_verifier"
		}
		cp "$tv/test_verifier" "$obj/"
	else
		# One binary, built against our kernel's BTF, for both kernels.
		tp=$("$repo/tools/scripts/test-progs-build.sh" "$cache") ||
			die "cannot build test_progs"
		cp "$tp/test_progs" "$obj/"
		sed 's|^|'"$tp"'/|' "$tp/objects.list" | xargs -r cp -t "$obj/"
	fi
	# bpf_testmod.ko, built against the kernel under test.
	cp -r "$self/bpf_testmod" "$work/testmod"
	make -s -C "$build" M="$work/testmod" LLVM=1 -j"$(nproc)" modules \
		>>"$work/$mode-build.log" 2>&1 || {
		tail -n 30 "$work/$mode-build.log" >&2
		die "cannot build bpf_testmod.ko"
	}
	cp "$work/testmod/bpf_testmod.ko" "$obj/"
elif [ "$mode" != test_bpf ]; then

# Selftests: the objects, the expected return values, the RUN_EXT checks,
# exc_loader and the packet.
for suite in exceptions exceptions_fail exceptions_assert exceptions_ext; do
	bpf_cc -c "$self/progs/$suite.c" -o "$obj/$suite.bpf.o"
done
python3 "$repo/tools/selftests/cleanup-matrix.py" >"$obj/exceptions_cleanup_matrix.h"
for suite in exceptions_hole exceptions_faults exceptions_faults_ext exceptions_tracing \
	exceptions_norust exceptions_throwtrace exceptions_cleanup exceptions_progtypes \
	exceptions_module; do
	bpf_cc -c "$repo/tools/selftests/progs/$suite.c" -o "$obj/$suite.bpf.o"
done
# bpfexc_testmod.ko, a module's kernel objects for exceptions_module,
# built against the kernel under test.
if [ "$mode" = selftests ]; then
	cp -r "$repo/tools/selftests/bpfexc_testmod" "$work/bpfexc_testmod"
	kmarch=()
	[ "$arch" = x86 ] || kmarch=(ARCH=arm64)
	make -s -C "$build" M="$work/bpfexc_testmod" LLVM=1 "${kmarch[@]}" -j"$(nproc)" modules \
		>"$work/bpfexc_testmod-build.log" 2>&1 || {
		tail -n 30 "$work/bpfexc_testmod-build.log" >&2
		die "cannot build bpfexc_testmod.ko"
	}
	cp "$work/bpfexc_testmod/bpfexc_testmod.ko" "$obj/"
fi
python3 "$repo/tools/selftests/ext-checks.py" "$self/prog_tests/exceptions.c" \
	"$repo/tools/selftests/exceptions_ext.differences" >"$obj/exceptions_ext.checks" ||
	die "cannot read the RUN_EXT checks of prog_tests/exceptions.c"
ucc "$repo/tools/selftests/exc_loader.c" -lbpf -o "$obj/exc_loader"
bpf_cc -c "$repo/tools/stress/stress.bpf.c" -o "$obj/stress.bpf.o"
ucc "$repo/tools/stress/stress.c" -lbpf -lpthread -o "$obj/stress"
# Each spec suite has one check per program of its object.
for suite in exceptions_fail exceptions_assert exceptions_hole exceptions_faults exceptions_tracing \
	exceptions_norust exceptions_cleanup exceptions_progtypes exceptions_module; do
	bpftool gen skeleton "$obj/$suite.bpf.o" name "$suite" |
		sed -n '/^\tstruct {$/,/^\t} progs;$/p' | grep -c 'struct bpf_program \*' >"$obj/$suite.count"
done
# exc_loader spec leaves out the extensions of exceptions_cleanup, which
# need a target.
ext=$(grep -c '^SEC("?freplace")' "$repo/tools/selftests/progs/exceptions_cleanup.c")
echo $(($(cat "$obj/exceptions_cleanup.count") - ext)) >"$obj/exceptions_cleanup.count"
# exc_loader cleanup: two checks per throw_* program, five controls, two
# checks for each of the two attack_* programs, one of the instructions
# that fill a call's own slot, and two of the extension.
bpftool gen skeleton "$obj/exceptions_cleanup.bpf.o" name exceptions_cleanup |
	grep -c 'struct bpf_program \*throw_' | awk '{ print 2 * $1 + 12 }' >"$obj/cleanup.count"
# exc_loader module: one check per throw_* program, one for sealed_throw
# where it loads (not on x86-64, whose IBT seals its destructor), the
# control, and the throws through a traced destructor.
bpftool gen skeleton "$obj/exceptions_module.bpf.o" name exceptions_module |
	grep -c 'struct bpf_program \*throw_' |
	awk -v arch="$arch" '{ print $1 + 2 + (arch != "x86") }' >"$obj/module.count"
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
ucc -I"$obj" -I"$sample" "$sample/parser.c" -lbpf -o "$obj/parser"
fi

# The initramfs: busybox, bpftool with its libraries, the tests, /init.
ir=$work/initramfs
mkdir -p "$ir"/{bin,sbin,lib64,proc,sys,dev,tmp,tests,sample}
if [ "$arch" = arm64 ]; then
	cp /opt/arm64/usr/bin/busybox "$ir/bin/busybox"
else
	cp /bin/busybox "$ir/bin/busybox"
fi
# true: test_lsm execs it.
for app in sh mount mkdir cat echo sed grep reboot sleep wc head tr insmod dmesg ifconfig true; do
	ln -s busybox "$ir/bin/$app"
done
copy_libs() {
	[ "$arch" = x86 ] || { copy_libs_arm64 "$@"; return; }
	ldd "$@" | grep -v ':$' | grep -o '/[^ ]*' | sort -u | while read -r lib; do
		mkdir -p "$ir$(dirname "$lib")"
		cp -L "$lib" "$ir$lib"
	done
}
# copy_libs_arm64 BINARY...: their interpreter and the shared libraries
# they need, found by their DT_NEEDED entries (ldd cannot run them).
copy_libs_arm64() {
	local todo=("$@") seen=" " f lib path
	mkdir -p "$ir/lib" "$ir/lib/aarch64-linux-gnu"
	cp -L /lib/ld-linux-aarch64.so.1 "$ir/lib/"
	while [ ${#todo[@]} -gt 0 ]; do
		f=${todo[0]}
		todo=("${todo[@]:1}")
		for lib in $(llvm-readelf -d "$f" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
			case $seen in *" $lib "*) continue ;; esac
			seen="$seen$lib "
			path=/lib/aarch64-linux-gnu/$lib
			[ -e "$path" ] || path=/usr/lib/aarch64-linux-gnu/$lib
			[ -e "$path" ] || die "no arm64 $lib for $f"
			cp -L "$path" "$ir/lib/aarch64-linux-gnu/$lib"
			todo+=("$path")
		done
	done
}
case $mode in
test_bpf) cp "$build/lib/test_bpf.ko" "$ir/tests/" ;;
fuzz)
	mkdir -p "$ir/tests/fuzz"
	cp "$FUZZ_OBJ"/*.bpf.o "$ir/tests/fuzz/"
	cp "$FUZZ_OBJ/skip-$which" "$ir/tests/fuzz/skip" 2>/dev/null || : >"$ir/tests/fuzz/skip"
	cp "$obj/exc_loader" "$obj/pkt_v4.bin" "$ir/tests/"
	copy_libs "$obj/exc_loader"
	;;
stress)
	cp "$obj/stress" "$obj/stress.bpf.o" "$ir/tests/"
	copy_libs "$obj/stress"
	;;
test_verifier | test_progs)
	cp "$obj/$mode" "$obj/bpf_testmod.ko" "$ir/tests/"
	[ "$mode" != test_progs ] || find "$obj" -maxdepth 1 -name '*.bpf.o' -exec cp -t "$ir/tests/" {} +
	copy_libs "$obj/$mode"
	# glibc opens libgcc_s.so.1 when a thread ends by pthread_exit(), as
	# some of test_progs' tests do; no DT_NEEDED names it. (test_progs
	# runs on x86-64 only.)
	[ "$mode" != test_progs ] || cp /lib/x86_64-linux-gnu/libgcc_s.so.1 "$ir/lib/x86_64-linux-gnu/"
	;;
bench)
	cp "$obj/bench" "$obj/bench.bpf.o" "$obj/cleanup.bpf.o" "$ir/tests/"
	copy_libs "$obj/bench"
	;;
*)
	if [ "$arch" = x86 ]; then
		cp /usr/sbin/bpftool "$ir/sbin/bpftool"
		copy_libs /usr/sbin/bpftool "$obj/parser" "$obj/exc_loader"
	else
		copy_libs "$obj/parser" "$obj/exc_loader"
	fi
	cp "$obj"/*.bpf.o "$obj/exceptions.expect" "$obj/exceptions_ext.checks" "$obj/pkt_v4.bin" \
		"$obj/cleanup.count" "$repo/tools/selftests/exceptions_fail.differences" \
		"$repo/tools/selftests/exceptions_hole.differences" \
		"$obj/exc_loader" "$repo/tools/selftests/exceptions_hole_ext.checks" \
		"$repo/tools/selftests/exceptions_faults_ext.checks" "$ir/tests/"
	[ "$mode" != selftests ] || cp "$obj/bpfexc_testmod.ko" "$ir/tests/"
	cp "$obj/parser" "$ir/sample/"
	;;
esac
cp "$repo/tools/guest/init" "$ir/init"
cp "$repo/tools/guest/run-selftests" "$repo/tools/guest/kmemleak" "$ir/tests/"
chmod +x "$ir/init" "$ir/tests/run-selftests" "$ir/tests/kmemleak"
(cd "$ir" && find . | cpio -o -H newc --quiet | gzip -1) >"$work/initramfs.cpio.gz"

# Boot. The guest prints its results between markers and reboots, which
# -no-reboot turns into QEMU exiting. loglevel=5 keeps boot chatter out of
# the console but shows warnings (KERN_WARNING is 4), which fail the run.
# For bench, guest time counts guest instructions exactly
# (shared/reference-figures.md describes the method).
# Two serial ports: the kernel's console (ttyS0) goes to $console, and the
# guest's /init sends everything the tests print to ttyS1, which goes to
# $log. A kernel message can then never land inside a test's output line,
# and the console is checked for warnings on its own.
log=$work/$mode.log
console=$work/$mode.console
qemu_extra=() append_extra=
# The guests run with 4 vCPUs; the benchmark with one, under -icount, so
# that guest time counts guest instructions exactly
# (shared/reference-figures.md describes the method).
smp=4
if [ "$mode" = bench ]; then
	smp=1
	qemu_extra=(-icount shift=0,align=off,sleep=off -rtc base=2024-01-01T00:00:00,clock=vm)
	append_extra=
fi
# The time limits leave room for make check's second lane, whose guest or
# kernel build shares the two cores: the debug kernel's selftests take some
# 15 minutes alone.
limit=1200
[ "$which" != debug-6.12 ] || limit=3000
[ "$arch" != arm64 ] || limit=1800
start=$(date +%s)
if [ "$arch" = arm64 ]; then
	# The test output goes to a virtio console (hvc0), the kernel's to the
	# PL011 UART.
	timeout $limit qemu-system-aarch64 -nodefaults -machine virt -cpu max,pauth-impdef=on \
		-smp $smp -m 1024 -display none -monitor none -no-reboot "${qemu_extra[@]}" \
		-serial "file:$console" -device virtio-serial-device \
		-chardev "file,id=out,path=$log" -device virtconsole,chardev=out \
		-kernel "$bzimage" -initrd "$work/initramfs.cpio.gz" \
		-append "console=ttyAMA0 loglevel=5 panic=-1 bpfexc.out=/dev/hvc0 bpfexc.mode=$mode$append_extra" \
		</dev/null >"$work/qemu.out" 2>&1 && qemu_rc=0 || qemu_rc=$?
else
	timeout $limit qemu-system-x86_64 -nodefaults -machine pc -cpu qemu64 -smp $smp -m 1024 \
		-bios qboot.rom -display none -monitor none -no-reboot "${qemu_extra[@]}" \
		-serial "file:$console" -serial "file:$log" \
		-kernel "$bzimage" -initrd "$work/initramfs.cpio.gz" \
		-append "console=ttyS0 loglevel=5 panic=-1 tsc=reliable bpfexc.mode=$mode$append_extra" \
		</dev/null >"$work/qemu.out" 2>&1 && qemu_rc=0 || qemu_rc=$?
fi
secs=$(($(date +%s) - start))
# 124: the guest ran out of time (not a crash of the kernel).
[ "$qemu_rc" != 124 ] || echo "guest: timed out after $secs s (test output: $log)" >&2
grep -q '^BPFEXC-END' "$log" || [ "$mode" = faults ] || [ "$mode" = fuzz ] || {
	tail -n 30 "$log" >&2
	tail -n 60 "$console" >&2
	die "the guest did not finish ($secs s); test output in $log, console in $console"
}
# The guest's /init writes kernel messages while the tests run: they must
# reach the console and none of the test output.
if [ "$mode" != bench ] && [ "$mode" != faults ]; then
	grep -q 'bpfexc: console noise' "$console" ||
		die "the guest's kernel messages did not reach the console ($console)"
	! grep -q 'console noise' "$log" ||
		die "kernel messages in the test output ($log)"
fi
# x86 guests boot with tsc=reliable: under TCG the TSC watchdog may find the
# TSC unstable mid-run, and the work that then turns __sched_clock_stable
# off can race with its late enable in 6.12's jump_label.c
# (static_key_disable_cpuslocked() warns on a key count of -1; seen once, on
# stock, with CONFIG_JUMP_LABEL). Documentation/bpf/exceptions-rust.rst,
# "Known upstream messages".
# A kernel warning or oops anywhere in the run fails it, but for one line
# of 6.12's ORC unwinder that no BPF code can cause: an interrupt that saves
# a stack trace (lockdep, kmemleak, KASAN on the debug kernel) on the one
# instruction of return_to_handler between its 'call .Ldo_rop' and the
# store of the real return address. objtool's entry there says the return
# address is the call's own, so the unwinder sees the same sp twice and
# prints this once (orc_warn, no trace). The tracing suite runs throws under
# the function graph tracer, which puts return_to_handler on the stack; the
# window is hit by chance. Documentation/bpf/exceptions-rust.rst, "Known
# upstream messages", has the ORC entries.
orc_rth='^WARNING: stack going in the wrong direction\? at return_to_handler\+0x[0-9a-f]+/0x[0-9a-f]+$'
if tr -d '\r' <"$console" | grep -E "$orc_rth" >/dev/null; then
	echo "guest: the console has 6.12's ORC message for return_to_handler (known, not a failure):" >&2
	tr -d '\r' <"$console" | grep -nE "$orc_rth" >&2
fi
if tr -d '\r' <"$console" | grep -vE "$orc_rth" | grep -E 'WARNING:|BUG:|Oops|UBSAN:|Call Trace:|bpf_throw: ' >/dev/null; then
	grep -nE -A20 'WARNING:|BUG:|Oops|UBSAN:|bpf_throw: ' "$console" | head -n 60 >&2
	oops=1
else
	oops=0
fi

# leaked: false, with the report, if the guest's kmemleak scan (a debug
# kernel's) found unreferenced objects.
leaked() {
	local leaks
	leaks=$(tr -d '\r' <"$log" | sed -n 's/^BPFEXC-KMEMLEAK //p')
	[ -z "$leaks" ] || [ "$leaks" = 0 ] && return 0
	echo "  FAIL kmemleak reports $leaks unreferenced objects:"
	tr -d '\r' <"$log" | sed -n '/^BPFEXC-KMEMLEAK-BEGIN/,/^BPFEXC-KMEMLEAK-END/p' | head -n 40
	return 1
}

case $mode in
sample)
	sed -n '/^BPFEXC-BEGIN/,/^BPFEXC-END/p' "$log" | sed '1d;$d' | tr -d '\r'
	grep -q '^BPFEXC-END rc=0' "$log" && [ $oops = 0 ] || die "the sample failed (test output: $log, console: $console)"
	echo "(guest booted and ran in $secs s of QEMU TCG)"
	;;
selftests)
	passed=0 failed=0
	suffix=
	[ "$which" = linux-6.12 ] || suffix=" ($which)"
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
	# A debug kernel's kmemleak scan after the suites.
	leaked || failed=$((failed + 1))
	echo "selftests exceptions${suffix}: $passed passed, $failed failed"
	all_failed=$failed
	# The tracing checks drive bpftool, which the arm64 guest lacks.
	tracing="tracing exceptions_cleanup cleanup exceptions_module module exceptions_progtypes progtypes"
	[ "$arch" = x86 ] ||
		tracing="exceptions_cleanup cleanup exceptions_module module exceptions_progtypes progtypes"
	for suite in exceptions_fail exceptions_assert exceptions_ext exceptions_hole \
		exceptions_hole_ext exceptions_faults exceptions_faults_ext throwtrace $tracing \
		xlated; do
		if [ $suite = exceptions_ext ]; then
			want=$(wc -l <"$obj/exceptions_ext.checks")
		elif [ $suite = exceptions_hole_ext ] || [ $suite = exceptions_faults_ext ]; then
			want=$(wc -l <"$repo/tools/selftests/$suite.checks")
		elif [ $suite = tracing ]; then
			want=$(($(grep -c '^trace_check ' "$repo/tools/guest/run-selftests") +
				$(cat "$obj/exceptions_tracing.count")))
		elif [ $suite = xlated ]; then
			want=1
		elif [ $suite = cleanup ]; then
			want=$(cat "$obj/cleanup.count")
		elif [ $suite = module ]; then
			want=$(cat "$obj/module.count")
		elif [ $suite = progtypes ]; then
			# exc_loader progtypes: three checks each for the two
			# kprobes, fmod_ret, the sleepable fentry and the LSM
			# program.
			want=15
		elif [ $suite = throwtrace ]; then
			# exc_loader throwtrace: four checks for each of its three
			# throwing programs, and six more.
			want=18
		else
			want=$(cat "$obj/$suite.count")
		fi
		results=$(tr -d '\r' <"$log" | sed -n "s/^BPFEXC-RESULT $suite //p")
		passed=$(grep -c ' ok$' <<<"$results" || true)
		# exc_loader spec's BPFEXC_SPEC_SKIP (run-selftests says which
		# and why): neither passed nor failed, and said here.
		skipped=$(grep ' skipped$' <<<"$results" | cut -d' ' -f1 | tr '\n' ' ' || true)
		failed=$((want - passed - $(wc -w <<<"$skipped")))
		# More results than checks (a check added without its count)
		# must not cancel failures elsewhere: every count mismatch
		# fails once.
		[ "$failed" -ge 0 ] || failed=0
		[ -z "$skipped" ] || echo "  $suite: not run on this kernel: $skipped"
		# The reason and the verifier log's tail of each failure.
		tr -d '\r' <"$log" | awk -v s="BPFEXC-RESULT $suite " \
			'index($0, "BPFEXC-RESULT ") == 1 { show = index($0, s) == 1 && / FAIL: / }
			 show { print "  " $0 }' | head -n 80
		[ "$(grep -c . <<<"$results")" = "$want" ] || {
			echo "  FAIL $suite: $(grep -c . <<<"$results") results for $want checks"
			failed=$((failed + 1))
		}
		# The table sizes of the cleanup programs.
		tr -d '\r' <"$log" | sed -n "s/^BPFEXC-INFO $suite /  /p"
		echo "selftests $suite${suffix}: $passed passed, $failed failed"
		all_failed=$((all_failed + failed))
	done
	# Where the guest's time went (run-selftests' phases).
	tr -d '\r' <"$log" | awk '$1 == "BPFEXC-TIME" {
			if (name != "") out = out sprintf("%s%s %.0f s", out == "" ? "" : ", ", name, $3 - t)
			name = $2; t = $3 }
		END { if (out != "") print "  guest time: " out }'
	[ "$all_failed" = 0 ]
	;;
norust)
	# A kernel without BPF exceptions: our messages, stock's verdicts.
	results=$(tr -d '\r' <"$log" | sed -n "s/^BPFEXC-RESULT exceptions_norust //p")
	want=$(cat "$obj/exceptions_norust.count")
	passed=$(grep -c ' ok$' <<<"$results" || true)
	failed=$((want - passed))
	{ grep -v ' ok$' <<<"$results" || true; } | sed 's/^/  FAIL /' | head -n 40
	[ $oops = 0 ] || { echo "  FAIL kernel warning or oops during the run"; failed=$((failed + 1)); }
	echo "exceptions_norust ($which): $passed passed, $failed failed"
	[ "$failed" = 0 ]
	;;
hole)
	tr -d '\r' <"$log" | sed -n 's/^BPFEXC-RESULT exceptions_hole \([^ ]*\) \(.*\)$/\1 \2/p' |
		while read -r name verdict; do
			case $name:$verdict in
			*:ok) echo "  $name: as on our kernel" ;;
			reject_* | *"load returned 0, expected -22") echo "  $name: ACCEPTED ($verdict)" ;;
			*) echo "  $name: $verdict" ;;
			esac
		done
	[ $oops = 0 ] || die "kernel warning or oops (console: $console)"
	;;
faults)
	# Each check's verdict on this kernel, where ours passes every one.
	tr -d '\r' <"$log" | sed -n 's/^BPFEXC-RESULT \([^ ]*\) \([^ ]*\) \(.*\)$/\1 \2 \3/p' |
		while read -r suite name verdict; do
			case $verdict in
			ok) echo "  $suite/$name: as on our kernel" ;;
			*) echo "  $suite/$name: DIFFERS: ${verdict#FAIL: }" ;;
			esac
		done
	if [ $oops = 1 ]; then
		echo "  the kernel oopsed or warned (console: $console):"
		grep -E 'BUG:|Oops|WARNING:|RIP:' "$console" | head -n 8 | sed 's/^/    /'
	fi
	grep -q '^BPFEXC-END' "$log" || echo "  the guest did not finish: the run stopped there"
	;;
stress)
	results=$(tr -d '\r' <"$log" | sed -n 's/^BPFEXC-RESULT stress //p')
	tr -d '\r' <"$log" | grep -E '^# ' | sed 's/^/  /'
	passed=$(grep -c ' ok$' <<<"$results" || true)
	failed=$(grep -c ' FAIL' <<<"$results" || true)
	grep ' FAIL' <<<"$results" | sed 's/^/  FAIL /' || true
	[ "$passed" -ge 9 ] || { echo "  FAIL only $passed checks reported"; failed=$((failed + 1)); }
	leaked || failed=$((failed + 1))
	[ $oops = 0 ] || { echo "  FAIL kernel warning or oops during the run"; failed=$((failed + 1)); }
	suffix=
	[ "$which" = linux-6.12 ] || suffix=" ($which)"
	echo "stress$suffix: $passed passed, $failed failed"
	[ "$failed" = 0 ]
	;;
fuzz)
	# Each program's result; a kernel that went down is reported with the
	# program it was running.
	tr -d '\r' <"$log" | sed -n 's/^BPFEXC-FUZZ //p; s/^BPFEXC-FUZZ-LOG /LOG /p' >"$work/fuzz.txt"
	if ! grep -q '^BPFEXC-END' "$log"; then
		last=$(tr -d '\r' <"$log" | sed -n 's/^BPFEXC-FUZZ-BEGIN //p' | tail -n 1)
		if [ "$qemu_rc" = 124 ]; then
			echo "$last timeout" >>"$work/fuzz.txt"
		else
			echo "$last crashed" >>"$work/fuzz.txt"
		fi
		echo "guest: the kernel went down running $last (console: $console)" >&2
	fi
	if [ $oops = 1 ]; then
		last=$(tr -d '\r' <"$log" | sed -n 's/^BPFEXC-FUZZ-BEGIN //p' | tail -n 1)
		echo "$last oops" >>"$work/fuzz.txt"
	fi
	# On the debug kernel: memory the programs of this guest leaked.
	leaked >&2 || echo "kmemleak-$(basename "$(ls "$FUZZ_OBJ"/*.bpf.o | head -n 1)") oops" >>"$work/fuzz.txt"
	;;
test_bpf)
	# The three suites' summaries and every failed test, as the guest
	# printed them, without timings.
	tr -d '\r' <"$log" | sed -n 's/^BPFEXC-TEST_BPF //p' |
		sed -E 's/ [0-9]+ ns//g' >"$work/test_bpf.txt"
	grep -q 'Summary' "$work/test_bpf.txt" || die "test_bpf printed no summary (console: $console)"
	[ $oops = 0 ] || die "kernel warning or oops during test_bpf (console: $console)"
	cat "$work/test_bpf.txt"
	echo "(test_bpf ran in $secs s of QEMU TCG)"
	;;
test_verifier)
	# Each test's name and verdict, and the summary.
	tr -d '\r' <"$log" | sed -n 's/^BPFEXC-TV //p' |
		grep -E '^#[0-9]+/[pu] |^Summary: ' | sed 's/[[:space:]]*$//' >"$work/test_verifier.txt"
	grep -q '^Summary' "$work/test_verifier.txt" || die "test_verifier printed no summary (console: $console)"
	[ $oops = 0 ] || die "kernel warning or oops during test_verifier (console: $console)"
	grep '^Summary' "$work/test_verifier.txt"
	echo "(test_verifier ran in $secs s of QEMU TCG)"
	;;
test_progs)
	# Each test's and subtest's name and verdict, and the summary.
	tr -d '\r' <"$log" | sed -n 's/^BPFEXC-TP //p' |
		grep -E '^#[0-9]+(/[0-9]+)? +.+:(OK|SKIP|FAIL)( \(SKIP: [0-9]+/[0-9]+\))?$|^Summary: ' >"$work/test_progs.txt"
	grep -q '^Summary' "$work/test_progs.txt" || die "test_progs printed no summary (console: $console)"
	! grep -q 'WARNING! Selftests relying on bpf_testmod.ko will be skipped' "$log" ||
		die "test_progs could not load bpf_testmod.ko (test output: $log)"
	[ $oops = 0 ] || die "kernel warning or oops during test_progs (console: $console)"
	leaked >&2 || die "kmemleak found unreferenced objects after test_progs (test output: $log)"
	grep '^Summary' "$work/test_progs.txt"
	echo "(test_progs ran in $secs s of QEMU TCG)"
	;;
bench)
	tr -d '\r' <"$log" | sed -n 's/^BENCH //p' >"$work/bench.txt"
	grep -q . "$work/bench.txt" || die "no benchmark results (console: $console)"
	grep -q '^BPFEXC-END rc=0' "$log" && [ $oops = 0 ] || die "the benchmark failed (console: $console)"
	echo "$(wc -l <"$work/bench.txt") programs measured in $secs s"
	;;
*) die "unknown mode $mode" ;;
esac
