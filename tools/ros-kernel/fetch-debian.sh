#!/bin/sh
# Fetches Debian's cloud kernel for amd64, the ROS kernel `hvm run` boots
# by default on hosts with hardware virtualization (VMX or SVM). It
# downloads the versioned package that linux-image-cloud-amd64 depends on
# with `apt-get download` (nothing is installed), extracts /boot/vmlinuz-*
# with dpkg-deb, and caches it as $HVM_CACHE_DIR/debian-cloud/VERSION/
# vmlinuz (default ~/.cache/hvm), with debian-cloud/current pointing at it.
#
# Usage: tools/ros-kernel/fetch-debian.sh [--print-path]
# Needs: apt (with Debian's main archive in its sources), dpkg-deb, network
# access to the archive. Takes under a minute on a fast mirror.
set -eu

cache=${HVM_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/hvm}
meta=linux-image-cloud-amd64
print_path=0
case ${1:-} in
--print-path) print_path=1 ;;
'') ;;
*) echo "fetch-debian.sh: unknown option '$1'" >&2; exit 2 ;;
esac

say() { echo "debian-kernel: $*" >&2; }
fail() { say "$*"; exit 1; }

package=$(apt-cache depends "$meta" 2>/dev/null |
          awk '/Depends: linux-image-[0-9]/ { print $2; exit }')
[ -n "$package" ] ||
    fail "apt does not know $meta: run apt-get update (Debian main archive)"
version=${package#linux-image-}
out=$cache/debian-cloud/$version

if [ ! -f "$out/vmlinuz" ]; then
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    chmod 755 "$tmp" # apt-get download runs as the _apt user where it can
    say "downloading $package"
    (cd "$tmp" && apt-get download -q "$package" >&2) ||
        fail "apt-get download $package failed"
    dpkg-deb --fsys-tarfile "$tmp"/"$package"_*.deb |
        tar -x -C "$tmp" "./boot/vmlinuz-$version" ||
        fail "$package has no /boot/vmlinuz-$version"
    mkdir -p "$out"
    cp "$tmp/boot/vmlinuz-$version" "$out/vmlinuz"
    echo "$version" >"$out/release"
fi
ln -sfn "$version" "$cache/debian-cloud/current"
say "cached: $out/vmlinuz ($version)"
[ "$print_path" = 1 ] && echo "$out/vmlinuz"
exit 0
