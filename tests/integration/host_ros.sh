#!/bin/bash
# Host-ROS integration tests: each case runs a command natively and under
# `hvm exec` in two fresh folders with the same inputs, then compares
# stdout, stderr, exit status and the files the command wrote.
#
# usage: host_ros.sh BUILD_DIR SOURCE_DIR CASE
set -u

build=$1
source=$2
case_name=$3
hvm="$build/hvm"
programs="$build/tests/integration/programs"
scripts="$source/tests/integration/scripts"

if [ ! -e /dev/kvm ]; then
    echo "SKIP: /dev/kvm is absent"
    exit 77
fi

work=$(mktemp -d /tmp/hvm-test.XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir "$work/native" "$work/hybrid" "$work/inputs"
failures=0

fail() {
    echo "FAIL: $*"
    failures=$((failures + 1))
}

# Runs "$@" in folder $1 (native or hybrid), saving output and status.
run_in() {
    local mode=$1
    shift
    local dir="$work/$mode"
    cp -rp "$work/inputs/." "$dir/"
    if [ "$mode" = hybrid ]; then
        (cd "$dir" && "$hvm" exec -- "$@" >"$work/$mode.out" \
            2>"$work/$mode.err" <"${STDIN_FILE:-/dev/null}")
    else
        (cd "$dir" && "$@" >"$work/$mode.out" 2>"$work/$mode.err" \
            <"${STDIN_FILE:-/dev/null}")
    fi
    echo $? >"$work/$mode.status"
}

# Compares the two runs; FILTER (a sed script) normalizes both outputs.
compare() {
    local filter=${FILTER:-}
    for stream in out err; do
        if [ -n "$filter" ]; then
            sed -i "$filter" "$work/native.$stream" "$work/hybrid.$stream"
        fi
        if ! cmp -s "$work/native.$stream" "$work/hybrid.$stream"; then
            fail "std$stream differs"
            diff "$work/native.$stream" "$work/hybrid.$stream" | head -20
        fi
    done
    if ! cmp -s "$work/native.status" "$work/hybrid.status"; then
        fail "exit status: native $(cat "$work/native.status")," \
            "hybrid $(cat "$work/hybrid.status")"
    fi
    if ! diff -r "$work/native" "$work/hybrid" >/dev/null; then
        fail "files written differ"
        diff -r "$work/native" "$work/hybrid" | head -10
    fi
    echo "native status $(cat "$work/native.status"), hybrid status" \
        "$(cat "$work/hybrid.status"), $(wc -c <"$work/native.out") bytes" \
        "of stdout compared"
}

both() {
    run_in native "$@"
    run_in hybrid "$@"
    compare
}

expect_status() {
    local expected=$1
    local actual
    actual=$(cat "$work/hybrid.status")
    [ "$actual" = "$expected" ] || fail "expected status $expected, got $actual"
}

# Starts a program that blocks in read(), sends SIGTERM from this shell.
sigterm_in_read() {
    local mode=$1
    local pid
    local fifo="$work/$mode.fifo"
    mkfifo "$fifo"
    if [ "$mode" = hybrid ]; then
        "$hvm" exec -- "$programs/block_read" <"$fifo" >"$work/$mode.out" \
            2>"$work/$mode.err" &
    else
        "$programs/block_read" <"$fifo" >"$work/$mode.out" \
            2>"$work/$mode.err" &
    fi
    pid=$!
    exec 9>"$fifo" # keep the pipe open so that read() blocks
    for _ in $(seq 100); do
        grep -q ready "$work/$mode.out" 2>/dev/null && break
        sleep 0.1
    done
    sleep 0.2
    # The program prints its own pid: signal the program, not hvm.
    kill -TERM "$(awk '{print $2}' "$work/$mode.out")"
    wait "$pid"
    echo $? >"$work/$mode.status"
    exec 9>&-
    sed -i 's/ready [0-9]*/ready PID/' "$work/$mode.out"
}

case $case_name in
true) both true ;;
false) both false ;;
echo) both echo hello from the HRT ;;
ls)
    # /proc's link count is the number of processes, which changes.
    FILTER='s/^\(dr-xr-xr-x\) *[0-9]* \(.*proc\)$/\1 N \2/' both ls -l /
    ;;
sha256sum)
    head -c 50000000 /dev/zero | tr '\0' 'h' >"$work/inputs/data.bin"
    both sha256sum data.bin
    ;;
