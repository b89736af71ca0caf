"""The box's client of its RFC 3161 Time-Stamping Authority (`[integrity] tsa_url`): one POST of
an application/timestamp-query per checkpoint, the reply checked before it is kept."""

from __future__ import annotations

from storage.tsa import CONTENT_TYPE_QUERY, TsaError, TsaVerifier, build_request, check_reply


class TsaClient:
    def __init__(self, url: str, timeout: float = 10.0, verifier: TsaVerifier | None = None) -> None:
        self.url = url
        self.timeout = timeout
        self.verifier = verifier

    def stamp(self, message: bytes) -> tuple[bytes, int]:
        """(reply DER, genTime µs) for SHA-256(message). Raises TsaError (an HTTP failure too)."""
        import httpx  # here: a tenth of a second at startup, for boxes that have a TSA only

        req = build_request(message)
        try:
            resp = httpx.post(self.url, content=req.der, headers={"Content-Type": CONTENT_TYPE_QUERY},
                              timeout=self.timeout)
        except httpx.HTTPError as exc:
            raise TsaError(f"{type(exc).__name__}: {exc}") from exc
        if resp.status_code != 200:
            raise TsaError(f"TSA answered HTTP {resp.status_code}")
        gen_us = check_reply(resp.content, req, message)
        if self.verifier is not None:
            self.verifier.verify(resp.content, message)
        return resp.content, gen_us
