#!/usr/bin/env bash
# The box install, as a site would do it: build the wheel, install it into a fresh venv outside the
# checkout (never editable), and run the installed `edge`: --help, check on the example config, and a
# short recording of a simulated camera that `edge verify` passes. Run by `make test` (so by CI).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
python=${PYTHON:-python3}
work=$(mktemp -d /tmp/edge-wheel.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "wheel check FAILED: $*" >&2; exit 1; }

echo "== wheel check: build"
# From a copy of the sources, so the build leaves nothing (build/, *.egg-info) in the checkout.
mkdir "$work/src"
(cd "$here" && tar --exclude=./.venv --exclude=./.git --exclude=./build --exclude='*.egg-info' \
   --exclude=./demo-data --exclude=./test-artifacts -cf - .) | tar -xf - -C "$work/src"
"$python" -m pip wheel --no-deps -q -w "$work/dist" "$work/src" >"$work/build.log" 2>&1 || { cat "$work/build.log"; fail "build"; }
# A package left out of the wheel or a setuptools deprecation shows up as a warning here first.
if grep -iE "warning|deprecat" "$work/build.log" | grep -viE "location .* is ignored|pip version" ; then
  fail "the wheel build printed warnings (above)"
fi
wheel=$(ls "$work"/dist/edge-*.whl)
"$python" - "$wheel" <<'PY' || fail "the wheel misses files"
import sys, zipfile
names = set(zipfile.ZipFile(sys.argv[1]).namelist())
need = ["edge/cli/main.py", "edge/cli/core.py", "edge/app/box.py", "storage/schema.py", "capture/sim/server.py",
        "api/web/templates/base.html", "api/web/static/edge.css", "edge/reports/templates/filing_body.html",
        "edge/i18n/locale/zh_CN/LC_MESSAGES/edge.mo"]
missing = [n for n in need if n not in names]
if missing:
    sys.exit(f"missing from the wheel: {missing}")
PY

echo "== wheel check: install into a fresh venv outside the checkout"
"$python" -m venv "$work/venv"
"$work/venv/bin/pip" install -q "$wheel" 2>&1 | grep -v "is ignored: it is neither" || true
edge="$work/venv/bin/edge"
[ -x "$edge" ] || fail "no edge command in the venv"
cd "$work"   # nothing of the checkout on the path from here on

"$edge" --help >/dev/null || fail "edge --help"
"$edge" check -c "$here/configs/edge.example.toml" >/dev/null || fail "edge check on the example config"

echo "== wheel check: a short recording of a simulated camera"
port=$("$work/venv/bin/python" -c "import socket; s=socket.socket(); s.bind(('127.0.0.1',0)); print(s.getsockname()[1])")
"$edge" simulate --cameras 1 --port "$port" --size 320x240 --bitrate 300000 >"$work/sim.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 300); do
  grep -q "serving 1 camera" "$work/sim.log" && break
  kill -0 "${pids[0]}" 2>/dev/null || { cat "$work/sim.log"; fail "the simulator exited"; }
  sleep 0.2
done
grep -q "serving 1 camera" "$work/sim.log" || { cat "$work/sim.log"; fail "the simulator did not start"; }
cat >"$work/edge.toml" <<TOML
[storage]
root = "$work/store"
segment_seconds = 1
[api]
enabled = false
[health]
enabled = false
[[cameras]]
id = "gate-1"
url = "rtsp://127.0.0.1:$port/cam1"
site_category = "street"
TOML
"$edge" run -c "$work/edge.toml" >"$work/run.log" 2>&1 &
run=$!
pids+=($run)
# Poll for three closed segments (files are renamed from .partial once durable).
for _ in $(seq 1 300); do
  n=$( (find "$work/store/segments" -name "*.mp4" 2>/dev/null || true) | wc -l)
  [ "$n" -ge 3 ] && break
  kill -0 "$run" 2>/dev/null || { cat "$work/run.log"; fail "edge run exited"; }
  sleep 0.2
done
kill -TERM "$run"
wait "$run" || { cat "$work/run.log"; fail "edge run did not stop cleanly"; }
out=$("$edge" verify -c "$work/edge.toml") || { echo "$out"; fail "edge verify"; }
echo "$out" | tail -1
echo "$out" | grep -qE "^INTACT: 1 camera\(s\), ([3-9]|[1-9][0-9]+) chain link" || fail "fewer than 3 verified segments"
echo "== wheel check: OK"
