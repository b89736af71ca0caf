#!/usr/bin/python3
"""Loopback RTSP test-camera server (GStreamer gst-rtsp-server).

Run with Debian's /usr/bin/python3, which has ``gi`` and GstRtspServer; the
project venv does not. Therefore this file imports only the stdlib and gi,
never anything from the edge packages.

    /usr/bin/python3 sim_server.py --port 8554 --mount cam1=/clips/a.h264 --fps cam1=25

Each mount serves one Annex-B H.264 clip in an endless loop at
rtsp://127.0.0.1:PORT/NAME. Prints ``READY <port>`` once listening.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402

PIPELINE = (
    '( multifilesrc location="{clip}" loop=true '
    'caps="video/x-h264,stream-format=byte-stream,framerate={fps}/1" '
    "! h264parse name=parse "
    "! video/x-h264,stream-format=avc,alignment=au "
    "! rtph264pay name=pay0 pt=96 config-interval=0 {audio} )"
)
# A second stream on the same mount, for the recorder's audio policy: AAC is kept in MP4, G.711
# (PCMA) cannot be and is dropped.
AUDIO = {
    "aac": ("audiotestsrc is-live=true wave=sine freq=440 ! audioconvert ! audioresample "
            "! audio/x-raw,rate=16000,channels=1 ! voaacenc ! aacparse ! rtpmp4gpay name=pay1 pt=97"),
    "pcma": ("audiotestsrc is-live=true wave=sine freq=440 ! audioconvert ! audioresample "
             "! audio/x-raw,rate=8000,channels=1 ! alawenc ! rtppcmapay name=pay1 pt=8"),
}


def _set_pts_from_dts(_pad: Gst.Pad, info: Gst.PadProbeInfo) -> Gst.PadProbeReturn:
    # A timestamp-less Annex-B file gets only DTS from h264parse; without PTS every RTP
    # packet would carry the same timestamp. No B-frames in our clips, so PTS == DTS.
    buf = info.get_buffer()
    if buf is not None and buf.pts == Gst.CLOCK_TIME_NONE:
        buf.pts = buf.dts
    return Gst.PadProbeReturn.OK


def _on_media_configure(_factory: GstRtspServer.RTSPMediaFactory, media: GstRtspServer.RTSPMedia) -> None:
    parse = media.get_element().get_by_name("parse")
    if parse is not None:
        parse.get_static_pad("src").add_probe(Gst.PadProbeType.BUFFER, _set_pts_from_dts)


def _parse_pairs(values: list[str], what: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for value in values:
        name, sep, rest = value.partition("=")
        if not sep or not name or not rest or "/" in name:
            raise SystemExit(f"bad --{what} {value!r}: expected NAME=VALUE")
        out[name] = rest
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--port", type=int, required=True, help="TCP port; 0 picks a free one")
    ap.add_argument("--mount", action="append", default=[], metavar="NAME=CLIP", required=True)
    ap.add_argument("--fps", action="append", default=[], metavar="NAME=FPS",
                    help="frame rate of a mount's clip (Annex-B has no timestamps); default 25")
    ap.add_argument("--audio", action="append", default=[], metavar="NAME=CODEC",
                    help="add an audio stream to a mount: aac or pcma")
    ap.add_argument("--address", default="127.0.0.1")
    ap.add_argument("--parent-pid", type=int, default=0,
                    help="exit when this process is no longer our parent (test harness died)")
    args = ap.parse_args(argv)

    mounts = _parse_pairs(args.mount, "mount")
    fps = {k: int(v) for k, v in _parse_pairs(args.fps, "fps").items()}
    audio = _parse_pairs(args.audio, "audio")
    for name, codec in audio.items():
        if codec not in AUDIO:
            print(f"unknown audio codec {codec!r} for mount {name!r}: use one of {sorted(AUDIO)}", file=sys.stderr)
            return 2
    for name, clip in mounts.items():
        if not os.path.isfile(clip):
            print(f"clip for mount {name!r} not found: {clip}", file=sys.stderr)
            return 2
        if '"' in clip:
            print(f"clip path must not contain a double quote: {clip}", file=sys.stderr)
            return 2

    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address(args.address)
    server.set_service(str(args.port))
    # Default backlog of 5 is too small when a test or bench connects many clients at once.
    server.set_backlog(128)
    points = server.get_mount_points()
    for name, clip in mounts.items():
        factory = GstRtspServer.RTSPMediaFactory()
        extra = AUDIO[audio[name]] if name in audio else ""
        factory.set_launch(PIPELINE.format(clip=os.path.abspath(clip), fps=fps.get(name, 25), audio=extra))
        # One pipeline per mount shared by all its clients: cost scales with mounts, not clients.
        factory.set_shared(True)
        factory.connect("media-configure", _on_media_configure)
        points.add_factory(f"/{name}", factory)

    loop = GLib.MainLoop()

    # gst-rtsp-server binds with SO_REUSEADDR (g_socket_bind allow_reuse=TRUE), so a
    # restart on the same port right after a kill works despite TIME_WAIT sockets.
    if server.attach(None) == 0:
        print(f"cannot listen on {args.address}:{args.port} (port in use?)", file=sys.stderr)
        return 1

    def _quit(*_: object) -> bool:
        loop.quit()
        return GLib.SOURCE_REMOVE

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        GLib.unix_signal_add(GLib.PRIORITY_HIGH, sig, _quit)

    # A client that stops reading or vanishes must not keep sessions (and the shared
    # pipeline) alive forever; expire idle sessions every few seconds.
    def _cleanup() -> bool:
        server.get_session_pool().cleanup()
        return GLib.SOURCE_CONTINUE

    GLib.timeout_add_seconds(2, _cleanup)

    # The server runs in its own session, so a SIGKILLed test runner would leave it
    # serving forever; notice being re-parented and leave too.
    if args.parent_pid:
        def _watch_parent() -> bool:
            if os.getppid() != args.parent_pid:
                loop.quit()
                return GLib.SOURCE_REMOVE
            return GLib.SOURCE_CONTINUE

        GLib.timeout_add(500, _watch_parent)

    print(f"READY {server.get_bound_port()}", flush=True)
    try:
        loop.run()
    finally:
        # Tear down client sessions so the sockets close promptly.
        server.client_filter(lambda _srv, _client: GstRtspServer.RTSPFilterResult.REMOVE)
    return 0


if __name__ == "__main__":
    sys.exit(main())
