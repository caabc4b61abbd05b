#!/bin/sh
# Integration tests of `hvm hrt-test` on real KVM: the HRT self-tests on
# 1 and 2 CPUs, reboot loops driven by the VMM and by the HRT, a kernel
# that faults at boot, a kernel that hangs, and malformed images.
#
# usage: hrt_selftest.sh CASE HVM [IMAGE]
#   CASE: one-cpu | two-cpus | reboot | guest-reboot | fault IMAGE |
#         hang IMAGE | bad-image IMAGE
# Exits 77 (skipped) only where /dev/kvm is absent.
set -u

case_name=${1:?case}
hvm=${2:?path of the hvm binary}
image=${3:-}

if [ ! -e /dev/kvm ]; then
    echo "SKIP: /dev/kvm is absent, so no VM can run here"
    exit 77
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
out="$work/stdout"
err="$work/stderr"

fail() {
    echo "FAIL ($case_name): $*"
    echo "--- stdout"; cat "$out"
    echo "--- stderr"; cat "$err"
    exit 1
}

# Runs hvm hrt-test with the given options; sets $status.
run() {
    "$hvm" hrt-test "$@" >"$out" 2>"$err"
    status=$?
}

expect_status_zero() {
    [ "$status" -eq 0 ] || fail "exit status $status, expected 0"
}

expect_status_nonzero() {
    [ "$status" -ne 0 ] || fail "exit status 0, expected a failure"
}

# Expects one PASS line per boot for a test on a CPU, or a PASS or SKIP
# line with skip-ok: expect_test CPU TEST BOOTS [skip-ok]
expect_test() {
    cpu=$1 test=$2 boots=$3 allowed="PASS"
    [ "${4:-}" = skip-ok ] && allowed="(PASS|SKIP)"
    n=$(grep -Ec "^$allowed  cpu$cpu +$test " "$out")
    [ "$n" -eq "$boots" ] ||
        fail "cpu$cpu $test: $n passing lines, expected $boots"
}

expect_all_tests() {
    cpus=$1 boots=$2
    cpu=0
    while [ "$cpu" -lt "$cpus" ]; do
        for test in exceptions heap timer threads ring3; do
            expect_test "$cpu" "$test" "$boots"
        done
        if [ "$cpus" -eq 1 ]; then
            expect_test "$cpu" ipi "$boots" skip-ok
        else
            expect_test "$cpu" ipi "$boots"
        fi
        cpu=$((cpu + 1))
    done
    ! grep -q '^FAIL' "$out" || fail "a self-test failed"
    grep -q "syscall landed in ring [03]" "$out" ||
        fail "the ring-3 test did not report where syscall landed"
    ms='[0-9]+[.][0-9] ms'
    line="^boot time: VMM start -> boot-complete $ms"
    line="$line, HRT entry -> boot-complete $ms\$"
    grep -Eq "$line" "$out" ||
        fail "no boot time line"
}

case $case_name in
one-cpu)
    run --hrt-cpus 1
    expect_status_zero
    expect_all_tests 1 1
    ;;
two-cpus)
    run --hrt-cpus 2
    expect_status_zero
    expect_all_tests 2 1
    grep -q "PASS  cpu0  ipi         sent to cpu1, received from cpu1" "$out" ||
        fail "cpu0 did not exchange IPIs with cpu1"
    ;;
reboot)
    run --hrt-cpus 2 --reboot 3
    expect_status_zero
    expect_all_tests 2 4
    for n in 1 2 3; do
        grep -Eq "^reboot $n time: request -> boot-complete [0-9.]+ ms" \
            "$out" ||
            fail "no time line for reboot $n"
    done
    ;;
guest-reboot)
    run --hrt-cpus 2 --reboot 2 --guest-reboot
    expect_status_zero
    expect_all_tests 2 3
    for n in 1 2; do
        grep -Eq "^reboot $n time: request -> boot-complete [0-9.]+ ms" \
            "$out" ||
            fail "no time line for reboot $n"
    done
    ;;
fault)
    run --hrt-image "$image" --timeout 30
    expect_status_nonzero
    report="HRT panic on cpu0: vector 14 (#PF page fault), error code 0x0"
    report="$report, RIP 0xffffffff8020[0-9a-f]*, CR2 0xffffffff7fe00000"
    report="$report, RSP 0xffffffff8[0-9a-f]*: unexpected exception in ring 0"
    grep -q "$report" "$err" || fail "no page-fault panic report"
    ;;
hang)
    run --hrt-image "$image" --timeout 2
    expect_status_nonzero
    grep -q "timed out after 2 s waiting for boot-complete of boot 0" "$err" ||
        fail "no timeout message"
    ;;
bad-image)
    head -c 8000 "$image" >"$work/truncated.elf"
    run --hrt-image "$work/truncated.elf"
    expect_status_nonzero
    grep -q "invalid HRT image.*lies outside the 8000-byte file" "$err" ||
        fail "truncated image: no clear error"
    echo "this is not an ELF file" >"$work/text.elf"
    run --hrt-image "$work/text.elf"
    expect_status_nonzero
    grep -q "invalid HRT image" "$err" || fail "text file: no clear error"
    run --hrt-image "$work/missing.elf"
    expect_status_nonzero
    grep -q "missing.elf: open failed" "$err" ||
        fail "missing file: no clear error"
    ;;
*)
    echo "unknown case '$case_name'" >&2
    exit 2
    ;;
esac
echo "PASS ($case_name)"
