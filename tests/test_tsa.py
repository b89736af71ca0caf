"""RFC 3161 against a real TSA (`openssl ts -reply` on loopback, its own CA and TSA certificate)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from tsa_fixture import TsaServer, make_tsa_pki, tsa  # noqa: F401 (tsa: the fixture)

from edge.monitor.tsa_client import TsaClient
from storage.tsa import TsaError, TsaVerifier

BODY = b'{"box_id":"box-7","id":1}'


def test_token_verifies_with_the_tsa_certificate(tsa: TsaServer, tmp_path: Path) -> None:  # noqa: F811
    token, gen_us = TsaClient(tsa.url, verifier=TsaVerifier(tsa.ca, tsa.cert)).stamp(BODY)

    assert TsaVerifier(tsa.ca, tsa.cert).verify(token, BODY) == gen_us
    # The same check with OpenSSL alone, as VERIFY.txt tells a court to do it.
    (tmp_path / "body.json").write_bytes(BODY)
    (tmp_path / "token.tsr").write_bytes(token)
    r = subprocess.run(["openssl", "ts", "-verify", "-data", "body.json", "-in", "token.tsr", "-CAfile", str(tsa.ca),
                        "-untrusted", str(tsa.cert)], cwd=tmp_path, capture_output=True, text=True, timeout=30)
    assert r.returncode == 0 and "Verification: OK" in r.stdout, r.stderr


def test_token_does_not_verify_for_another_message(tsa: TsaServer) -> None:  # noqa: F811
    token, _ = TsaClient(tsa.url).stamp(BODY)

    with pytest.raises(TsaError, match="[Mm]ismatch"):
        TsaVerifier(tsa.ca).verify(token, BODY + b" ")


def test_token_does_not_verify_with_another_ca(tsa: TsaServer, tmp_path: Path) -> None:  # noqa: F811
    token, _ = TsaClient(tsa.url).stamp(BODY)
    other = tmp_path / "other"
    other.mkdir()
    make_tsa_pki(other)

    with pytest.raises(TsaError):
        TsaVerifier(other / "ca.pem").verify(token, BODY)


def test_tsa_outage_is_an_error_not_a_token(tsa: TsaServer) -> None:  # noqa: F811
    tsa.failing = True

    with pytest.raises(TsaError, match="HTTP 503"):
        TsaClient(tsa.url).stamp(BODY)
