#!/usr/bin/env bash
# Builds and runs a C program against an installed vstream, the way a user would: installs
# BUILD_DIR into a scratch DESTDIR, compiles SOURCE_FILE with the flags pkg-config gives for
# the installed vstream.pc (C99, -Wall -Wextra -Werror -pedantic), runs it, cleans up.
# usage: tests/capi/pkgconfig/check_pkgconfig.sh BUILD_DIR SOURCE_FILE
#
# The install is staged (DESTDIR), so vstream.pc still says prefix=/usr/local (or whatever
# the build's prefix is). PKG_CONFIG_SYSROOT_DIR=DESTDIR is pkg-config's answer for a staged
# tree: it prefixes the -I and -L paths it prints with DESTDIR. (It does so for the
# Requires.private packages too, whose -I/usr/include becomes DESTDIR/usr/include, a directory
# that does not exist: harmless, the compiler searches /usr/include anyway.)
# --define-prefix would not do: pkgconf derives the prefix from where the .pc file lies,
# assuming PREFIX/lib/pkgconfig, but Debian's libdir is lib/x86_64-linux-gnu (tried: it gives
# -I$DESTDIR/usr/local/lib/include, and -I/usr/lib/include for the other packages).
set -euo pipefail
if [ $# -ne 2 ]; then
  echo "usage: $0 BUILD_DIR SOURCE_FILE" >&2
  exit 2
fi
build=$(cd "$1" && pwd)
source_file=$2
cc=${CC:-cc}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
destdir=$tmp/root

# meson install needs every installed target built (the libraries, vstream-serve);
# `meson test` builds everything before it runs the tests.
if ! meson install -C "$build" --destdir "$destdir" --no-rebuild --quiet >"$tmp/install.log" 2>&1; then
  echo "check_pkgconfig: FAIL: meson install -C $build --destdir ... failed (is the whole build built?):"
  cat "$tmp/install.log"
  exit 1
fi

pcfile=$(find "$destdir" -name vstream.pc -path '*/pkgconfig/*' | head -n 1)
if [ -z "$pcfile" ]; then
  echo "check_pkgconfig: FAIL: the install holds no pkgconfig/vstream.pc"
  exit 1
fi
prefix=$(sed -n 's/^prefix=//p' "$pcfile")
pcdir=$(dirname "$pcfile")
libdir=$(dirname "$pcdir")
echo "installed under $destdir$prefix; vstream.pc in ${pcdir#"$destdir"}"

# Only the staged vstream.pc and the system's own .pc files (for libuv, fmt, ...).
flags=$(PKG_CONFIG_PATH="$pcdir" PKG_CONFIG_SYSROOT_DIR="$destdir" pkg-config --cflags --libs vstream)
echo "pkg-config --cflags --libs vstream: $flags"
# shellcheck disable=SC2086  # the flags are words, as in a user's Makefile
if ! "$cc" -std=c99 -Wall -Wextra -Werror -pedantic -o "$tmp/consumer" "$source_file" $flags; then
  echo "check_pkgconfig: FAIL: $source_file does not build against the installed vstream"
  exit 1
fi

# The build tree's library must not be what runs: the consumer has no RPATH into it, and the
# loader finds the installed copy through LD_LIBRARY_PATH.
if ! LD_LIBRARY_PATH="$libdir" "$tmp/consumer"; then
  echo "check_pkgconfig: FAIL: the consumer built against the installed vstream failed"
  exit 1
fi
loaded=$(LD_LIBRARY_PATH="$libdir" ldd "$tmp/consumer" | awk '/libvstream/ {print $3}')
case "$loaded" in
  "$destdir"/*) echo "check_pkgconfig: ok: ran against $loaded" ;;
  *) echo "check_pkgconfig: FAIL: the consumer loaded '$loaded', not the installed library"; exit 1 ;;
esac
