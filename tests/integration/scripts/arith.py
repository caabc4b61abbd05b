"""Arithmetic, big integers and file I/O in Python."""
import hashlib

total = sum(i * i for i in range(200000))
print("sum of squares =", total)
print("2**200 =", 2 ** 200)
with open("py-output.txt", "w") as out:
    for i in range(1000):
        out.write(f"{i} {i / 3:.4f}\n")
with open("py-output.txt", "rb") as data:
    print("sha256 =", hashlib.sha256(data.read()).hexdigest())
print("done")
