# SPDX-License-Identifier: GPL-2.0
#
# Shell functions shared by kernel.sh and stock.sh.

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
