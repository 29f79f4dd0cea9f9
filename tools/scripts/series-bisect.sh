#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Build every patch of the series on its own, as `git rebase -x make`
# would: the series from tools/scripts/series.sh, applied with git am to a
# full clean Linux 6.12.117, then for each configuration and each patch in
# turn a checkout and an incremental `make LLVM=1 all` in a build directory
# of that configuration. Every patch must build.
#
#   series-bisect.sh CACHEDIR [CONFIG...]
#
# CONFIG is one of
#   ours    tools/config/bpf_exceptions.config (x86-64 with Rust, KUnit)
#   norust  the same without Rust (as tools/scripts/norust.sh builds it)
#   arm64   arm64 with Rust (as tools/scripts/arm64.sh builds it)
# and defaults to all three. A patch that introduces no option of the fragment
# is configured without it: each configuration is allnoconfig plus the
# fragment at each patch.
#
# Runs on the host (git), and builds in the build root. It takes 12 to 20
# minutes per configuration (the first patch builds from nothing, the
# crate patch and the removal of arch_bpf_stack_walk() rebuild what
# includes the BPF headers, the others 12 to 30 s each); it is not part
# of make check (make series-bisect).
set -euo pipefail

cache=$1
shift
configs=("$@")
[ ${#configs[@]} -gt 0 ] || configs=(ours norust arm64)
repo=$(pwd)
root=$(ls -d "$cache"/root-* 2>/dev/null | head -n 1)
work=$cache/series/bisect
tree=$work/tree
inroot="$repo/tools/scripts/in-root.sh $root $cache $repo"

. "$(dirname "$0")/lib.sh"

say() { echo "series-bisect: $*"; }
die() { echo "series-bisect: error: $*" >&2; exit 1; }

[ -n "$root" ] || die "no build root in $cache: run make kernel first"
tools/scripts/series.sh "$cache" "$work/series" | sed 's/^/series-bisect: /'
pristine=$cache/series/pristine
[ -f "$pristine/.bpfexc-tarball" ] || die "no clean tree in $pristine"

# A full clean tree in git, once per tarball, with the series applied on
# top of its first commit (tag base) at each run.
export GIT_CONFIG_NOSYSTEM=1 HOME=$work
export GIT_AUTHOR_NAME=bisect GIT_AUTHOR_EMAIL=bisect@localhost
export GIT_COMMITTER_NAME=bisect GIT_COMMITTER_EMAIL=bisect@localhost
if [ "$(cat "$tree/.bpfexc-tarball" 2>/dev/null)" != "$(cat "$pristine/.bpfexc-tarball")" ]; then
	say "copying the clean 6.12.117 into $tree"
	rm -rf "$tree" "$work"/build-*
	mkdir -p "$work"
	cp -a "$pristine" "$tree"
	git -C "$tree" init -q
	git -C "$tree" add -A -f .
	git -C "$tree" commit -q -m "Linux 6.12.117"
	git -C "$tree" tag -f base >/dev/null
fi
git -C "$tree" checkout -q -f --detach base
git -C "$tree" clean -q -f -d -x -e .bpfexc-tarball
mapfile -t mails < <(ls "$work"/series/*.patch | grep -v 0000-cover-letter)
git -C "$tree" am -q "${mails[@]}" || die "the series does not apply with git am"
mapfile -t commits < <(git -C "$tree" rev-list --reverse base..HEAD)
say "${#commits[@]} patches"

fragment_of() {
	case $1 in
	ours) cat "$repo/tools/config/bpf_exceptions.config" ;;
	norust) norust_fragment ;;
	arm64) arm64_fragment ;;
	*) die "unknown configuration $1" ;;
	esac
}

passed=0 failed=0
for cfg in "${configs[@]}"; do
	build=$work/build-$cfg
	arch=
	[ "$cfg" != arm64 ] || arch=ARCH=arm64
	mkdir -p "$build"
	fragment_of "$cfg" >"$build/fragment"
	n=0
	for c in "${commits[@]}"; do
		n=$((n + 1))
		git -C "$tree" checkout -q -f --detach "$c"
		subject=$(git -C "$tree" log -1 --format=%s "$c")
		start=$(date +%s)
		if $inroot sh -c "make -s -C '$tree' O='$build' LLVM=1 $arch \
			KCONFIG_ALLCONFIG='$build/fragment' allnoconfig >/dev/null 2>'$build/config.log' &&
			make -s -C '$tree' O='$build' LLVM=1 $arch -j\$(nproc) all >'$build/build.log' 2>&1"; then
			passed=$((passed + 1))
			say "$cfg $(printf '%02d' $n) builds ($(($(date +%s) - start)) s): $subject"
		else
			failed=$((failed + 1))
			say "$cfg $(printf '%02d' $n) FAILS: $subject"
			grep -E 'error|Error' "$build/build.log" | head -n 10 | sed 's/^/    /'
			cp "$build/build.log" "$build/build-$(printf '%02d' $n).log"
		fi
	done
	# Each configuration must also have what its fragment asks for at the
	# last patch (the checks of make kernel and norust.sh).
	if [ "$cfg" != norust ]; then
		grep -qx 'CONFIG_BPF_EXCEPTIONS_RUST=y' "$build/.config" || { failed=$((failed + 1)); say "$cfg: no CONFIG_BPF_EXCEPTIONS_RUST at the last patch"; }
	else
		grep -qx 'CONFIG_BPF_JIT=y' "$build/.config" || { failed=$((failed + 1)); say "$cfg: no BPF JIT at the last patch"; }
	fi
done
echo "series bisect: $passed passed, $failed failed"
[ "$failed" = 0 ]
