-- Draws the Mandelbrot set in text and counts the points inside it:
-- a compute-bound job whose output is easy to check by eye.
local width, height, max_iterations = 72, 28, 2000
local shades = " .:-=+*#%@"
local inside = 0

for row = 0, height - 1 do
  local y = (row / (height - 1)) * 2.4 - 1.2
  local line = {}
  for column = 0, width - 1 do
    local x = (column / (width - 1)) * 3.3 - 2.3
    local zx, zy, n = 0.0, 0.0, 0
    while n < max_iterations and zx * zx + zy * zy <= 4.0 do
      zx, zy = zx * zx - zy * zy + x, 2.0 * zx * zy + y
      n = n + 1
    end
    if n == max_iterations then
      inside = inside + 1
      line[#line + 1] = "@"
    else
      local shade = 1 + math.floor((#shades - 1) * math.log(n + 1) /
                                   math.log(max_iterations))
      line[#line + 1] = shades:sub(shade, shade)
    end
  end
  print(table.concat(line))
end
print(string.format("%d of %d points are inside the set (%d iterations)",
                    inside, width * height, max_iterations))
