#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Differential fuzzing of the verifier and the unwinder (run inside the
# build root): tools/fuzz/gen.py writes COUNT random programs from SEED,
# clang compiles them, and the guest loads and runs each on our kernel and
# on stock; tools/fuzz/compare.py checks every verdict and return value
# against the other kernel and the generator's model.
#
# OURS is the build of ours to run them on: linux-6.12 (the default) or
# debug-6.12 (KASAN, lockdep, UBSAN: any report fails the program).
#
# Usage: fuzz.sh CACHEDIR SEED COUNT [OURS]
set -euo pipefail

cache=$1 seed=$2 count=$3 ours=${4:-linux-6.12}
repo=$(pwd)
tree=$cache/src/linux-source-6.12
self=$tree/tools/testing/selftests/bpf
dir=$cache/fuzz/seed-$seed-n$count${4:+-$4}
die() { echo "fuzz: error: $*" >&2; exit 1; }

"$(dirname "$0")/stock.sh" "$cache" >/dev/null || die "cannot build the stock kernel"
rm -rf "$dir"
mkdir -p "$dir/src" "$dir/obj"
python3 "$repo/tools/fuzz/gen.py" "$seed" "$count" "$dir/src"
# The regression tests kept from earlier campaigns (tools/fuzz/regressions),
# run with every corpus: one program a file, its expected results in its
# "expect:" lines.
for f in "$repo"/tools/fuzz/regressions/*.c; do
	[ -f "$f" ] || continue
	b=regression_$(basename "$f" .c)
	cp "$f" "$dir/src/$b.c"
	sed -n "s#^// expect: \(.*\)|REGRESSION|#\1|$b|#p" "$f" >>"$dir/src/fuzz.expect"
done
bpftool btf dump file "$cache/build/linux-6.12/vmlinux" format c >"$dir/obj/vmlinux.h"
start=$(date +%s)
ls "$dir"/src/*.c | xargs -P "$(nproc)" -I{} sh -c '
	f={}; b=$(basename "$f" .c)
	clang -g -O2 --target=bpf -mcpu=v3 -mlittle-endian -D__TARGET_ARCH_x86 \
		-Wall -Werror -Wno-compare-distinct-pointer-types -ffile-prefix-map="$4"=. \
		-I"$0/obj" -I"$3" -I"$1" -I"$1/progs" -I"$2/tools/include/uapi" \
		-idirafter /usr/include/x86_64-linux-gnu -c "$f" -o "$0/obj/$b.bpf.o"' \
	"$dir" "$self" "$tree" "$repo/tools/fuzz" "$repo" || die "clang failed on the generated programs in $dir/src"
# Stock loads the hole programs without running them, and neither loads
# nor runs those that make it enter the wrong exception callback (dead
# code with a custom callback) or fexit on a subprog that may throw.
awk -F'|' '$5 == 0 { print $1 } $5 == 2 { print "=" $1 }' "$dir/src/fuzz.expect" \
	>"$dir/obj/skip-stock-6.12"
echo "fuzz: $count programs from seed $seed compiled in $(($(date +%s) - start)) s;" \
	"$(awk -F'|' '{ n[$3]++; if ($1 ~ /_at$/) a++ }
		END { printf "%d ok, %d released on throw (stock refuses), %d reject, %d hole, %d fexit refused; %d of them attachments",
			n["ok"], n["cleanup"], n["reject"], n["hole"], n["fexit"], a }' "$dir/src/fuzz.expect")," \
	"$(cat "$dir"/src/fuzz_*.c | grep -c 'bpf_tail_call(')" tail calls
# One guest boot per 40 objects (4000 programs), well within its timeout;
# the two kernels' guests run side by side.
ls "$dir"/obj/*.bpf.o | split -l 40 - "$dir/group-"
campaign() {
	local which=$1 start group run=$dir/run-$1 rc=0
	start=$(date +%s)
	: >"$dir/$which.txt"
	for group in "$dir"/group-*; do
		rm -rf "$run"
		mkdir -p "$run"
		xargs -a "$group" cp -t "$run"
		cp "$dir/obj/skip-stock-6.12" "$run/"
		rm -f "$cache/guest/fuzz-$which-s$seed-n$count/fuzz.txt"
		FUZZ_OBJ=$run GUEST_TAG=s$seed-n$count tools/scripts/guest.sh "$cache" fuzz "$which" ||
			{ echo "fuzz: the $which guest failed" >&2; rc=1; }
		cat "$cache/guest/fuzz-$which-s$seed-n$count/fuzz.txt" >>"$dir/$which.txt" 2>/dev/null || true
	done
	rm -rf "$run"
	echo "fuzz: $which ran them in $(($(date +%s) - start)) s"
	return $rc
}
# Stock's results are kept until the programs, the stock kernel or the
# guest change. The key is what the objects are built from (the sources,
# the headers, vmlinux.h, the compiler and this script's flags), not the
# objects: clang 19 orders some BTF types (type tags, forward declarations)
# differently from one run to the next, so the same source does not always
# give the same bytes. Nothing in the key names the clone.
kept=$cache/fuzz/stock-6.12-s$seed-n$count.txt
key=$({ cat "$dir"/src/*.c "$dir/src/fuzz.expect" "$dir/obj/vmlinux.h" "$dir/obj/skip-stock-6.12" \
	"$repo"/tools/fuzz/*.h "$0" "$cache/build/stock-6.12/arch/x86/boot/bzImage" \
	tools/scripts/guest.sh tools/guest/init tools/selftests/exc_loader.c; clang --version; } |
	sha256sum | cut -c1-16)
campaign "$ours" &
if [ -f "$kept" ] && [ "$(cat "$kept.key" 2>/dev/null)" = "$key" ]; then
	cp "$kept" "$dir/stock-6.12.txt"
	echo "fuzz: stock-6.12's results kept from an earlier run (the same programs, kernel and guest)"
else
	# Only a campaign whose guests all ended well is kept.
	rm -f "$kept.key"
	if campaign stock-6.12; then
		cp "$dir/stock-6.12.txt" "$kept"
		echo "$key" >"$kept.key"
	fi
fi
wait
rm -f "$dir"/group-*
python3 "$repo/tools/fuzz/compare.py" "$dir/src/fuzz.expect" "$dir/$ours.txt" \
	"$dir/stock-6.12.txt" "$dir/failures" ${4:+"$4"}
