"""GB/T 28181 pieces on their own: the strict SIP layer (property-tested), digest vectors from the
RFCs, MANSCDP encodings, SDP offers as WVP sends them, ids in the config, spans, RTP."""

from __future__ import annotations

import contextlib
import struct
from datetime import UTC

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge.config import ConfigError, parse_config
from edge.gb28181 import digest, manscdp, sdp, sip
from edge.gb28181.answers import DeviceIdentity, catalog, gb_time, parse_gb_time, record_spans
from edge.gb28181.interfaces import Channel
from edge.gb28181.rtp import RTP_MAX_PAYLOAD, RtpPacketizer

LOCAL = sip.Local("34020000001180000001", "192.0.2.10", 5060, "UDP")
TOKENS = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-.", min_size=1, max_size=20)
VALUES = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=60).map(str.strip)


def sample(method: str = "MESSAGE", body: bytes = b"<x/>") -> sip.Message:
    return sip.request(method, "sip:34020000001180000001@3402000000", LOCAL,
                       from_uri="sip:34020000002000000001@3402000000", from_tag="abc",
                       to_uri="sip:34020000001180000001@3402000000", call_id="c1@192.0.2.10", cseq=7, body=body,
                       content_type="Application/MANSCDP+xml")


# -- SIP ------------------------------------------------------------------------------------------
@given(method=st.sampled_from(sorted(sip.METHODS)), body=st.binary(max_size=2000), name=TOKENS, value=VALUES,
       cseq=st.integers(0, 2**31))
def test_built_messages_parse_back_to_the_same(method: str, body: bytes, name: str, value: str, cseq: int) -> None:
    req = sip.request(method, "sip:34020000001320000001@3402000000", LOCAL, from_uri="sip:a@3402000000",
                      from_tag="t1", to_uri="sip:b@3402000000", call_id="x@y", cseq=cseq, body=body,
                      extra=[("X-" + name, value)])
    got = sip.parse(req.to_bytes())
    assert (got.method, got.uri, got.body, got.cseq) == (method, req.uri, body, (cseq, method))
    assert got.get("X-" + name) == value
    assert got.from_.tag == "t1" and got.from_.uri.host == "3402000000"
    resp = sip.response(got, 200, "OK", to_tag="dev")
    back = sip.parse(resp.to_bytes())
    assert back.code == 200 and back.to.tag == "dev" and back.vias[0].branch == req.vias[0].branch


@settings(max_examples=300)
@given(st.binary(max_size=600))
def test_arbitrary_bytes_only_ever_raise_sip_error(data: bytes) -> None:
    try:
        sip.parse(data)
    except sip.SipError as exc:
        assert 400 <= exc.status < 600


@settings(max_examples=300)
@given(pos=st.integers(0, 400), junk=st.binary(min_size=1, max_size=8), cut=st.booleans())
def test_mutated_messages_parse_or_fail_cleanly(pos: int, junk: bytes, cut: bool) -> None:
    raw = sample().to_bytes()
    pos = min(pos, len(raw))
    mutated = raw[:pos] + (b"" if cut else junk) + raw[pos + (len(junk) if cut else 0):]
    try:
        msg = sip.parse(mutated)
    except sip.SipError:
        return
    # Whatever parsed is fully usable: the mandatory headers read without error.
    _ = msg.cseq, msg.from_, msg.to, msg.vias, msg.call_id


@pytest.mark.parametrize("raw,why", [
    (b"MESSAGE sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h:1\r\nFrom: <sip:a@b>\r\nTo: <sip:a@b>\r\nCall-ID: 1\r\n\r\n",
     "missing CSeq"),
    (b"MESSAGE sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h:1\r\nFrom: <sip:a@b>\r\nTo: <sip:a@b>\r\nCall-ID: 1\r\n"
     b"CSeq: 1 INVITE\r\n\r\n", "CSeq method"),
    (b"MESSAGE sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h:1\r\nFrom: <sip:a@b>\r\nTo: <sip:a@b>\r\nCall-ID: 1\r\n"
     b"CSeq: 1 MESSAGE\r\n folded\r\n\r\n", "folded"),
    (b"MESSAGE sip:a@b SIP/2.0\nVia: SIP/2.0/UDP h:1\r\n\r\n", "line structure"),
    (b"MESSAGE http://a SIP/2.0\r\nVia: SIP/2.0/UDP h:1\r\nFrom: <sip:a@b>\r\nTo: <sip:a@b>\r\nCall-ID: 1\r\n"
     b"CSeq: 1 MESSAGE\r\n\r\n", "SIP URI"),
])
def test_strict_rejections(raw: bytes, why: str) -> None:
    with pytest.raises(sip.SipError, match=why):
        sip.parse(raw)


