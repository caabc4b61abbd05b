"""Run `hvm bench --quick --json FILE` and check the JSON it writes.

Checks completion, structure and internal consistency only, never a
timing: every figure comes with min <= median <= max, every row has
figures or reports why not, and the platform and machine are described.
Exits 77 (skipped) where /dev/kvm is missing.
"""
import json
import os
import subprocess
import sys
import tempfile

EXPECTED_ROWS = {
    "floor_cacheline_ring3", "hypercall_null_ring0", "hypercall_null_ring3",
    "hrt_boot", "hrt_reboot", "syscall_getppid", "syscall_pread64",
    "page_fault", "thread_create_join", "nbody_c", "loop_lua",
    "loop_python", "read_4k", "touch_memory",
    "syscall_getppid_vs_native_pread", "syscall_getppid_vs_floor",
}
ROW_FIELDS = {
    "key", "group", "label", "unit", "native_label", "native", "hybridized",
    "ratio", "wall_native_s", "wall_hybridized_s", "operations_per_run",
    "kvm_per_operation", "error",
}


def fail(message):
    print("bench-quick: " + message)
    sys.exit(1)


def check_stat(row, name):
    stat = row[name]
    if stat is None:
        return
    for field in ("min", "median", "max", "values"):
        if field not in stat:
            fail("%s.%s lacks %s" % (row["key"], name, field))
    if not stat["min"] <= stat["median"] <= stat["max"]:
        fail("%s.%s: min, median, max out of order: %r"
             % (row["key"], name, stat))
    if not stat["values"]:
        fail("%s.%s has no values" % (row["key"], name))


def check_row(row):
    missing = ROW_FIELDS - set(row)
    if missing:
        fail("row %s lacks %s" % (row.get("key"), sorted(missing)))
    for name in ("native", "hybridized", "ratio", "wall_native_s",
                 "wall_hybridized_s"):
        check_stat(row, name)
    if row["hybridized"] is None and not row["error"]:
        fail("row %s has no hybridized figures and no error" % row["key"])
    if row["native_label"] is not None and row["native"] is None \
            and not row["error"]:
        fail("row %s has no native figures and no error" % row["key"])


def check_report(report):
    for key in ("schema", "quick", "runs", "privilege", "platform", "machine",
                "results", "targets"):
        if key not in report:
            fail("the report lacks '%s'" % key)
    if report["schema"] != "hvm-bench/1":
        fail("unexpected schema %r" % report["schema"])
    if report["quick"] is not True:
        fail("quick is %r, expected true" % report["quick"])
    if report["privilege"] not in ("user", "kernel"):
        fail("unexpected privilege %r" % report["privilege"])
    if report["platform"].get("kind") not in ("VMX", "SVM", "PVM-nested",
                                              "unknown"):
        fail("unexpected platform kind %r" % report["platform"].get("kind"))
    for key in ("cpu_model", "cores", "memory_bytes", "kernel"):
        if key not in report["machine"]:
            fail("machine lacks '%s'" % key)
    keys = {row.get("key") for row in report["results"]}
    if keys != EXPECTED_ROWS:
        fail("rows differ: missing %s, unexpected %s"
             % (sorted(EXPECTED_ROWS - keys), sorted(keys - EXPECTED_ROWS)))
    for row in report["results"]:
        check_row(row)
    if len(report["targets"]) != 5:
        fail("expected 5 targets, found %d" % len(report["targets"]))
    for target in report["targets"]:
        if target["met"] is not None and \
                target["met"] != (target["measured"] <= target["limit"]):
            fail("target %s: met disagrees with measured and limit"
                 % target["row"])


def main():
    if len(sys.argv) != 2:
        fail("usage: bench_quick.py HVM")
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        print("SKIP: /dev/kvm is missing or not usable")
        return 77
    with tempfile.TemporaryDirectory() as scratch:
        path = os.path.join(scratch, "bench.json")
        run = subprocess.run([sys.argv[1], "bench", "--quick", "--json",
                              path], stdout=subprocess.PIPE,
                             universal_newlines=True, timeout=280)
        sys.stdout.write(run.stdout)
        if run.returncode != 0:
            fail("hvm bench exited with status %d" % run.returncode)
        if "--quick" not in run.stdout:
            fail("the table does not say that the run is quick")
        with open(path) as report_file:
            try:
                report = json.load(report_file)
            except json.JSONDecodeError as error:
                fail("malformed JSON: %s" % error)
    check_report(report)
    print("bench-quick: the JSON report is complete and consistent")
    return 0


if __name__ == "__main__":
    sys.exit(main())
