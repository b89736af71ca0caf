"""Small fragmented-MP4 files muxed exactly as the recorder muxes them, for storage-level tests."""

from __future__ import annotations

import av
import numpy as np

from capture.segmenter import MOVFLAGS


def encode_fmp4(sink: object, frames: int = 75, shade: int = 3) -> None:
    """Encode `frames` frames at 25 fps, GOP 25 (one fragment per second), 160x120, into `sink`.
    `shade` varies the picture so two files made with different shades differ."""
    with av.open(sink, mode="w", format="mp4", options={"movflags": MOVFLAGS}) as out:
        stream = out.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 160, 120, "yuv420p"
        stream.codec_context.gop_size = 25
        stream.codec_context.options = {"bf": "0", "preset": "ultrafast", "sc_threshold": "0"}
        for i in range(frames):
            frame = av.VideoFrame.from_ndarray(np.full((120, 160, 3), i * shade % 256, np.uint8), format="rgb24")
            frame.pts = i
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
