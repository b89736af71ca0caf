"""One capture worker per camera: connect, record, and on any failure record a gap and reconnect.

Modelled on aiortc's media players: a blocking demux loop in a thread, a stop event, join.
Expected failures (refused, timeout, stream ended, bad data) become gaps with a reason and a
reconnect with backoff; anything unexpected is logged with its traceback and reconnected too,
so one bad camera never stops the others. The thread always reports that it exited.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable

import av
import av.stream

from capture.errors import classify
from capture.native_session import NativeSession
from capture.redact import redact_text, redact_url
from capture.rtsp.errors import Unsupported
from capture.session import RATE_WINDOW, Reconnect, Session
from capture.source import CameraSource
from capture.state import CameraState, CameraStatus
from storage.clock import Clock
from storage.index import Segment
from storage.store import SegmentStore

log = logging.getLogger(__name__)

#: Consecutive failed connects after which a camera counts as offline rather than reconnecting.
OFFLINE_AFTER_FAILURES = 3
KeyframeHook = Callable[[str, av.Packet, av.stream.Stream], None]


class CaptureWorker:
    def __init__(
        self,
        camera: CameraSource,
        store: SegmentStore,
        segment_seconds: float,
        clock: Clock,
        on_segment: Callable[[Segment], None] | None = None,
        on_keyframe: KeyframeHook | None = None,
        fragment_seconds: float | None = None,
    ) -> None:
        self.cfg = camera
        #: fMP4 fragment length ([storage] fragment_seconds); None: the segmenter's default.
        self.fragment_seconds = fragment_seconds
        #: Bumped by `clock_stepped`: the session starts a new segment with a fresh time anchor.
        self.clock_steps = 0
        #: (bytes, video packets, µs) of the last segments, across reconnects (capture/session.py).
        self.rate_window: deque[tuple[int, int, int]] = deque(maxlen=RATE_WINDOW)
        self.store = store
        self.segment_seconds = segment_seconds
        self.clock = clock
        self.status = CameraStatus(camera.id)
        self.on_segment = on_segment
        self.on_keyframe = on_keyframe
        self.stop_event = threading.Event()
        self.paused_reason: str | None = None
        self._thread: threading.Thread | None = None
        self._gap_id: int | None = None
        self.audio_warned = False
        #: Native ingest for this camera until it proves unsupported ("auto" falls back once).
        self.native = camera.ingest != "pyav"

    # -- start/stop protocol --------------------------------------------------------------------
    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError("worker already started")
        self._thread = threading.Thread(target=self._run, name=f"capture-{self.cfg.id}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self.stop_event.set()

    def join(self, timeout: float | None = None) -> bool:
        """True once the thread has exited, its active segment closed."""
        if self._thread is None:
            return True
        self._thread.join(timeout)
        return not self._thread.is_alive()

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def pause(self, reason: str) -> None:
        """Stop writing (disk full): the active segment is closed cleanly, packets are discarded and
        the time is a gap with this reason, until `resume`."""
        self.paused_reason = reason

    def resume(self) -> None:
        self.paused_reason = None

    def clock_stepped(self, step_us: int) -> None:
        """The wall clock stepped (edge/clock_watch.py): re-anchor segment times at the next keyframe."""
        self.clock_steps += 1

    # -- gaps (called from the worker thread only) ----------------------------------------------
    def gap_open(self, start_us: int, reason: str, detail: str) -> None:
        detail = redact_text(detail)
        self.status.last_error = f"{reason}: {detail}" if detail else reason
        if self._gap_id is None:
            self._gap_id = self.store.index.open_gap(self.cfg.id, start_us, reason, detail)

    def gap_close(self, end_us: int) -> None:
        if self._gap_id is not None:
            self.store.index.close_gap(self._gap_id, end_us)
            self._gap_id = None

    # -- the thread -----------------------------------------------------------------------------
    def _run(self) -> None:
        log.info("camera %s: worker started (%s)", self.cfg.id, redact_url(self.cfg.url))
        try:
            self._note_recorder_downtime()
        except Exception:
            log.exception("camera %s: could not record the recorder's downtime as a gap", self.cfg.id)
        try:
            while not self.stop_event.is_set():
                try:
                    self._loop()
                except Exception:
                    # The index or the disk failed under the worker (e.g. SQLite "disk full"): a
                    # recorder that stops trying is worse than one that retries, so start over.
                    log.exception("camera %s: worker failed; restarting it in %g s", self.cfg.id,
                                  self.cfg.reconnect_max)
                    self.status.state = CameraState.OFFLINE
                    self._gap_id = None
                    self.stop_event.wait(self.cfg.reconnect_max)
        finally:
            try:
                self.gap_close(self.clock.now_us())
            except Exception:
                log.exception("camera %s: could not close its open gap", self.cfg.id)
            self.status.state = CameraState.STOPPED
            self.status.connected = False
            log.info("camera %s: worker exited", self.cfg.id)

    def _note_recorder_downtime(self) -> None:
        last = self.store.index.last_segment(self.cfg.id, once=True)
        now = self.clock.now_us()
        if last is not None and now - last.end_us > 1_000_000:
            gid = self.store.index.open_gap(self.cfg.id, last.end_us, "recorder_stopped",
                                            "the recorder was not running")
            self.store.index.close_gap(gid, now)

    def _loop(self) -> None:
        backoff = self.cfg.reconnect_initial
        failures = 0
        while not self.stop_event.is_set():
            if failures == 0:
                self.status.state = CameraState.CONNECTING
            session: Session | NativeSession = NativeSession(self) if self.native else Session(self)
            self.status.ingest = "native" if self.native else "pyav"
            reason, detail = "stream_ended", "the camera ended the stream"
            try:
                session.run()
            except Reconnect as exc:
                reason, detail = exc.reason, exc.detail
            except Unsupported as exc:
                if self.cfg.ingest == "auto":
                    log.info("camera %s: native ingest does not handle this stream (%s); using PyAV",
                             self.cfg.id, exc)
                    self.native = False
                    continue  # (the finally below closes the session)
                reason, detail = exc.reason, str(exc)
            except Exception as exc:  # noqa: BLE001 - no camera fault may end the worker
                reason, detail = classify(exc)
                if reason == "error":
                    log.exception("camera %s: unexpected error", self.cfg.id)
            finally:
                session.close()
            if self.stop_event.is_set():
                break
            if session.recorded:
                backoff, failures = self.cfg.reconnect_initial, 0
            failures += 1
            self.status.reconnects += 1
            self.status.connected = False
            if self._gap_id is None:
                log.warning("camera %s: %s (%s); reconnecting", self.cfg.id, reason, redact_text(detail))
            self.gap_open(session.last_wall_us or self.clock.now_us(), reason, detail)
            self.status.state = (
                CameraState.OFFLINE if failures >= OFFLINE_AFTER_FAILURES else CameraState.RECONNECTING
            )
            self.stop_event.wait(backoff)
            backoff = min(backoff * 2, self.cfg.reconnect_max)
