#!/usr/bin/env bash
# Configures a Meson build directory with the given options, whether it exists or not.
# usage: scripts/setup_build.sh DIR [meson options...]   (CC/CXX from the environment)
set -euo pipefail
dir=$1
shift
if [ -f "$dir/meson-private/coredata.dat" ]; then
  meson setup --reconfigure "$dir" "$@" >/dev/null
else
  meson setup "$dir" "$@" >/dev/null
fi