def test_udp_body_past_content_length_is_discarded() -> None:
    raw = sample(body=b"<x/>").to_bytes() + b"trailing"
    assert sip.parse(raw).body == b"<x/>"


@given(st.lists(st.binary(max_size=300), min_size=1, max_size=5), st.data())
def test_tcp_framing_recovers_messages_from_any_split(bodies: list[bytes], data: st.DataObject) -> None:
    msgs = [sample(body=b).to_bytes() for b in bodies]
    stream = b"\r\n".join(msgs)  # CRLF keep-alives between messages are skipped
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=6)))
    framer = sip.StreamFramer()
    out: list[bytes] = []
    prev = 0
    for c in [*cuts, len(stream)]:
        out += framer.feed(stream[prev:c])
        prev = c
    assert out == msgs


def test_tcp_framing_needs_content_length() -> None:
    with pytest.raises(sip.SipError, match="Content-Length"):
        sip.StreamFramer().feed(b"OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/TCP h\r\n\r\n")


# -- digest ---------------------------------------------------------------------------------------
def test_digest_rfc2617_vector() -> None:
    ch = digest.Challenge("testrealm@host.com", "dcd98b7102dd2f0e8b11d0f600bfb0c093",
                          "5ccc069c403ebaf9f0171e9517f40e41", "MD5", ("auth",))
    assert digest.response_value(ch, "Mufasa", "Circle Of Life", "GET", "/dir/index.html", 1,
                                 "0a4f113b") == "6629fae49393a05397450978507c4ef1"


@pytest.mark.parametrize("algorithm,expected", [
    ("MD5", "8ca523f5e9506fed4657c9700eebdbec"),
    ("SHA-256", "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"),
])
def test_digest_rfc7616_vectors(algorithm: str, expected: str) -> None:
    ch = digest.Challenge("http-auth@example.org", "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v",
                          "FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS", algorithm, ("auth",))
    assert digest.response_value(ch, "Mufasa", "Circle of Life", "GET", "/dir/index.html", 1,
                                 "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ") == expected


def test_challenge_parsing_and_authorization_header() -> None:
    ch = digest.parse_challenge('Digest realm="3402000000", nonce="a,b=c", qop="auth,auth-int", '
                                'opaque="o", algorithm=MD5')
    assert (ch.realm, ch.nonce, ch.qop, ch.opaque) == ("3402000000", "a,b=c", ("auth", "auth-int"), "o")
    header = digest.authorization(ch, "34020000001180000001", "pw", "REGISTER", "sip:s@3402000000")
    assert 'qop=auth' in header and 'nc=00000001' in header and 'opaque="o"' in header
    for bad in ("Basic realm=x", 'Digest nonce="x"', 'Digest realm="r", nonce="n", algorithm=SHA-1'):
        with pytest.raises(sip.SipError):
            digest.parse_challenge(bad)


# -- MANSCDP --------------------------------------------------------------------------------------
def test_gb2312_query_is_decoded_and_answered_in_kind() -> None:
    body = ('<?xml version="1.0" encoding="GB2312"?>\r\n<Query><CmdType>Catalog</CmdType><SN>17</SN>'
            '<DeviceID>34020000001180000001</DeviceID><Note>大门</Note></Query>').encode("gb2312")
    cmd = manscdp.parse(body)
    assert (cmd.root, cmd.cmd_type, cmd.sn, cmd.encoding) == ("Query", "Catalog", 17, "GB2312")
    assert cmd.text("Note") == "大门"
    dev = DeviceIdentity("34020000001180000001", "edge", "edge", "m", "f", "340200", UTC)
    ch = Channel("cam1", "34020000001320000001", "东门 1", "rtsp://x/1", True, True, True)
    out = catalog(dev, 17, [ch], 8)
    assert len(out) == 1 and "东门 1".encode("gb2312") in out[0]
    assert manscdp.parse(out[0]).element.findtext("DeviceList/Item/Name") == "东门 1"


