#!/usr/bin/env python3
"""Build the guest ROS initramfs: a reproducible, uncompressed newc cpio.

Contents: /init (the project's static init), busybox with a few links
(--all-applet-links for one per applet), device nodes for the consoles,
and any host programs named with
--host-program together with the shared libraries that ldd lists. Entries
are sorted, owned by root and dated SOURCE_DATE_EPOCH (default 0), so equal
inputs give byte-identical archives. The archive stays uncompressed because
a kernel whose ring 0 is interpreted takes over a minute to inflate one.
Prints the archive's XXH128 hash, computed by xxhsum.
"""

import argparse
import os
import re
import shutil
import stat
import subprocess
import sys

# (path, mode, device major, device minor): nodes the kernel and init need
# before devtmpfs is mounted over /dev.
DEVICE_NODES = [
    ("dev/console", stat.S_IFCHR | 0o600, 5, 1),
    ("dev/null", stat.S_IFCHR | 0o666, 1, 3),
    ("dev/ttyS0", stat.S_IFCHR | 0o660, 4, 64),
    ("dev/ttyS1", stat.S_IFCHR | 0o660, 4, 65),
]
# Links made by default. Each link costs the guest kernel about 40 ms to
# unpack where its ring 0 is interpreted (270 links took 10 s), and busybox's
# shell and /init run applets by name without links.
DEFAULT_APPLET_LINKS = ["bin/sh", "bin/ash", "usr/bin/env"]
DIRECTORIES = ["bin", "dev", "etc", "hvm", "lib", "lib64", "proc", "root",
               "sbin", "sys", "tmp", "usr", "usr/bin", "usr/lib",
               "usr/sbin"]


class Archive:
    """Collects entries by path, then writes them sorted as newc cpio."""

    def __init__(self, mtime):
        self.entries = {}
        self.mtime = mtime

    def add_dir(self, path):
        parts = path.strip("/").split("/")
        for i in range(1, len(parts) + 1):
            self.entries.setdefault("/".join(parts[:i]),
                                    (stat.S_IFDIR | 0o755, b"", 0, 0))

    def add_file(self, path, data, mode):
        path = path.strip("/")
        if "/" in path:
            self.add_dir(os.path.dirname(path))
        self.entries[path] = (stat.S_IFREG | mode, data, 0, 0)

    def add_symlink(self, path, target):
        path = path.strip("/")
        if "/" in path:
            self.add_dir(os.path.dirname(path))
        self.entries[path] = (stat.S_IFLNK | 0o777, target.encode(), 0, 0)

    def add_node(self, path, mode, major, minor):
        self.entries[path.strip("/")] = (mode, b"", major, minor)

    def write(self, out):
        inode = 1
        for path in sorted(self.entries):
            mode, data, major, minor = self.entries[path]
            self._entry(out, path, mode, data, inode, major, minor)
            inode += 1
        self._entry(out, "TRAILER!!!", 0, b"", 0, 0, 0)
        pad = (-out.tell()) % 512
        out.write(b"\0" * pad)

    def _entry(self, out, path, mode, data, inode, major, minor):
        name = path.encode() + b"\0"
        nlink = 2 if stat.S_ISDIR(mode) else 1
        fields = [inode, mode, 0, 0, nlink, self.mtime, len(data), 0, 0,
                  major, minor, len(name), 0]
        header = b"070701" + b"".join(b"%08X" % f for f in fields)
        out.write(header + name)
        out.write(b"\0" * ((-(len(header) + len(name))) % 4))
        out.write(data)
        out.write(b"\0" * ((-len(data)) % 4))


def read_file(path):
    with open(path, "rb") as f:
        return f.read()


def add_busybox(archive, busybox, all_links):
    data = read_file(busybox)
    if b"\x7fELF" != data[:4]:
        sys.exit(f"initramfs: {busybox} is not an ELF executable")
    archive.add_file("bin/busybox", data, 0o755)
    listing = subprocess.run([busybox, "--list-full"], check=True,
                             capture_output=True, text=True).stdout
    for applet in listing.split():
        if applet != "bin/busybox" and (all_links or
                                        applet in DEFAULT_APPLET_LINKS):
            depth = applet.count("/")
            archive.add_symlink(applet, "../" * depth + "bin/busybox")


def shared_libraries(program):
    """Returns the absolute paths ldd lists for program (empty if static)."""
    result = subprocess.run(["ldd", program], capture_output=True, text=True)
    if result.returncode != 0:
        return []
    paths = []
    for line in result.stdout.splitlines():
        match = re.search(r"(/\S+) \(0x", line)
        if match:
            paths.append(match.group(1))
    return paths


def add_host_program(archive, name):
    program = shutil.which(name) or name
    if not os.path.isfile(program):
        sys.exit(f"initramfs: host program {name} not found")
    for path in [program] + shared_libraries(program):
        archive.add_file(path, read_file(os.path.realpath(path)), 0o755)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", required=True, help="cpio file to write")
    parser.add_argument("--init", required=True,
                        help="static program installed as /init")
    parser.add_argument("--busybox", default="/bin/busybox",
                        help="static busybox (Debian busybox-static)")
    parser.add_argument("--all-applet-links", action="store_true",
                        help="link every busybox applet, not only "
                             + ", ".join(DEFAULT_APPLET_LINKS))
    parser.add_argument("--guest-tool", action="append", default=[],
                        help="program installed in /usr/bin (repeatable)")
    parser.add_argument("--host-program", action="append", default=[],
                        help="host program copied with its libraries "
                             "(repeatable)")
    args = parser.parse_args()

    mtime = int(os.environ.get("SOURCE_DATE_EPOCH", "0"))
    archive = Archive(mtime)
    for directory in DIRECTORIES:
        archive.add_dir(directory)
    for path, mode, major, minor in DEVICE_NODES:
        archive.add_node(path, mode, major, minor)
    archive.add_file("init", read_file(args.init), 0o755)
    if not os.path.exists(args.busybox):
        sys.exit(f"initramfs: {args.busybox} not found: "
                 "apt-get install busybox-static")
    add_busybox(archive, args.busybox, args.all_applet_links)
    for tool in args.guest_tool:
        archive.add_file("usr/bin/" + os.path.basename(tool),
                         read_file(tool), 0o755)
    for name in args.host_program:
        add_host_program(archive, name)

    temporary = args.output + ".tmp"
    with open(temporary, "wb") as out:
        archive.write(out)
    os.replace(temporary, args.output)
    digest = subprocess.run(["xxhsum", "-H2", args.output],
                            capture_output=True, text=True)
    if digest.returncode != 0:
        sys.exit("initramfs: xxhsum failed: apt-get install xxhash")
    size = os.path.getsize(args.output)
    print(f"initramfs: {args.output}: {size} bytes, "
          f"XXH128 {digest.stdout.split()[0]}")


if __name__ == "__main__":
    main()
