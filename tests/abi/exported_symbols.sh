#!/usr/bin/env bash
# Fails if the shared library defines any exported symbol outside the C API (vs_*).
set -euo pipefail
lib=$1
bad=$(nm -D --defined-only "$lib" | awk '$2 != "A" {print $NF}' | grep -v '^vs_' || true)
if [ -n "$bad" ]; then
  echo "exported symbols outside vs_*:"
  echo "$bad"
  exit 1
fi
echo "ok: every exported symbol is vs_*"
