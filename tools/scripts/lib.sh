# SPDX-License-Identifier: GPL-2.0
#
# Shell functions shared by the scripts that build kernels (kernel.sh,
# stock.sh, debug.sh, norust.sh, arm64.sh).

# reconfigure TREE BUILD FRAGMENT: configure BUILD (allnoconfig plus
# FRAGMENT) from the fragment just written to FRAGMENT.new, when BUILD has no
# .config yet, the fragment changed or our Kconfig is newer than the
# .config; kunit.py's last_used_kunitconfig follows. False if the
# configuration failed. $repo is the repository.
reconfigure() {
	local tree=$1 build=$2 frag=$3
	if [ -f "$build/.config" ] && cmp -s "$frag.new" "$frag" &&
		[ ! "$repo/Kconfig" -nt "$build/.config" ]; then
		rm -f "$frag.new"
		return 0
	fi
	echo "configuring $build (allnoconfig + ${frag##*/})"
	mv "$frag.new" "$frag"
	configure "$tree" "$build" "$frag" || { rm -f "$frag"; return 1; }
	grep -E '^CONFIG_' "$frag" >"$build/last_used_kunitconfig"
}

# lock_build FILE: hold an exclusive lock on FILE.lock until the calling
# script exits. make check runs two lanes at once (tools/scripts/check.sh),
# and both may ask for the same kernel (stock) or test_progs: the second
# waits, then finds it built.
lock_build() {
	mkdir -p "$(dirname "$1")"
	exec 9>>"$1.lock"
	flock 9
}

# build_kernel TREE BUILD [MAKE ARGS...]: make all with LLVM=1 from TREE
# into BUILD, logged to BUILD/build.log; on failure, the log's tail on
# stderr and false.
build_kernel() {
	local tree=$1 build=$2
	shift 2
	make -s -C "$tree" O="$build" LLVM=1 -j"$(nproc)" all "$@" >"$build/build.log" 2>&1 && return 0
	tail -n 40 "$build/build.log" >&2
	return 1
}

# configure TREE BUILD FRAGMENT: allnoconfig plus FRAGMENT, then check that
# every option of FRAGMENT made it into .config.
configure() {
	local tree=$1 build=$2 fragment=$3 missing
	make -s -C "$tree" O="$build" LLVM=1 KCONFIG_ALLCONFIG="$fragment" allnoconfig >/dev/null
	missing=$(grep -E '^CONFIG_' "$fragment" | while IFS= read -r line; do
		sym=${line%%=*} val=${line#*=}
		if [ "$val" = n ]; then
			grep -qx "$sym=[ym]" "$build/.config" && echo "$line"
		else
			grep -qx "$line" "$build/.config" || echo "$line"
		fi
	done || true)
	if [ -n "$missing" ]; then
		echo "error: these options did not make it into $build/.config" \
			"(missing dependency or tool?): $missing" >&2
		return 1
	fi
}

# unpack TREE BUILD: make TREE a copy of Debian's linux-source-6.12, keyed by
# the package version. A tree of another version is removed with its BUILD
# directory; an unpack that did not finish never becomes TREE.
unpack() {
	local tree=$1 build=$2 tarball=/usr/src/linux-source-6.12.tar.xz pkgver
	if [ ! -f "$tarball" ]; then
		echo "error: $tarball is missing: is linux-source-6.12 installed in the build root?" >&2
		return 1
	fi
	pkgver=$(dpkg-query -W -f='${Version}' linux-source-6.12)
	if [ -d "$tree" ] && [ "$(cat "$tree/.bpfexc-version" 2>/dev/null)" != "$pkgver" ]; then
		echo "linux-source-6.12 is now $pkgver: unpacking it afresh"
		rm -rf "$tree" "$build"
	fi
	[ -d "$tree" ] && return 0
	echo "unpacking linux-source-6.12 $pkgver into $tree"
	mkdir -p "$(dirname "$tree")"
	rm -rf "$tree.tmp"
	mkdir "$tree.tmp"
	tar -C "$tree.tmp" --strip-components=1 -xf "$tarball" || return 1
	echo "$pkgver" >"$tree.tmp/.bpfexc-version"
	mv "$tree.tmp" "$tree"
}

# norust_fragment: our fragment without Rust and what needs it (the
# no-Rust kernel of norust.sh and series-bisect.sh). $repo is the
# repository.
norust_fragment() {
	grep -v -e '^CONFIG_RUST=' -e '^CONFIG_BPF_EXCEPTIONS_RUST' -e '^CONFIG_KUNIT' \
		"$repo/tools/config/bpf_exceptions.config"
	echo "CONFIG_RUST=n"
	echo "CONFIG_BPF_EXCEPTIONS_RUST=n"
	echo "CONFIG_BPF_JIT_RUST=n"
}

# arm64_fragment: our fragment for arm64 (arm64.sh, series-bisect.sh).
arm64_fragment() {
	# arm64 in 6.12 has no fprobe (HAVE_FUNCTION_GRAPH_FREGS).
	grep -v -e '^CONFIG_X86' -e '^CONFIG_UNWINDER_ORC' -e '^CONFIG_SERIAL_8250' \
		-e '^CONFIG_FPROBE' \
		"$repo/tools/config/bpf_exceptions.config"
	cat "$repo/tools/config/arm64.config"
}
