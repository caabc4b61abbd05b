-- Arithmetic, string building and file I/O in Lua.
local function fib(n)
  if n < 2 then return n end
  return fib(n - 1) + fib(n - 2)
end

local squares = 0
for i = 1, 100000 do squares = squares + i * i end
print("fib(24) = " .. fib(24))
print("sum of squares = " .. squares)

local out = assert(io.open("lua-output.txt", "w"))
for i = 1, 500 do out:write(string.format("line %d %.3f\n", i, i / 7)) end
out:close()

local count = 0
for _ in io.lines("lua-output.txt") do count = count + 1 end
print("lines read back = " .. count)
io.stderr:write("lua writes to stderr too\n")
