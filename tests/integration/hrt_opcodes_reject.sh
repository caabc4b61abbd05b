#!/bin/sh
# Checks that check-hrt-opcodes.sh rejects each forbidden instruction of
# hrt_bad_opcodes.S in .text and ignores the copy in .user_text.
# usage: hrt_opcodes_reject.sh CHECKER OBJECT
set -u
checker=${1:?checker}
object=${2:?object}

output=$("$checker" "$object")
status=$?
if [ "$status" -ne 1 ]; then
    echo "FAIL: exit status $status, expected 1"
    echo "$output"
    exit 1
fi
for insn in popcnt pxor cmpxchg16b xsave int3 'int +\$0x80' vmcall andn rdtscp; do
    if ! printf '%s\n' "$output" | grep -Eq "\.text 0x[0-9a-f]+: .*$insn"; then
        echo "FAIL: $insn was not reported"
        echo "$output"
        exit 1
    fi
done
if printf '%s\n' "$output" | grep -q '\.user_text'; then
    echo "FAIL: the excluded .user_text section was checked"
    echo "$output"
    exit 1
fi
echo "PASS: all 9 forbidden instructions reported"
