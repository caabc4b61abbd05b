#!/usr/bin/env python3
"""Writes a C table of x86-64 system-call names from <asm/unistd_64.h>."""
import re
import sys

header, output = sys.argv[1], sys.argv[2]
names = {}
with open(header, encoding="utf-8") as source:
    for line in source:
        match = re.match(r"#define __NR_(\w+)\s+(\d+)", line)
        if match:
            names[int(match.group(2))] = match.group(1)

with open(output, "w", encoding="utf-8") as out:
    out.write("/* Generated from %s by tools/gen_syscall_names.py. */\n" % header)
    out.write("static const char *const mv_syscall_names[] = {\n")
    for number in sorted(names):
        out.write('    [%d] = "%s",\n' % (number, names[number]))
    out.write("};\n")
