#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# The whole change as one git format-patch series, for a kernel developer
# to git am onto a clean Linux 6.12.117 (Debian's linux-source-6.12):
# patches/series in order, where the crate patch (the one that sources
# kernel/bpf/exceptions/Kconfig) also gets what kernel.sh copies into the
# tree (kernel/bpf/exceptions/: Kbuild, Kconfig and the Rust crate;
# Documentation/bpf/exceptions-rust.rst), and a cover letter from
# tools/series/cover-letter.txt (first line: the subject). The patches
# before the crate give it what it needs from C, the ones after it call
# it, so that every patch builds (tools/scripts/series-bisect.sh checks).
#
#   series.sh CACHEDIR [OUTDIR]   writes the series (default: ./series)
#   series.sh CACHEDIR --check    make check: writes it to a scratch
#       directory, applies it with git am to a clean tree, checks that the
#       result is byte-identical to the tree kernel.sh built (every file
#       of the unpacked 6.12.117 that differs, and every new file) and
#       that checkpatch.pl --strict finds nothing in any patch.
#
# Runs on the host (it needs git); the clean tree comes from the build
# root's linux-source-6.12 tarball. Only the files the series touches go
# into the git repository, which is all git am reads.
set -euo pipefail

cache=$1 arg=${2:-}
repo=$(pwd)
root=$(ls -d "$cache"/root-* 2>/dev/null | head -n 1)
tarball=$root/usr/src/linux-source-6.12.tar.xz
tree=$cache/src/linux-source-6.12
work=$cache/series
pristine=$work/pristine

. "$(dirname "$0")/lib.sh"

say() { echo "series: $*"; }
die() { echo "series: error: $*" >&2; exit 1; }

[ -f "$tarball" ] || die "no $tarball: run make kernel first"
[ -f "$tree/.bpfexc-applied/series" ] || die "no patched tree in $tree: run make kernel first"
command -v git >/dev/null || die "git is needed"

# The clean 6.12.117, once per tarball.
stamp=$(stat -c '%s %Y' "$tarball")
if [ "$(cat "$pristine/.bpfexc-tarball" 2>/dev/null)" != "$stamp" ]; then
	say "unpacking a clean linux-source-6.12 into $pristine"
	rm -rf "$pristine"
	mkdir -p "$pristine"
	tar -C "$pristine" --strip-components=1 -xf "$tarball"
	echo "$stamp" >"$pristine/.bpfexc-tarball"
fi

# Author, committer and dates fixed by the repository's HEAD, so that the
# same commit gives the same series, byte for byte.
date=$(git -C "$repo" log -1 --format=%cD 2>/dev/null || echo 'Tue, 1 Dec 2026 00:00:00 +0000')
export GIT_AUTHOR_NAME="BPF Exceptions in Rust" GIT_AUTHOR_EMAIL="bpf-exceptions-rust@example.org"
export GIT_COMMITTER_NAME=$GIT_AUTHOR_NAME GIT_COMMITTER_EMAIL=$GIT_AUTHOR_EMAIL
export GIT_AUTHOR_DATE=$date GIT_COMMITTER_DATE=$date
export GIT_CONFIG_NOSYSTEM=1 HOME=$work

# The files a list of patches touches, one per line.
touched() { sed -n 's|^+++ b/||p; s|^--- a/||p' "$@" | sort -u; }

# new_repo DIR FILE...: a git repository holding the clean version of
# FILE... (those that exist in 6.12.117), committed as the base.
new_repo() {
	local dir=$1 f
	shift
	rm -rf "$dir"
	mkdir -p "$dir"
	git -C "$dir" init -q
	for f in "$@"; do
		[ -e "$pristine/$f" ] || continue
		mkdir -p "$dir/$(dirname "$f")"
		cp -p "$pristine/$f" "$dir/$f"
	done
	git -C "$dir" add -A
	git -C "$dir" commit -q -m "Linux 6.12.117 (the files this series touches)"
}

# The crate patch's files, as kernel.sh lays them out in the tree.
crate_files() {
	echo kernel/bpf/exceptions/Kbuild
	echo kernel/bpf/exceptions/Kconfig
	(cd "$repo/rust" && ls *.rs) | grep -vx host.rs | sed 's|^|kernel/bpf/exceptions/rust/|'
	echo Documentation/bpf/exceptions-rust.rst
}
copy_crate() {
	local dir=$1
	mkdir -p "$dir/kernel/bpf/exceptions/rust" "$dir/Documentation/bpf"
	cp "$repo/Kbuild" "$repo/Kconfig" "$dir/kernel/bpf/exceptions/"
	(cd "$repo/rust" && ls *.rs) | grep -vx host.rs |
		while read -r f; do cp "$repo/rust/$f" "$dir/kernel/bpf/exceptions/rust/"; done
	cp "$repo/Documentation/bpf/exceptions-rust.rst" "$dir/Documentation/bpf/"
}