def test_utf8_and_undeclared_bodies_parse() -> None:
    assert manscdp.parse(b'<?xml version="1.0" encoding="UTF-8"?><Query><CmdType>DeviceInfo</CmdType>'
                         b'<SN>1</SN><DeviceID>x</DeviceID></Query>').cmd_type == "DeviceInfo"
    assert manscdp.parse(b"<Query><CmdType>DeviceInfo</CmdType><SN>2</SN></Query>").sn == 2


@pytest.mark.parametrize("body", [
    b'<?xml version="1.0"?><!DOCTYPE q [<!ENTITY a "aaaa">]><Query><CmdType>&a;</CmdType><SN>1</SN></Query>',
    b"<Query><CmdType>Catalog</CmdType></Query>",
    b"<Query><CmdType>Catalog</CmdType><SN>x</SN></Query>",
    b"<Other><CmdType>Catalog</CmdType><SN>1</SN></Other>",
    b"<Query><CmdType>Catalog<SN>1</SN></Query>",
    b'<?xml version="1.0" encoding="Shift_JIS"?><Query/>',
])
def test_bad_manscdp_is_refused(body: bytes) -> None:
    with pytest.raises(manscdp.XmlError):
        manscdp.parse(body)


@settings(max_examples=200)
@given(st.binary(max_size=300))
def test_arbitrary_xml_bytes_only_raise_xml_error(data: bytes) -> None:
    with contextlib.suppress(manscdp.XmlError):
        manscdp.parse(data)


def test_gb_times_round_trip_in_the_device_zone() -> None:
    us = 1_796_000_000_000_000
    assert parse_gb_time(gb_time(us, UTC), UTC) == us
    with pytest.raises(ValueError):
        parse_gb_time("yesterday", UTC)


# -- SDP ------------------------------------------------------------------------------------------
WVP_PLAYBACK = (b"v=0\r\no=34020000001320000001 0 0 IN IP4 192.0.2.1\r\ns=Playback\r\nu=34020000001320000001:0\r\n"
                b"c=IN IP4 192.0.2.1\r\nt=1796000000 1796000600\r\nm=video 30000 TCP/RTP/AVP 96 97 98\r\n"
                b"a=recvonly\r\na=rtpmap:96 PS/90000\r\na=setup:passive\r\na=connection:new\r\ny=1100000001\r\n")


def test_wvp_style_offer_and_answer() -> None:
    offer = sdp.parse_offer(WVP_PLAYBACK)
    assert (offer.session, offer.address, offer.port, offer.tcp, offer.setup, offer.ssrc) == \
        ("Playback", "192.0.2.1", 30000, True, "passive", "1100000001")
    assert (offer.start_s, offer.end_s) == (1796000000, 1796000600)
    ans = sdp.answer(offer, "34020000001180000001", "192.0.2.10", 9).decode()
    assert "m=video 9 TCP/RTP/AVP 96" in ans and "a=setup:active" in ans and "y=1100000001" in ans
    active = sdp.parse_offer(WVP_PLAYBACK.replace(b"setup:passive", b"setup:active"))
    assert "a=setup:passive" in sdp.answer(active, "d", "h", 40000).decode()


@pytest.mark.parametrize("change", [(b"s=Playback", b"s=Talk"), (b"y=1100000001", b"y=abc"),
                                    (b"t=1796000000 1796000600", b"t=0 0"), (b"a=setup:passive\r\n", b""),
                                    (b"96 97 98", b"97 98")])
def test_unacceptable_offers_get_488(change: tuple[bytes, bytes]) -> None:
    with pytest.raises(sip.SipError) as err:
        sdp.parse_offer(WVP_PLAYBACK.replace(*change))
    assert err.value.status == 488


