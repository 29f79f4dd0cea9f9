#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Prepare the kernel tree and build it (run inside the build root).
#
#  1. Unpack Debian's linux-source-6.12 into the cache, once per package
#     version.
#  2. Bring the applied patch series in line with patches/: patches that
#     changed are reverted and reapplied, so only the files they touch get
#     new timestamps.
#  3. Copy Kbuild, Kconfig and rust/ into kernel/bpf/exceptions/ and the
#     documentation into Documentation/bpf/, rewriting only files whose
#     content changed.
#  4. Configure from tools/config/bpf_exceptions.config on top of
#     allnoconfig when the fragment changed, check that every line of it
#     made it into .config, and build with LLVM=1.
#
# Usage: kernel.sh CACHEDIR
set -euo pipefail

cache=$1
repo=$(pwd)
tree=$cache/src/linux-source-6.12
build=$cache/build/linux-6.12
fragment=$repo/tools/config/bpf_exceptions.config
tested="6.12.117"

. "$(dirname "$0")/lib.sh"

say() { echo "kernel: $*"; }
die() { echo "kernel: error: $*" >&2; exit 1; }

# 1. The source tree, keyed by the package version.
unpack "$tree" "$build" | sed 's/^/kernel: /'
mkdir -p "$tree/.bpfexc-applied"
kver=$(make -s -C "$tree" kernelversion)
case " $tested " in
*" $kver "*) ;;
*) say "note: tested on Linux $tested; this is $kver. Trying the patches anyway." ;;
esac

# 2. The patch series. Patches up to the first whose diff changed stay
# applied (the commit message and index lines do not count); the rest are
# reverted in reverse order and the new ones applied.
applied=$tree/.bpfexc-applied
# A tree prepared by an older kernel.sh has the MAINTAINERS line of
# kernel/bpf/exceptions/ added outside the patches, which now carry it
# (in the crate patch): take it out before reverting them.
crate_line=$'F:\tkernel/bpf/exceptions/'
if [ -f "$applied/crate-maintainers" ]; then
	grep -vxF "$crate_line" "$tree/MAINTAINERS" >"$tree/MAINTAINERS.tmp"
	mv "$tree/MAINTAINERS.tmp" "$tree/MAINTAINERS"
	rm -f "$applied/crate-maintainers"
fi
diff_of() { sed -n '/^diff --git /,$p' "$1" | grep -v -e '^index ' -e '^-- $' -e '^[0-9.]*$'; }
same() { cmp -s <(diff_of "$1") <(diff_of "$2"); }
mapfile -t have < <(cat "$applied/series" 2>/dev/null || true)
mapfile -t want <"$repo/patches/series"
keep=0
while [ "$keep" -lt "${#have[@]}" ] && [ "$keep" -lt "${#want[@]}" ] &&
	[ "${have[$keep]}" = "${want[$keep]}" ] &&
	same "$applied/${have[$keep]}" "$repo/patches/${want[$keep]}"; do
	keep=$((keep + 1))
done
for ((i = ${#have[@]} - 1; i >= keep; i--)); do
	say "reverting ${have[$i]}"
	patch -d "$tree" -p1 -R -s -N --no-backup-if-mismatch <"$applied/${have[$i]}" ||
		die "cannot revert ${have[$i]}; remove $tree to start afresh"
	rm -f "$applied/${have[$i]}"
	printf '%s\n' "${have[@]:0:$i}" | grep . >"$applied/series" || : >"$applied/series"
done
for ((i = keep; i < ${#want[@]}; i++)); do
	p=${want[$i]}
	say "applying $p"
	patch -d "$tree" -p1 -s -N --no-backup-if-mismatch <"$repo/patches/$p" ||
		die "patches/$p does not apply to Linux $kver (tested: $tested). Remove $tree after fixing the patch."
	cp "$repo/patches/$p" "$applied/$p"
	echo "$p" >>"$applied/series"
done

# 3. Our code, as kernel/bpf/exceptions/.
dest=$tree/kernel/bpf/exceptions
mkdir -p "$dest/rust"
rsync -c Kbuild Kconfig "$dest/"
rsync -rc --delete --include='*.rs' --exclude='*' rust/ "$dest/rust/"
rm -f "$dest/rust/host.rs"
rsync -c Documentation/bpf/exceptions-rust.rst "$tree/Documentation/bpf/"

# 4. Configure and build.
mkdir -p "$build"
stamp=$build/.bpfexc-config
want=$(cat "$fragment" "$repo"/Kconfig "$repo"/patches/*.patch | grep -v '^From [0-9a-f]\{40\} ' | sha256sum)
if [ ! -f "$build/.config" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
	say "configuring (allnoconfig + tools/config/bpf_exceptions.config)"
	configure "$tree" "$build" "$fragment" || die "configuration failed"
	# kunit.py reuses this .config when its last used kunitconfig is the
	# same fragment (tools/testing/kunit/kunit_kernel.py).
	grep -E '^CONFIG_' "$fragment" >"$build/last_used_kunitconfig"
	echo "$want" >"$stamp"
fi
say "building Linux $kver with LLVM=1 in $build"
start=$(date +%s)
build_kernel "$tree" "$build" || die "build failed; full log in $build/build.log"
grep -E 'warning:|error:' "$build/build.log" | grep -v '^make' | head -n 20 || true
say "built in $(($(date +%s) - start)) s: $build/arch/x86/boot/bzImage"
