#!/bin/bash
# Runs every test: sets the machine up (packages, the guest ROS kernel,
# the build), then the unit and integration suites with meson.
#
# usage: tools/test.sh [meson test options]   e.g. tools/test.sh --suite unit
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
"$root/tools/setup.sh" --ros-kernel
printf '\n==> meson test -C build\n'
exec meson test -C "$root/build" --print-errorlogs "$@"
