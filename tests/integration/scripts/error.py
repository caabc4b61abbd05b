"""An uncaught exception: Python prints a traceback and exits with 1."""
print("before the exception", flush=True)
raise RuntimeError("raised on purpose")
