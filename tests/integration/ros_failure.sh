#!/bin/sh
# Integration test of `hvm run` failures: a guest that panics, a guest
# that does not finish in time, and kernel files that are not kernels. Each
# must end hvm with a non-zero status and a message that names the cause.
#
# usage: ros_failure.sh HVM
set -u
hvm=${1:?path of the hvm binary}
case_name=failure
. "$(dirname "$0")/ros_lib.sh"
ros_skip_unless_ready

# A missing /init makes the kernel panic ("No working init found").
ros_run --append "rdinit=/missing init=/missing" -- /bin/true
expect_status 125
expect_stderr "panicked"

# The boot alone takes longer than two seconds here and elsewhere.
ros_run --timeout 2 -- /bin/true
expect_status 124
expect_stderr "did not finish within 2 s"

# A truncated bzImage and a file that is no kernel at all.
printf 'HdrS' >"$ros_work/short"
ros_run --kernel "$ros_work/short" -- /bin/true
expect_status 125
expect_stderr "truncated"
head -c 4096 /dev/zero >"$ros_work/zeros"
ros_run --kernel "$ros_work/zeros" -- /bin/true
expect_status 125
expect_stderr "0xaa55"
echo "PASS: panic, timeout and invalid kernels are reported"
