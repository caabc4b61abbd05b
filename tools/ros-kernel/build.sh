#!/bin/sh
# Builds the minimal guest ROS kernel (an uncompressed vmlinux) from
# Debian's linux-source-6.1 package with tools/ros-kernel/config-6.1 and
# the patches beside it, once per machine. The result is cached under
# $HVM_CACHE_DIR/ros-kernel/KEY/ (default ~/.cache/hvm), where KEY hashes
# the source package version, the configuration and the patches, and
# $HVM_CACHE_DIR/ros-kernel/current points at the newest build.
#
# Usage: tools/ros-kernel/build.sh [-j JOBS] [--force] [--print-path]
# Needs: linux-source-6.1 bc bison flex libelf-dev libssl-dev gcc make.
# Takes 2-6 minutes on two cores. A second run with the same inputs only
# prints the cached path.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
cache=${HVM_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/hvm}
tarball=/usr/src/linux-source-6.1.tar.xz
jobs=$(nproc)
force=0
print_path=0

while [ $# -gt 0 ]; do
    case $1 in
    -j) jobs=$2; shift 2 ;;
    -j*) jobs=${1#-j}; shift ;;
    --force) force=1; shift ;;
    --print-path) print_path=1; shift ;;
    -h|--help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "build.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
    esac
done

say() { echo "ros-kernel: $*" >&2; }
fail() { say "$*"; exit 1; }

[ -r "$tarball" ] || fail "$tarball not found: apt-get install linux-source-6.1"
for tool in make gcc bc bison flex patch sha256sum; do
    command -v "$tool" >/dev/null ||
        fail "$tool not found: apt-get install bc bison flex libelf-dev libssl-dev build-essential"
done

pkg_version=$(dpkg-query -W -f='${Version}' linux-source-6.1 2>/dev/null ||
              echo unknown)
key=$({ echo "$pkg_version"; cat "$here/config-6.1" "$here"/*.patch; } |
      sha256sum | cut -c1-16)
out=$cache/ros-kernel/$key

if [ "$force" = 0 ] && [ -f "$out/vmlinux" ] && [ -f "$out/release" ]; then
    ln -sfn "$key" "$cache/ros-kernel/current"
    say "cached: $out/vmlinux ($(cat "$out/release"))"
    [ "$print_path" = 1 ] && echo "$out/vmlinux"
    exit 0
fi

work=$out/work
rm -rf "$work"
mkdir -p "$work"
say "building linux-source-6.1 $pkg_version in $work with $jobs jobs"
say "this takes 4-6 minutes on two cores; log: $work/build.log"

start=$(date +%s)
tar -C "$work" -xf "$tarball"
src=$work/linux-source-6.1
for p in "$here"/*.patch; do
    patch -s -d "$src" -p1 < "$p" || fail "patch $(basename "$p") does not apply"
done

# Reproducible identity strings instead of this host's name and clock.
export KBUILD_BUILD_TIMESTAMP="2024-01-01 00:00:00 UTC"
export KBUILD_BUILD_USER=hvm KBUILD_BUILD_HOST=hvm
build=$work/build
make -s -C "$src" O="$build" tinyconfig >"$work/build.log" 2>&1
"$src/scripts/kconfig/merge_config.sh" -m -O "$build" "$build/.config" \
    "$here/config-6.1" >>"$work/build.log" 2>&1
make -s -C "$src" O="$build" olddefconfig >>"$work/build.log" 2>&1

# Every option the fragment sets must survive olddefconfig; a dependency
# that is missing silently drops it otherwise.
grep -E '^CONFIG_' "$here/config-6.1" | while read -r line; do
    grep -qxF "$line" "$build/.config" ||
        fail "configuration lost '$line' (a dependency is missing)"
done
grep -E '^# CONFIG_.* is not set$' "$here/config-6.1" | while read -r line; do
    name=$(echo "$line" | cut -d' ' -f2)
    ! grep -q "^$name=" "$build/.config" ||
        fail "configuration enabled $name, which config-6.1 disables"
done

# One progress line every 20 seconds: objects compiled so far.
make -C "$src" O="$build" -j"$jobs" vmlinux >>"$work/build.log" 2>&1 &
make_pid=$!
while kill -0 "$make_pid" 2>/dev/null; do
    sleep 20
    kill -0 "$make_pid" 2>/dev/null || break
    objects=$(grep -c '^  CC ' "$work/build.log" || true)
    say "$(($(date +%s) - start)) s: $objects files compiled"
done
if ! wait "$make_pid"; then
    tail -n 30 "$work/build.log" >&2
    fail "make vmlinux failed; full log: $work/build.log"
fi

cp "$build/vmlinux" "$build/.config" "$build/System.map" "$out/"
make -s -C "$src" O="$build" kernelrelease > "$out/release"
mv "$work/build.log" "$out/build.log"
rm -rf "$work"
ln -sfn "$key" "$cache/ros-kernel/current"
say "built $out/vmlinux ($(cat "$out/release")) in $(($(date +%s) - start)) s"
[ "$print_path" = 1 ] && echo "$out/vmlinux"
exit 0