# -- config ---------------------------------------------------------------------------------------
def cfg(gb: dict[str, object], cams: list[dict[str, object]] | None = None) -> dict[str, object]:
    cam = {"id": "gate-1", "url": "rtsp://127.0.0.1/x", "site_category": "street",
           "gb28181_channel_id": "34020000001320000001"}
    return {"gb28181": {"enabled": True, "password": "pw", **gb}, "cameras": cams if cams is not None else [cam]}


@pytest.mark.parametrize("gb,cams,expected", [
    ({"device_id": "3402000000118000000"}, None, "gb28181.device_id: must be 20 digits"),
    ({"device_id": "34020000001310000001"}, None, "gb28181.device_id: type code (digits 11-13) is 131"),
    ({"server_id": "34020000001180000009"}, None, "gb28181.server_id: type code"),
    ({"password": ""}, None, "password: required"),
    ({"password_ha1": "ABC"}, None, "gb28181.password_ha1: must be 32 lower-case hex digits"),
    ({"password_ha1": "0" * 32}, None, "give one of them, not both"),
    ({"domain": "34020"}, None, "gb28181.domain: must be 10 digits"),
    ({}, [{"id": "gate-1", "url": "rtsp://h/x", "site_category": "street"}],
     "cameras[0].gb28181_channel_id: required"),
    ({}, [{"id": "gate-1", "url": "rtsp://h/x", "site_category": "street", "gb28181_channel_id": "3402000000111000"
                                                                                              "0001"}],
     "type code (digits 11-13) is 111"),
    ({}, [{"id": f"gate-{i}", "url": "rtsp://h/x", "site_category": "street",
           "gb28181_channel_id": "34020000001320000001"} for i in (1, 2)], "cameras[1].gb28181_channel_id: same code"),
])
def test_config_names_the_key_and_the_rule(gb: dict[str, object], cams: list[dict[str, object]] | None,
                                           expected: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_config(cfg(gb, cams))
    assert any(expected in p for p in err.value.problems), err.value.problems


def test_config_defaults_off_and_valid_when_on() -> None:
    assert parse_config({}).gb28181.enabled is False
    c = parse_config(cfg({"transport": "tcp"})).gb28181
    assert (c.realm, c.civil, c.transport, c.allow_playback) == ("3402000000", "340200", "tcp", False)


# -- spans and RTP --------------------------------------------------------------------------------
class Seg:
    def __init__(self, start_us: int, end_us: int) -> None:
        self.start_us, self.end_us, self.path, self.codec = start_us, end_us, "", "h264"


@given(st.lists(st.tuples(st.integers(0, 10_000), st.integers(1, 3_000)), max_size=20),
       st.integers(0, 5_000), st.integers(1, 20_000))
def test_record_spans_cover_exactly_the_recorded_time(pieces: list[tuple[int, int]], start: int, length: int) -> None:
    segs = [Seg(s * 1000, (s + d) * 1000) for s, d in pieces]
    lo, hi = start * 1000, (start + length) * 1000
    spans = record_spans(segs, lo, hi)
    assert all(lo <= s < e <= hi for s, e in spans)
    assert all(a[1] + 1_000_000 < b[0] for a, b in zip(spans, spans[1:], strict=False)), "separate spans have a gap"
    for seg in segs:
        s, e = max(seg.start_us, lo), min(seg.end_us, hi)
        if e > s:
            assert any(a <= s and e <= b for a, b in spans), "every recorded moment is in a span"


def test_rtp_packets_split_with_marker_on_the_last_and_seq_wrapping() -> None:
    rtp = RtpPacketizer(ssrc=1100000001, seq=0xFFFF)
    pkts = rtp.packets(b"x" * (RTP_MAX_PAYLOAD * 2 + 10), 90_000)
    heads = [struct.unpack("!BBHII", p[:12]) for p in pkts]
    assert [h[2] for h in heads] == [0xFFFF, 0, 1]
    assert [bool(h[1] & 0x80) for h in heads] == [False, False, True]
    assert {h[1] & 0x7F for h in heads} == {96} and {h[4] for h in heads} == {1100000001}
    assert b"".join(p[12:] for p in pkts) == b"x" * (RTP_MAX_PAYLOAD * 2 + 10)
