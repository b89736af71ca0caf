"""A lean RTSP/RTP ingest: RTSP over TCP (interleaved RTP), SDP, RTP depacketizers, RTCP clock.

Small strict modules, no upward imports (stdlib only): `client` (the RTSP session), `auth`
(Basic/Digest), `sdp`, `rtp` (header, sequence tracking), `h264`/`h265`/`aac` (RFC 6184/7798/3640
depacketizers), `rtcp` (sender reports: RTP time to the camera's wall clock, drift).
"""
