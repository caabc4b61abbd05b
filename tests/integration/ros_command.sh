#!/bin/sh
# Integration test of `hvm run -- COMMAND` with one ROS vCPU and one HRT
# vCPU: the command's stdout, stderr and exit status come back, kernel
# messages stay out of stdout, and from inside the guest the HRT's CPU and
# memory are invisible (/proc/cpuinfo, /sys/devices/system/cpu,
# /proc/iomem). One boot runs all the checks.
#
# usage: ros_command.sh HVM
set -u
hvm=${1:?path of the hvm binary}
case_name='command'
. "$(dirname "$0")/ros_lib.sh"
ros_skip_unless_ready

# 128 MiB of ROS memory: the HRT's memory starts at 0x8000000.
script='echo ok
echo to-stderr >&2
grep -c ^processor /proc/cpuinfo
ls -d /sys/devices/system/cpu/cpu[0-9]* | tr "\n" " "; echo
cat /sys/devices/system/cpu/possible
grep "System RAM" /proc/iomem | tail -n 1 | cut -d" " -f1
exit 3'
ros_run --ros-cpus 1 --ros-mem 128M --hrt-cpus 1 --hrt-mem 64M -- \
    /bin/sh -c "$script"

expect_status 3
[ "$(wc -l <"$out")" -eq 5 ] || fail "stdout has $(wc -l <"$out") lines, expected 5"
expect_line 1 "ok"
expect_line 2 "1"
expect_line 3 "/sys/devices/system/cpu/cpu0 "
expect_line 4 "0"
expect_line 5 "00100000-07ffffff"
expect_stderr "to-stderr"
if grep -q "Linux version" "$out"; then
    fail "kernel messages reached stdout"
fi
echo "PASS: output, status, and a ROS view without the HRT"
