#!/usr/bin/env bash
# Creates the demo media directory the README's demo command serves (idempotent: files that
# exist are kept). With ffmpeg installed: a 10 s H.264/AAC test-pattern MP4 (faststart, so a
# browser can seek at once) and its WebVTT captions; otherwise generated files of the sizes a
# player would fetch, so Range requests can be tried with curl.
# usage: scripts/make_demo_media.sh DIR
set -euo pipefail
dir=${1:?usage: make_demo_media.sh DIR}
mkdir -p "$dir"

if command -v ffmpeg >/dev/null 2>&1; then
  if [ ! -s "$dir/testsrc.mp4" ]; then
    ffmpeg -loglevel error -y -f lavfi -i testsrc2=size=640x360:rate=25 \
      -f lavfi -i sine=frequency=440:sample_rate=44100 -t 10 \
      -c:v libx264 -pix_fmt yuv420p -g 25 -c:a aac -movflags +faststart \
      "$dir/testsrc.mp4.tmp.mp4"
    mv "$dir/testsrc.mp4.tmp.mp4" "$dir/testsrc.mp4"
  fi
  video='<video src="testsrc.mp4" controls width="640"></video>'
else
  echo "make_demo_media: ffmpeg is not installed; generating plain files instead" >&2
  video='<p>(ffmpeg was not installed when this directory was made: no video here)</p>'
fi
# A large file served through the cache's windows, and a small one mapped whole.
[ -s "$dir/random-64MiB.bin" ] || head -c $((64 << 20)) /dev/urandom > "$dir/random-64MiB.bin"
[ -s "$dir/random-64KiB.bin" ] || head -c $((64 << 10)) /dev/urandom > "$dir/random-64KiB.bin"
if [ ! -s "$dir/index.html" ]; then
  cat > "$dir/index.html" <<HTML
<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>vstream demo</title></head>
<body>
<h1>vstream demo</h1>
$video
<ul>
<li><a href="random-64MiB.bin">random-64MiB.bin</a> (try: curl -r 1000-1999 ...)</li>
<li><a href="random-64KiB.bin">random-64KiB.bin</a></li>
<li><a href="/ping">/ping</a></li>
</ul>
</body></html>
HTML
fi
