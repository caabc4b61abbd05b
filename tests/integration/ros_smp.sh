#!/bin/sh
# Integration test of a guest ROS with two vCPUs beside an HRT with two:
# Linux brings up exactly its two processors, and the HRT's processors and
# memory are absent from its view.
#
# usage: ros_smp.sh HVM
set -u
hvm=${1:?path of the hvm binary}
case_name=smp
. "$(dirname "$0")/ros_lib.sh"
ros_skip_unless_ready

script='grep -c ^processor /proc/cpuinfo
ls -d /sys/devices/system/cpu/cpu[0-9]* | tr "\n" " "; echo
cat /sys/devices/system/cpu/possible
nproc
grep "System RAM" /proc/iomem | tail -n 1 | cut -d" " -f1'
ros_run --ros-cpus 2 --ros-mem 160M --hrt-cpus 2 --hrt-mem 64M -- \
    /bin/sh -c "$script"

expect_status 0
expect_line 1 "2"
expect_line 2 "/sys/devices/system/cpu/cpu0 /sys/devices/system/cpu/cpu1 "
expect_line 3 "0-1"
expect_line 4 "2"
expect_line 5 "00100000-09ffffff"
echo "PASS: two ROS processors, none of the HRT's"
