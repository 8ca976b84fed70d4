#!/usr/bin/env bash
# Fails unless the error table of docs/c-api.md lists exactly the error codes the C header
# defines (VS_OK and every VS_E*), each with the header's value: curl's test1119 idea, so the
# guide can never lag the contract. Prints a diff (header vs doc) when they differ.
# usage: check_error_table.sh capi/vstream.h docs/c-api.md
set -euo pipefail

if [ $# -ne 2 ]; then
  echo "usage: $0 HEADER DOC" >&2
  exit 2
fi
header=$1
doc=$2

# "#define VS_EINVAL (-22)   /* ... */" -> "VS_EINVAL -22"
codes_in_header() {
  sed -nE 's/^[[:space:]]*#[[:space:]]*define[[:space:]]+(VS_OK|VS_E[A-Z0-9_]*)[[:space:]]+\(?[[:space:]]*(-?[0-9]+)[[:space:]]*\)?([[:space:]].*)?$/\1 \2/p' "$1"
}

# The rows of the table whose header row is "| code | value | meaning |": "| `VS_EINVAL` |
# -22 | ... |" -> "VS_EINVAL -22". A row whose meaning cell is empty is printed as-is, so
# that it shows in the diff.
codes_in_doc() {
  awk '
    function trim(s) { gsub(/^[ \t`]+|[ \t`]+$/, "", s); return s }
    /^[ \t]*\|/ {
      n = split($0, cell, "|")
      if (!in_table) {
        if (n >= 5 && trim(cell[2]) == "code" && trim(cell[3]) == "value" &&
            trim(cell[4]) == "meaning") {
          in_table = 1; found = 1
        }
        next
      }
      name = trim(cell[2]); value = trim(cell[3]); meaning = trim(cell[4])
      if (name ~ /^:?-+:?$/) next                      # the |---|---|---| line
      gsub(/[() ]/, "", value)
      if (meaning == "") { print "(no meaning) " $0; next }
      print name " " value
      next
    }
    in_table { in_table = 0 }                          # the table ended
    END { if (!found) exit 3 }
  ' "$1"
}

header_codes=$(codes_in_header "$header" | sort)
if [ -z "$header_codes" ]; then
  echo "FAIL: no VS_OK / VS_E* definitions found in $header" >&2
  exit 1
fi
# Every such #define must have been read: a value that is not a plain integer is an error too.
defined=$(grep -cE '^[[:space:]]*#[[:space:]]*define[[:space:]]+(VS_OK|VS_E[A-Z0-9_]*)([[:space:]]|$)' "$header")
if [ "$defined" -ne "$(printf '%s\n' "$header_codes" | wc -l)" ]; then
  echo "FAIL: $header defines $defined VS_OK/VS_E* macros, but only these have an integer value:" >&2
  printf '%s\n' "$header_codes" >&2
  exit 1
fi

set +e
doc_codes=$(codes_in_doc "$doc")
status=$?
set -e
if [ "$status" -eq 3 ]; then
  echo "FAIL: $doc has no error table (a header row '| code | value | meaning |')" >&2
  exit 1
elif [ "$status" -ne 0 ]; then
  echo "FAIL: could not read $doc" >&2
  exit 1
fi
doc_codes=$(printf '%s\n' "$doc_codes" | sed '/^$/d' | sort)

if ! out=$(diff -u --label "$header (#define)" --label "$doc (error table)" \
             <(printf '%s\n' "$header_codes") <(printf '%s\n' "$doc_codes")); then
  echo "FAIL: the error table of $doc does not match the codes of $header"
  echo "('-' only in the header, '+' only in the doc; each line is NAME VALUE)"
  printf '%s\n' "$out"
  exit 1
fi
echo "ok: $doc lists the $(printf '%s\n' "$header_codes" | wc -l) error codes of $header"
