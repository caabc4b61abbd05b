#!/bin/sh
# Disassembles HRT kernel images and fails if ring-0 code contains an
# instruction that KVM's instruction emulator rejects. Where KVM
# interprets guest ring 0 (kvm_pvm, for example), the instructions below
# stop the VM with an emulation failure, raise #UD, or livelock (vmcall,
# vmmcall):
#   cmpxchg16b, the XSAVE family and xgetbv, SSE/AVX/MMX instructions on
#   xmm/ymm/zmm/mm/k registers, ldmxcsr/stmxcsr, fwait, popcnt, crc32,
#   BMI1/BMI2/ADX, clwb, rdtscp, rdpid, movbe, lar/lsl/verr/verw,
#   stac/clac, monitor, invpcid, rdpkru/wrpkru, int3/int n/int1, vmcall,
#   vmmcall.
#
# usage: check-hrt-opcodes.sh [--exclude-section NAME]... IMAGE...
# Sections named with --exclude-section (default: .user_text, the code
# that only ever runs in ring 3) are skipped. Exit status: 0 if clean,
# 1 if a rejected instruction was found, 2 on a usage or tool error.
set -eu

objdump=${OBJDUMP:-objdump}
excluded=".user_text"
images=""

while [ $# -gt 0 ]; do
    case $1 in
    --exclude-section)
        if [ $# -lt 2 ]; then
            echo "$0: --exclude-section needs a name" >&2
            exit 2
        fi
        excluded="$excluded $2"
        shift 2
        ;;
    -h|--help)
        sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'
        exit 0
        ;;
    *)
        images="$images $1"
        shift
        ;;
    esac
done

if [ -z "$images" ]; then
    echo "usage: $0 [--exclude-section NAME]... IMAGE..." >&2
    exit 2
fi
if ! command -v "$objdump" >/dev/null 2>&1; then
    echo "$0: $objdump not found; install binutils" >&2
    exit 2
fi

# Mnemonics after prefixes are stripped; lar/lsl may carry a size suffix.
rejected_list='
    cmpxchg16b xsave[a-z0-9]* xrstor[a-z0-9]* xgetbv xsetbv ldmxcsr stmxcsr
    fwait wait popcnt[wlq]? crc32[bwlq]? andn bextr blsi blsr blsmsk bzhi
    pdep pext rorx sarx shlx shrx mulx adcx adox clwb rdtscp rdpid
    movbe[wlq]? lar[wlq]? lsl[wlq]? verr verw stac clac monitor monitorx
    invpcid rdpkru wrpkru int3 int int1 icebp vmcall vmmcall'
rejected=$(printf '%s' "$rejected_list" | tr -s ' \n' '  ' |
    sed 's/^ *//; s/ *$//; s/ /|/g')
rejected="^($rejected)\$"
prefixes='lock|rep|repz|repe|repnz|repne|data16|data32|addr32'
prefixes="^($prefixes|cs|ds|es|fs|gs|ss|notrack|bnd|rex([.][wrxb]+)?)\$"
simd_register='%([xyz]?mm[0-9]+|k[0-7])'

status=0
for image in $images; do
    if [ ! -r "$image" ]; then
        echo "$0: cannot read $image" >&2
        exit 2
    fi
    report=$("$objdump" -d --no-show-raw-insn -M att "$image" | awk \
        -v excluded="$excluded" -v rejected="$rejected" \
        -v prefixes="$prefixes" -v simd="$simd_register" -v image="$image" '
        BEGIN {
            n = split(excluded, list, " ")
            for (i = 1; i <= n; i++)
                skip[list[i]] = 1
        }
        /^Disassembly of section / {
            section = $4; sub(/:$/, "", section); next
        }
        skip[section] { next }
        /^ *[0-9a-f]+:\t/ {
            line = $0; sub(/^ *[0-9a-f]+:\t/, "", line)
            count++
            n = split(line, word, /[ \t]+/)
            i = 1
            while (i <= n && word[i] ~ prefixes)
                i++
            if (word[i] ~ rejected || line ~ simd) {
                addr = $1; sub(/:$/, "", addr)
                printf "%s: %s 0x%s: %s\n", image, section, addr, line
                bad++
            }
        }
        END { printf "#summary %d %d\n", count, bad }')
    checked=$(printf '%s\n' "$report" |
        sed -n 's/^#summary \([0-9]*\) .*/\1/p')
    found=$(printf '%s\n' "$report" |
        sed -n 's/^#summary [0-9]* \([0-9]*\)$/\1/p')
    printf '%s\n' "$report" | grep -v '^#summary' || true
    if [ "${checked:-0}" -eq 0 ]; then
        echo "$image: no instructions found; is it an x86-64 ELF image?" >&2
        exit 2
    fi
    if [ -n "$found" ] && [ "$found" -gt 0 ]; then
        echo "$image: $found of $checked instructions are rejected in ring 0"
        status=1
    else
        echo "$image: $checked instructions checked, none rejected in ring 0"
    fi
done
exit $status
