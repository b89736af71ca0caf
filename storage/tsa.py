"""RFC 3161 trusted timestamps over checkpoints: the request, and the check of a token.

The protocol is `rfc3161-client` (Trail of Bits; maintained, abi3 wheels, built on `cryptography`),
not hand-rolled ASN.1. The message imprint is SHA-256 of the checkpoint's body bytes, so anyone
can check a token with `openssl ts -verify -data body.json -in token.tsr -CAfile tsa-ca.pem`.
The network part (HTTP, retries) is edge/tsa_client.py; this module has none.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC
from pathlib import Path

import cryptography.x509
from rfc3161_client import (
    HashAlgorithm,
    PKIStatus,
    TimestampRequestBuilder,
    VerificationError,
    Verifier,
    VerifierBuilder,
    decode_timestamp_response,
)

CONTENT_TYPE_QUERY = "application/timestamp-query"
CONTENT_TYPE_REPLY = "application/timestamp-reply"


class TsaError(Exception):
    """A reply that is no valid timestamp for what was asked (the message says why)."""


@dataclass(frozen=True)
class TsaRequest:
    der: bytes
    nonce: int | None


def build_request(message: bytes) -> TsaRequest:
    """A request for SHA-256(message), with a nonce, asking the TSA to include its certificate."""
    req = TimestampRequestBuilder().data(message).hash_algorithm(HashAlgorithm.SHA256).build()
    return TsaRequest(req.as_bytes(), req.nonce)


def _gen_time_us(resp_der: bytes) -> int:
    resp = decode_timestamp_response(resp_der)
    t = resp.tst_info.gen_time
    if t.tzinfo is None:
        t = t.replace(tzinfo=UTC)
    return int(t.timestamp() * 1_000_000)


def check_reply(reply: bytes, request: TsaRequest, message: bytes) -> int:
    """The genTime (µs) of a reply to `request`, after checking status, nonce and imprint (its
    signature is checked by `TsaVerifier`, which needs the TSA's CA)."""
    try:
        resp = decode_timestamp_response(reply)
    except ValueError as exc:
        raise TsaError(f"not a timestamp reply: {exc}") from None
    if PKIStatus(resp.status) != PKIStatus.GRANTED:
        raise TsaError(f"timestamp not granted (status {resp.status}: {resp.status_string})")
    if request.nonce is not None and resp.tst_info.nonce != request.nonce:
        raise TsaError("nonce mismatch")
    if resp.tst_info.message_imprint.message != hashlib.sha256(message).digest():
        raise TsaError("the token timestamps another message")
    return _gen_time_us(reply)


def _load_pems(path: Path) -> list[cryptography.x509.Certificate]:
    return cryptography.x509.load_pem_x509_certificates(path.read_bytes())


class TsaVerifier:
    """Checks tokens against the TSA's CA certificate(s) (`tsa_ca_file`: the root first, then any
    intermediates) and, if given, the TSA's own certificate (pinned)."""

    def __init__(self, ca_file: Path, tsa_cert_file: Path | None = None) -> None:
        certs = _load_pems(ca_file)
        if not certs:
            raise ValueError(f"{ca_file}: no certificate")
        builder = VerifierBuilder()
        builder = builder.add_root_certificate(certs[0])
        for cert in certs[1:]:
            builder = builder.add_intermediate_certificate(cert)
        if tsa_cert_file is not None:
            builder = builder.tsa_certificate(_load_pems(tsa_cert_file)[0])
        self._verifier: Verifier = builder.build()

    def verify(self, token: bytes, message: bytes) -> int:
        """genTime (µs) of a valid token over `message`; TsaError with the reason otherwise."""
        try:
            resp = decode_timestamp_response(token)
            self._verifier.verify_message(resp, message)
        except (ValueError, VerificationError) as exc:
            raise TsaError(str(exc) or type(exc).__name__) from None
        return _gen_time_us(token)
