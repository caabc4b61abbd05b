#!/bin/bash
# Prepares this machine for hvm: installs the Debian packages it needs
# (only those missing), optionally builds the guest ROS kernel, and builds
# the project into build/. Safe to run again: each step is skipped when
# its result is already there.
#
# usage: tools/setup.sh [--ros-kernel] [--build-dir DIR]
#   --ros-kernel  also build or fetch the guest ROS kernel (cached)
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build_dir="$root/build"
ros_kernel=0

while [ $# -gt 0 ]; do
    case $1 in
    --ros-kernel) ros_kernel=1; shift ;;
    --build-dir) build_dir=$2; shift 2 ;;
    -h | --help) sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "setup: unknown option '$1' (see --help)" >&2; exit 2 ;;
    esac
done

step() { printf '\n==> %s\n' "$*"; }

# Build tools, libraries, the programs the tests compare, and what the
# guest ROS kernel and initramfs are built from.
packages=(
    gcc make binutils libc6-dev pkg-config meson ninja-build
    check libxxhash-dev xxhash python3 lua5.4 coreutils gzip
    busybox-static cpio gnuplot-nox
    linux-source-6.1 bc bison flex libelf-dev libssl-dev patch xz-utils
)

install_packages() {
    local missing=()
    for package in "${packages[@]}"; do
        if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null |
            grep -q "install ok installed"; then
            missing+=("$package")
        fi
    done
    if [ ${#missing[@]} -eq 0 ]; then
        step "Debian packages: all ${#packages[@]} installed"
        return
    fi
    step "Installing ${#missing[@]} Debian packages: ${missing[*]}"
    if [ "$(id -u)" -ne 0 ]; then
        echo "setup: installing packages needs root (run with sudo)" >&2
        exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q "${missing[@]}"
}

check_kvm() {
    if [ ! -e /dev/kvm ]; then
        echo "setup: warning: /dev/kvm is absent; hvm needs KVM to run" \
            "guests (tests that need it will be skipped)" >&2
    elif [ ! -r /dev/kvm ] || [ ! -w /dev/kvm ]; then
        echo "setup: warning: no read/write access to /dev/kvm" \
            "(add yourself to the kvm group or run as root)" >&2
    fi
}

build_project() {
    if [ ! -f "$build_dir/build.ninja" ]; then
        step "Configuring the build in $build_dir"
        meson setup "$build_dir" "$root"
    fi
    step "Building (ninja -C $build_dir)"
    ninja -C "$build_dir"
}

install_packages
check_kvm
# Where KVM interprets guest ring 0 (kvm_pvm) only the project's minimal
# kernel boots; elsewhere Debian's cloud kernel package is the ROS.
if [ $ros_kernel = 1 ]; then
    if [ -e /sys/module/kvm_pvm ]; then
        step "Guest ROS kernel: minimal build from linux-source-6.1" \
            "(once per machine, 2-6 minutes)"
        "$root/tools/ros-kernel/build.sh"
    else
        step "Guest ROS kernel: Debian's cloud kernel package"
        "$root/tools/ros-kernel/fetch-debian.sh"
    fi
fi
build_project
step "Set-up complete"
