#!/bin/sh
# Integration test of guest-ROS hybridization: in ONE boot of `hvm run`,
# each program runs plain and then under the guest's mvrun, and stdout,
# stderr and exit status must match: echo, ls -l /, sha256sum of a file,
# a program with 4 threads and a mutex, a program that dies of SIGSEGV,
# one that touches 64 MiB, vfork with exec in the child, exec, and two
# hybridized programs at once. hvmctl
# status, stats and reboot (rejected while a process is hybridized) are
# checked in the same boot, and `hvm run --hybrid` itself by a second,
# short boot.
#
# usage: guest_hybrid.sh HVM
set -u
hvm=${1:?path of the hvm binary}
case_name='guest-hybrid'
. "$(dirname "$0")/ros_lib.sh"
ros_skip_unless_ready

# Runs inside the guest (busybox sh). Each check prints one PASS or FAIL
# line; the files live in /root because / is listed by one of the checks.
script='
cd /root
busybox dd if=/dev/urandom of=/root/data bs=4096 count=64 2>/dev/null
compare() {
    name=$1; shift
    "$@" >/root/plain.out 2>/root/plain.err; plain=$?
    mvrun "$@" >/root/hybrid.out 2>/root/hybrid.err; hybrid=$?
    if [ "$plain" != "$hybrid" ]; then
        echo "FAIL $name: status $plain plain, $hybrid hybridized"
        busybox head -c 600 /root/hybrid.err
    elif ! busybox cmp -s /root/plain.out /root/hybrid.out; then
        echo "FAIL $name: stdout differs"
        busybox diff /root/plain.out /root/hybrid.out | busybox head -n 20
    elif ! busybox cmp -s /root/plain.err /root/hybrid.err; then
        echo "FAIL $name: stderr differs"
        busybox diff /root/plain.err /root/hybrid.err | busybox head -n 20
    else
        echo "PASS $name (status $plain)"
    fi
}
hvmctl status | busybox grep -q "^hybridized processes: 0$" &&
    echo "PASS hvmctl-idle" || echo "FAIL hvmctl-idle"
compare echo /bin/echo hello from the HRT
compare ls /bin/ls -l /
compare sha256 /usr/bin/sha256sum /root/data
compare threads /usr/bin/guest_threads
compare segfault /usr/bin/guest_segfault
compare vfork /usr/bin/guest_vfork_exec
compare exec /usr/bin/guest_exec
# Two at once, compared with plain runs; hvmctl looks while they run.
/usr/bin/guest_touch >/root/p1.out; s1=$?
/usr/bin/guest_threads >/root/p2.out; s2=$?
mvrun /usr/bin/guest_touch >/root/h1.out & pid1=$!
mvrun /usr/bin/guest_threads >/root/h2.out & pid2=$!
busybox sleep 2
hvmctl status >/root/status.out
hvmctl stats >/root/stats.out
hvmctl reboot >/root/reboot.out 2>&1; reboot_busy=$?
wait $pid1; h1=$?
wait $pid2; h2=$?
if [ "$s1" = "$h1" ] && busybox cmp -s /root/p1.out /root/h1.out; then
    echo "PASS touch (status $h1)"
else
    echo "FAIL touch: status $s1 plain, $h1 hybridized"
fi
if [ "$s1" = "$h1" ] && [ "$s2" = "$h2" ] &&
   busybox cmp -s /root/p1.out /root/h1.out &&
   busybox cmp -s /root/p2.out /root/h2.out; then
    echo "PASS two-at-once"
else
    echo "FAIL two-at-once: status $s1/$s2 plain, $h1/$h2 hybridized"
fi
busybox grep -q "^hybridized processes: [12]$" /root/status.out &&
    echo "PASS hvmctl-status" || { echo "FAIL hvmctl-status";
    busybox cat /root/status.out; }
busybox grep -q "calls" /root/stats.out && echo "PASS hvmctl-stats" ||
    echo "FAIL hvmctl-stats"
busybox cat /root/stats.out
[ "$reboot_busy" = 1 ] && echo "PASS hvmctl-reboot-busy" ||
    { echo "FAIL hvmctl-reboot-busy"; busybox cat /root/reboot.out; }
hvmctl reboot | busybox grep -q "boot count 1$" &&
    echo "PASS hvmctl-reboot" || echo "FAIL hvmctl-reboot"
compare echo-after-reboot /bin/echo after reboot
echo "bench plain: $(/usr/bin/guest_bench 200 | busybox tr "\n" " ")"
echo "bench hybrid: $(mvrun /usr/bin/guest_bench 200 | busybox tr "\n" " ")"
'
ros_run --ros-cpus 1 --ros-mem 192M --hrt-cpus 3 --hrt-mem 64M -- \
    /bin/sh -c "$script"
cat "$out"
expect_status 0
for check in hvmctl-idle echo ls sha256 threads segfault vfork exec touch \
             two-at-once \
             hvmctl-status hvmctl-stats hvmctl-reboot-busy hvmctl-reboot \
             echo-after-reboot; do
    grep -q "^PASS $check\( \|$\)" "$out" || fail "check $check did not pass"
done
grep -q "^PASS segfault (status 139)$" "$out" ||
    fail "the faulting program did not end with SIGSEGV (status 139)"

# The flag of `hvm run` itself.
ros_run --ros-cpus 1 --hrt-cpus 1 --hybrid -- /bin/echo hybrid
expect_status 0
[ "$(cat "$out")" = "hybrid" ] || fail "hvm run --hybrid printed '$(cat "$out")'"
echo "PASS: guest battery, hvmctl and hvm run --hybrid"
