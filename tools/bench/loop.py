"""The compute-bound Python program: N iterations of integer and
floating-point arithmetic. Prints the wall seconds the loop took
(time.perf_counter), then the result on stderr."""
import sys
import time


def main():
    if len(sys.argv) != 2 or not sys.argv[1].isdigit() or int(sys.argv[1]) < 1:
        sys.stderr.write("usage: python3 loop.py ITERATIONS\n")
        return 2
    count = int(sys.argv[1])
    start = time.perf_counter()
    total, x = 0, 0.5
    for i in range(count):
        total = (total + i * 7) % 1000003
        x = x * 0.999999 + 0.000001
    elapsed = time.perf_counter() - start
    print("%.6f" % elapsed)
    sys.stderr.write("sum %d x %.6f\n" % (total, x))
    return 0


if __name__ == "__main__":
    sys.exit(main())
