-- The compute-bound Lua program: N iterations of integer and floating-point
-- arithmetic. Prints the processor seconds the loop took (os.clock, the
-- only sub-second clock of standard Lua), then the result on stderr.
local n = tonumber(arg[1])
if n == nil or n < 1 then
  io.stderr:write("usage: lua5.4 loop.lua ITERATIONS\n")
  os.exit(2)
end
local start = os.clock()
local sum, x = 0, 0.5
for i = 1, n do
  sum = (sum + i * 7) % 1000003
  x = x * 0.999999 + 0.000001
end
local elapsed = os.clock() - start
print(string.format("%.6f", elapsed))
io.stderr:write(string.format("sum %d x %.6f\n", sum, x))
