# shellcheck shell=sh disable=SC2154
# Shared helpers of the guest ROS integration tests (sourced, not run).
# The caller sets $hvm to the hvm binary and $case_name to its case.

# Exits 77 (skipped) with one line where no guest ROS can boot here.
ros_skip_unless_ready() {
    if [ ! -e /dev/kvm ]; then
        echo "SKIP: /dev/kvm is absent, so no VM can run here"
        exit 77
    fi
    cache=${HVM_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/hvm}
    if [ -d /sys/module/kvm_pvm ]; then
        kernel=$cache/ros-kernel/current/vmlinux
        setup=tools/ros-kernel/build.sh
    else
        kernel=$cache/debian-cloud/current/vmlinuz
        setup=tools/ros-kernel/fetch-debian.sh
    fi
    if [ ! -r "$kernel" ]; then
        echo "SKIP: the ROS kernel $kernel is not built (run $setup)"
        exit 77
    fi
    if [ ! -r "$(dirname "$hvm")/tools/initramfs/ros-initramfs.cpio" ]; then
        echo "SKIP: the ROS initramfs is not built (install busybox-static)"
        exit 77
    fi
}

ros_work=$(mktemp -d)
trap 'rm -rf "$ros_work"' EXIT
out=$ros_work/stdout
err=$ros_work/stderr

fail() {
    echo "FAIL ($case_name): $*"
    echo "--- stdout"; cat "$out"
    echo "--- stderr"; tail -n 40 "$err"
    exit 1
}

# Runs `hvm run` with the given arguments; sets $status.
ros_run() {
    "$hvm" run "$@" >"$out" 2>"$err" </dev/null
    status=$?
}

expect_status() {
    [ "$status" -eq "$1" ] || fail "exit status $status, expected $1"
}

# Checks that line number $1 of stdout is exactly $2.
expect_line() {
    line=$(sed -n "${1}p" "$out")
    [ "$line" = "$2" ] || fail "stdout line $1 is '$line', expected '$2'"
}

expect_stderr() {
    grep -q -- "$1" "$err" || fail "stderr does not contain '$1'"
}