# write_series OUTDIR: builds the series in a scratch repository.
write_series() {
	local out=$1 r=$work/build p n subject
	mapfile -t patches < <(sed "s|^|$repo/patches/|" "$repo/patches/series")
	mapfile -t files < <({ touched "${patches[@]}"; crate_files; } | sort -u)
	new_repo "$r" "${files[@]}"
	base=$(git -C "$r" rev-parse HEAD)
	crate=0
	for p in "${patches[@]}"; do
		git -C "$r" am -q --committer-date-is-author-date "$p" ||
			die "patches/series does not apply with git am to a clean 6.12.117: $(basename "$p")"
		grep -qxF '+source "kernel/bpf/exceptions/Kconfig"' "$p" || continue
		# The crate patch: the crate comes with it.
		copy_crate "$r"
		git -C "$r" add -A
		git -C "$r" commit -q --amend --no-edit
		crate=$((crate + 1))
	done
	[ "$crate" = 1 ] || die "$crate patches source kernel/bpf/exceptions/Kconfig, not one"
	rm -rf "$out"
	mkdir -p "$out"
	n=$(git -C "$r" rev-list --count "$base..HEAD")
	git -C "$r" format-patch -q --cover-letter --no-signature -o "$out" "$base..HEAD"
	subject=$(head -n 1 "$repo/tools/series/cover-letter.txt")
	python3 - "$out/0000-cover-letter.patch" "$repo/tools/series/cover-letter.txt" "$subject" <<-'PY'
	import sys
	path, blurb_file, subject = sys.argv[1:]
	s = open(path).read()
	blurb = open(blurb_file).read().split("\n", 1)[1].rstrip("\n")
	s = s.replace("*** SUBJECT HERE ***", subject).replace("*** BLURB HERE ***", blurb)
	open(path, "w").write(s)
	PY
	say "wrote $((n + 1)) files to $out: a cover letter and $n patches"
}

if [ "$arg" != --check ]; then
	write_series "${arg:-$repo/series}"
	exit 0
fi

passed=0 failed=0
ok() { passed=$((passed + 1)); }
fail() { failed=$((failed + 1)); echo "  FAIL $*"; }
out=$work/out
write_series "$out" >/dev/null
mapfile -t mails < <(ls "$out"/*.patch | grep -v 0000-cover-letter)
say "${#mails[@]} patches and a cover letter"

# git am onto a clean tree (the files the series touches).
r=$work/am
mapfile -t files < <(touched "${mails[@]}")
new_repo "$r" "${files[@]}"
if git -C "$r" am -q "${mails[@]}" >"$work/am.log" 2>&1; then
	ok
else
	fail "the series does not apply with git am to a clean 6.12.117: $(head -c 300 "$work/am.log")"
fi

# Byte-identical to the tree that kernel.sh built: every file the series
# gives, and no other file of that tree differs from the clean one.
same=1
for f in "${files[@]}"; do
	if [ -e "$r/$f" ] || [ -e "$tree/$f" ]; then
		cmp -s "$r/$f" "$tree/$f" || { same=0; echo "  differs from the built tree: $f"; }
	fi
done
# (kunit.py leaves its __pycache__ in the tree it runs from.)
others=$({ diff -rqN -x .bpfexc-applied -x .bpfexc-version -x .bpfexc-tarball -x __pycache__ \
	"$pristine" "$tree" || true; } |
	sed -n 's|^Files '"$pristine"'/\(.*\) and .* differ$|\1|p' | sort -u)
# The test suites build in tools/testing/selftests of the tree (test
# modules, generated headers, our bpf-exc copy for test_progs): files that
# 6.12.117 does not have there are their outputs, not sources.
outputs=0
for f in $others; do
	case " ${files[*]} " in
	*" $f "*) ;;
	*)
		if [[ $f == tools/testing/* ]] && [ ! -e "$pristine/$f" ]; then
			outputs=$((outputs + 1))
		else
			same=0
			echo "  changed in the built tree, not by the series: $f"
		fi
		;;
	esac
done
[ $outputs = 0 ] || say "left out $outputs files that the test suites built under tools/testing"
if [ $same = 1 ]; then ok; else fail "the tree from the series is not the built tree"; fi

# checkpatch.pl --strict on each patch, but for the types that
# tools/series/checkpatch.known lets through for it.
for m in "${mails[@]}"; do
	ignore=$(sed -e 's/#.*//' "$repo/tools/series/checkpatch.known" |
		while read -r pfx type; do
			[ -n "$type" ] || continue
			case $(basename "$m") in $pfx*) echo "$type" ;; esac
		done | paste -sd, -)
	res=$(perl "$tree/scripts/checkpatch.pl" --strict --no-tree ${ignore:+--ignore "$ignore"} "$m" 2>&1 |
		grep '^total:' || true)
	case $res in
	"total: 0 errors, 0 warnings, 0 checks,"*) ok ;;
	*) fail "checkpatch.pl --strict $(basename "$m"): $res" ;;
	esac
done
echo "series: $passed passed, $failed failed"
[ "$failed" = 0 ]
