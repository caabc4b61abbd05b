-- An uncaught error: Lua prints a traceback and exits with status 1.
print("before the error")
local t = nil
print(t.field)
