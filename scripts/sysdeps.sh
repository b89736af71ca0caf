#!/usr/bin/env bash
# Debian packages edge needs, by set. Installs the missing ones when run as root (without
# recommends); otherwise prints the command to run.
#   runtime  what a box needs: venv for the install, fonts for the filing pack's PDF (Chinese too)
#   sim      the simulated cameras of `edge demo` / `edge simulate`: GStreamer's RTSP server under
#            Debian's python3
#   test     sim + what the test suite drives: Chromium (page tests), poppler (PDF text), SIPp
#            (sip-tester: the GB/T 28181 platform in tests/gb28181/), Prometheus and Alertmanager
#            (the alert rules are tested by the real engines: promtool, end to end), openssl (the
#            test Time-Stamping Authority, `openssl ts -reply`), ffmpeg (ffprobe: an independent
#            parser of the fMP4 files our own writer makes; the bench smoke test's baseline)
#   bench    test (ffmpeg is also the benchmarks' baseline)
# Usage: sysdeps.sh SET...   (default: runtime)
set -euo pipefail
sets=${*:-runtime}

runtime="python3 python3-venv fonts-dejavu-core fonts-droid-fallback"
sim="python3-gi python3-gst-1.0 gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-bad"
test="chromium poppler-utils sip-tester prometheus prometheus-alertmanager openssl ffmpeg"
bench=""

want=""
for s in $sets; do
  case "$s" in
    runtime) want="$want $runtime" ;;
    sim) want="$want $runtime $sim" ;;
    test) want="$want $runtime $sim $test" ;;
    bench) want="$want $runtime $sim $test $bench" ;;
    *) echo "sysdeps.sh: unknown set '$s' (runtime, sim, test, bench)" >&2; exit 2 ;;
  esac
done

missing=""
for p in $want; do
  # dpkg-query answers "install ok installed" only for a package that is fully installed.
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [ "$status" = "install ok installed" ] || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = 0 ]; then
  echo "Installing system packages:$missing" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get -o DPkg::Lock::Timeout=900 update -qq
  # shellcheck disable=SC2086
  apt-get -o DPkg::Lock::Timeout=900 install -y -qq --no-install-recommends $missing
  exit 0
fi
echo "edge needs system packages that are not installed. Run once:" >&2
echo "  sudo apt-get install -y --no-install-recommends$missing" >&2
exit 1