gzip)
    seq 1 300000 >"$work/inputs/numbers.txt"
    for mode in native hybrid; do
        dir="$work/$mode"
        cp -rp "$work/inputs/." "$dir/"
        if [ $mode = hybrid ]; then prefix=("$hvm" exec --); else prefix=(); fi
        (cd "$dir" && "${prefix[@]}" gzip -c numbers.txt >numbers.gz &&
            "${prefix[@]}" gunzip -c numbers.gz >numbers.out)
        echo $? >"$work/$mode.status"
        : >"$work/$mode.out"
        : >"$work/$mode.err"
    done
    cmp -s "$work/hybrid/numbers.out" "$work/inputs/numbers.txt" ||
        fail "round trip changed the data"
    compare
    ;;
sort)
    seq 1 1000000 | shuf --random-source=<(yes) >"$work/inputs/lines.txt"
    both sort -n lines.txt
    ;;
lua) both lua5.4 "$scripts/arith.lua" ;;
lua-error) both lua5.4 "$scripts/error.lua"; expect_status 1 ;;
python) both /usr/bin/python3 "$scripts/arith.py" ;;
python-subprocess) both /usr/bin/python3 "$scripts/subprocess_fork.py" ;;
vfork) both "$programs/vfork_exec" ;;
python-error) both /usr/bin/python3 "$scripts/error.py"; expect_status 1 ;;
threads) both "$programs/threads" ;;
segfault) both "$programs/segfault"; expect_status 139 ;;
thread-exit) both "$programs/thread_exit"; expect_status 7 ;;
sigterm)
    sigterm_in_read native
    sigterm_in_read hybrid
    compare
    expect_status 143
    ;;
memory) both "$programs/memory"; expect_status 0 ;;
protect-fault) both "$programs/protect_fault"; expect_status 139 ;;
privilege-user)
    run_in native echo ring three
    (cd "$work/hybrid" && "$hvm" exec --privilege user -- echo ring three \
        >"$work/hybrid.out" 2>"$work/hybrid.err")
    echo $? >"$work/hybrid.status"
    compare
    ;;
privilege-kernel)
    # Ring-0 code is interpreted where KVM lacks hardware support, and the
    # emulator rejects SSE: only code without it runs there, like `true`.
    run_in native true
    (cd "$work/hybrid" && "$hvm" exec --privilege kernel -- true \
        >"$work/hybrid.out" 2>"$work/hybrid.err")
    echo $? >"$work/hybrid.status"
    compare
    ;;
stats)
    "$hvm" exec --stats -- echo counted >"$work/out" 2>"$work/err"
    grep -q '^counted$' "$work/out" || fail "program output missing"
    grep -q 'system calls forwarded (.*write 1' "$work/err" ||
        fail "no forwarded write in the statistics"
    grep -q 'HRT code' "$work/err" || fail "no time split in the statistics"
    cat "$work/err"
    ;;
script-exec)
    # A script's interpreter execs the real program: both run in the HRT.
    printf '#!/bin/sh\nexec lua5.4 -e "print(6 * 7)"\n' >"$work/inputs/run.sh"
    chmod +x "$work/inputs/run.sh"
    both ./run.sh
    ;;
missing)
    "$hvm" exec -- /nonexistent/program 2>"$work/err"
    status=$?
    [ $status = 127 ] || fail "missing program: status $status, expected 127"
    grep -q /nonexistent/program "$work/err" || fail "message lacks the path"
    ;;
not-executable)
    echo 'data' >"$work/plain.txt"
    "$hvm" exec -- "$work/plain.txt" 2>"$work/err"
    status=$?
    [ $status = 126 ] || fail "non-executable: status $status, expected 126"
    grep -q plain.txt "$work/err" || fail "message lacks the path"
    ;;
static)
    "$hvm" exec -- "$programs/static_hello" 2>"$work/err"
    status=$?
    [ $status = 126 ] || fail "static program: status $status, expected 126"
    grep -q "statically linked" "$work/err" || fail "no clear message"
    ;;
*)
    echo "unknown case $case_name"
    exit 2
    ;;
esac

if [ $failures -gt 0 ]; then
    echo "$case_name: $failures check(s) failed"
    exit 1
fi
echo "$case_name: hybridized run matches the native run"
