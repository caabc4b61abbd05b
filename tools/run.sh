#!/bin/bash
# The main job on its built-in default: sets the machine up, then runs an
# unmodified Lua interpreter hybridized (its code in the HRT, its system
# calls served by Linux) on a script that draws the Mandelbrot set, and
# prints the statistics line of the run.
#
# usage: tools/run.sh [hvm exec options]   e.g. tools/run.sh --hrt-cpus 2
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
"$root/tools/setup.sh"
printf '\n==> hvm exec --stats -- lua5.4 tools/demo/mandelbrot.lua\n'
exec "$root/build/hvm" exec --stats "$@" -- \
    lua5.4 "$root/tools/demo/mandelbrot.lua"
