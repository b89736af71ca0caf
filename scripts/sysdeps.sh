#!/usr/bin/env bash
# System packages edge's simulator (and benchmarks) need: GStreamer's RTSP server under Debian's
# python3, plus python3-venv for `make`. Installs them when run as root; otherwise says the command.
set -euo pipefail
want_ffmpeg=${1:-}
pkgs="python3-venv python3-gi python3-gst-1.0 gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-bad chromium poppler-utils fonts-dejavu-core fonts-droid-fallback openssl"
probe="import gi; gi.require_version('Gst','1.0'); gi.require_version('GstRtspServer','1.0'); from gi.repository import Gst, GstRtspServer; Gst.init(None); assert all(Gst.ElementFactory.find(e) for e in ('multifilesrc','h264parse','rtph264pay'))"
missing=0
if ! [ -x /usr/bin/python3 ] || ! /usr/bin/python3 -c "$probe" >/dev/null 2>&1; then missing=1; fi
if ! python3 -c "import venv, ensurepip" >/dev/null 2>&1; then missing=1; fi
# The page's browser tests (chromium, driven by Playwright), the filing pack's PDF checks (pdftotext)
# and the test Time-Stamping Authority (`openssl ts -reply`, tests/tsa_fixture.py).
for cmd in chromium pdftotext openssl; do command -v "$cmd" >/dev/null 2>&1 || missing=1; done
[ -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || missing=1
if [ "$want_ffmpeg" = "--ffmpeg" ]; then
  pkgs="$pkgs ffmpeg"
  command -v ffmpeg >/dev/null 2>&1 || missing=1
fi
[ "$missing" = 0 ] && exit 0
if [ "$(id -u)" = 0 ]; then
  echo "Installing system packages: $pkgs" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # shellcheck disable=SC2086
  apt-get install -y -qq python3 $pkgs
  exit 0
fi
echo "edge needs system packages that are not installed. Run once:" >&2
echo "  sudo apt-get install -y $pkgs" >&2
exit 1
