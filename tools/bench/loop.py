"""The compute-bound Python program: N iterations of integer and
floating-point arithmetic. Prints the wall seconds the loop took
(time.perf_counter), then the result on stderr.

With BENCH_KVM_STATS=1 in a hybridized run, it also prints the change of
the KVM counters of its own VM and vCPUs over the loop, as the C programs
of tools/bench do ("kvm NAME DELTA" lines).
"""
import fcntl
import os
import struct
import sys
import time

KVM_GET_STATS_FD = 0xAECE  # _IO(KVMIO = 0xAE, 0xce), linux/kvm.h
KVM_STATS_TYPE_MASK = 0xF
KVM_STATS_TYPE_CUMULATIVE = 0
HEADER = struct.Struct("<6I")  # flags, name_size, num_desc, id/desc/data offsets
DESCRIPTOR = struct.Struct("<IhHII")  # flags, exponent, size, offset, bucket


def kvm_stats_fds():
    """Open a statistics fd for each KVM VM and vCPU fd of this process."""
    stats = []
    for name in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink("/proc/self/fd/" + name)
        except OSError:
            continue
        if target == "anon_inode:kvm-vm" or \
                target.startswith("anon_inode:kvm-vcpu:"):
            try:
                stats.append(fcntl.ioctl(int(name), KVM_GET_STATS_FD))
            except OSError:
                continue
    return stats


def kvm_counters(stats_fds):
    """Sum the cumulative single-value counters by name."""
    totals = {}
    for fd in stats_fds:
        _, name_size, count, _, desc_offset, data_offset = HEADER.unpack(
            os.pread(fd, HEADER.size, 0))
        stride = DESCRIPTOR.size + name_size
        table = os.pread(fd, stride * count, desc_offset)
        for i in range(count):
            flags, _, size, offset, _ = DESCRIPTOR.unpack_from(table,
                                                               i * stride)
            if flags & KVM_STATS_TYPE_MASK != KVM_STATS_TYPE_CUMULATIVE \
                    or size != 1:
                continue
            raw = table[i * stride + DESCRIPTOR.size:(i + 1) * stride]
            name = raw.split(b"\0", 1)[0].decode()
            value = struct.unpack("<Q", os.pread(fd, 8, data_offset + offset))
            totals[name] = totals.get(name, 0) + value[0]
    return totals


def main():
    if len(sys.argv) != 2 or not sys.argv[1].isdigit() or int(sys.argv[1]) < 1:
        sys.stderr.write("usage: python3 loop.py ITERATIONS\n")
        return 2
    count = int(sys.argv[1])
    stats_fds = []
    if os.environ.get("BENCH_KVM_STATS") == "1":
        stats_fds = kvm_stats_fds()
    before = kvm_counters(stats_fds)
    start = time.perf_counter()
    total, x = 0, 0.5
    for i in range(count):
        total = (total + i * 7) % 1000003
        x = x * 0.999999 + 0.000001
    elapsed = time.perf_counter() - start
    after = kvm_counters(stats_fds)
    print("%.6f" % elapsed)
    for name, value in after.items():
        if value != before.get(name, 0):
            print("kvm %s %d" % (name, value - before.get(name, 0)))
    sys.stderr.write("sum %d x %.6f\n" % (total, x))
    return 0


if __name__ == "__main__":
    sys.exit(main())
