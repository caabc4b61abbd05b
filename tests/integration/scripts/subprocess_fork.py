"""Child processes from a hybridized Python: subprocess, a shell, fork."""
import os
import subprocess

print(subprocess.run(["echo", "from child"], capture_output=True,
                     text=True).stdout.strip())
print(subprocess.check_output("echo $((6 * 7))", shell=True).decode().strip())
pid = os.fork()
if pid == 0:
    os._exit(5)
print("fork child status", os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))
spawned = os.posix_spawn("/bin/true", ["true"], os.environ)
print("posix_spawn status", os.waitstatus_to_exitcode(os.waitpid(spawned, 0)[1]))
