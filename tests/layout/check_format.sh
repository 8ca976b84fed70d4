#!/usr/bin/env bash
# Every C++ file of the project is as .clang-format (the house style, ../shared/STYLE.md A.5)
# would write it. C files (capi/vstream.h, the C tests and host) keep the C idiom of a pointer
# bound to its name, so they are not checked. Prints the offending files; exit 1 if any.
# Compares clang-format's output with the file rather than using --dry-run -Werror: clang-format
# 14's dry run flags every TEST_SUITE closing comment (NamespaceMacros) that -i leaves as it is.
# usage: tests/layout/check_format.sh SOURCE_ROOT
set -euo pipefail
root=${1:?usage: check_format.sh SOURCE_ROOT}
cd "$root"
# One clang-format per file, on every core (a few hundred files: serially, half a minute).
bad=$(find src include capi examples benchmarks tests \( -name '*.cpp' -o -name '*.hpp' \) \
        -print0 | sort -z |
      xargs -0 -r -n 16 -P "$(nproc)" sh -c \
        'for f; do clang-format "$f" | cmp -s - "$f" || echo "  $f"; done' sh)
if [ -n "$bad" ]; then
  echo "not formatted as .clang-format says (fix: clang-format -i FILE):"
  echo "$bad" | sort
  exit 1
fi
echo "all C++ files formatted"
