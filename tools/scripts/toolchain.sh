#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Make (or reuse) the Debian trixie build root that holds the kernel
# toolchain: rustc 1.85 + rust-src, bindgen, clang/lld/llvm 19, pahole,
# QEMU, bpftool, libbpf and linux-source-6.12.
#
# The root lives in the cache directory, keyed by the package list (the
# Makefile names it root-<hash of trixie-packages.txt>), so a kept machine
# reuses it and a new machine builds it from nothing. Roots of older
# package lists are removed once the new one is complete.
#
# Usage: toolchain.sh ROOTDIR
set -euo pipefail

root=${1:?usage: toolchain.sh ROOTDIR}
here=$(cd "$(dirname "$0")" && pwd)
pkgs=$(grep -v -e '^#' -e '^extract ' "$here/trixie-packages.txt" | xargs)
# Packages of another architecture to unpack into /opt/<arch>.
extract=$(sed -n 's/^extract //p' "$here/trixie-packages.txt" | xargs)
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}

die() { echo "toolchain: $*" >&2; exit 1; }

if [ -f "$root/.complete" ]; then
	exit 0
fi

[ "$(id -u)" = 0 ] || die "building the trixie root needs root (debootstrap, chroot); run as root or provide $root"
command -v debootstrap >/dev/null 2>&1 || {
	echo "toolchain: installing debootstrap on the host"
	apt-get update -qq >/dev/null || die "apt-get update failed"
	apt-get install -y -qq debootstrap >/dev/null || die "cannot install debootstrap"
}
[ -e /usr/share/debootstrap/scripts/trixie ] || die "this debootstrap does not know trixie"

mkdir -p "$(dirname "$root")" || die "cannot create the cache directory $(dirname "$root")"
avail=$(df -Pk "$(dirname "$root")" | awk 'NR==2 {print $4}')
[ "${avail:-0}" -gt $((30 * 1024 * 1024)) ] || die "need 30 GiB free under $(dirname "$root") for the root and kernel builds"

rm -rf "$root.tmp"
mkdir -p "$root.tmp"
echo "toolchain: debootstrap trixie into $root (about a minute)"
debootstrap --variant=minbase trixie "$root.tmp" "$mirror" >"$root.tmp.log" 2>&1 ||
	die "debootstrap failed, see $root.tmp.log"

echo "deb $mirror trixie main" >"$root.tmp/etc/apt/sources.list"
for d in proc sys dev; do mkdir -p "$root.tmp/$d"; done
mount -t proc proc "$root.tmp/proc"
trap 'umount "$root.tmp/proc" 2>/dev/null || true' EXIT
echo "toolchain: installing $(echo "$pkgs" | wc -w) packages in the root (about a minute)"
chroot "$root.tmp" /usr/bin/env DEBIAN_FRONTEND=noninteractive sh -c \
	"dpkg --add-architecture arm64 && apt-get update -qq &&
	 apt-get install -y -qq --no-install-recommends $pkgs" \
	>>"$root.tmp.log" 2>&1 || die "apt-get install in the root failed, see $root.tmp.log"
for p in $extract; do
	arch=${p##*:}
	mkdir -p "$root.tmp/opt/$arch/debs"
	chroot "$root.tmp" sh -c "cd /opt/$arch/debs && apt-get download -qq $p &&
		for d in *.deb; do dpkg-deb -x \$d /opt/$arch; done" \
		>>"$root.tmp.log" 2>&1 || die "cannot unpack $p in the root, see $root.tmp.log"
done
umount "$root.tmp/proc"
trap - EXIT

touch "$root.tmp/.complete"
mv "$root.tmp" "$root"
rm -f "$root.tmp.log"
# Roots made from an older package list are of no further use.
for old in "$(dirname "$root")"/root-*; do
	case $old in
	"$root" | *.tmp | *.tmp.log) ;;
	*) [ -f "$old/.complete" ] && rm -rf "$old" ;;
	esac
done
echo "toolchain: ready at $root"
