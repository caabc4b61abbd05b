#!/bin/sh
# Integration test: five boots of the guest ROS in a row, each with an HRT
# beside it, must all run their command and return its status.
#
# usage: ros_repeat.sh HVM
set -u
hvm=${1:?path of the hvm binary}
case_name=repeat
. "$(dirname "$0")/ros_lib.sh"
ros_skip_unless_ready

for boot in 1 2 3 4 5; do
    ros_run -- /bin/sh -c "echo boot-$boot; exit $boot"
    expect_status "$boot"
    expect_line 1 "boot-$boot"
done
echo "PASS: five boots in a row"
