#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Run a command inside the trixie build root, in a private mount namespace
# (nothing stays mounted when it exits). The repository and the cache
# directory appear at the same paths inside the root as outside.
#
# Usage: in-root.sh ROOTDIR CACHEDIR REPODIR COMMAND...
set -euo pipefail
root=$1 cache=$2 repo=$3
shift 3
exec unshare --mount --propagation private -- /bin/sh -euc '
root=$1 cache=$2 repo=$3
shift 3
mount -t proc proc "$root/proc"
mount --rbind /dev "$root/dev"
mount -t tmpfs tmpfs "$root/tmp"
# After /tmp, so that a repository or cache under /tmp stays visible.
for d in "$cache" "$repo"; do
	mkdir -p "$root$d"
	mount --bind "$d" "$root$d"
done
cd "$repo"
exec chroot "$root" /usr/bin/env -i HOME=/root TERM=dumb LANG=C.UTF-8 \
	PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
	CI="${CI:-}" /bin/sh -c "cd \"\$0\" && exec \"\$@\"" "$repo" "$@"
' in-root "$root" "$cache" "$repo" "$@"
