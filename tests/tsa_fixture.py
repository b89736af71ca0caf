"""A real RFC 3161 Time-Stamping Authority on loopback for the tests: its own CA and TSA
certificate (extendedKeyUsage critical timeStamping) made with openssl, and `openssl ts -reply`
run per request behind a few lines of HTTP."""

from __future__ import annotations

import subprocess
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

#: No `certs =` chain: OpenSSL writes a SignedData certificate SET of two in non-DER order, which
#: rfc3161-client's strict DER parser refuses; the token carries the signer certificate only.
TSA_CNF = """\
[ tsa ]
default_tsa = tsa_config1

[ tsa_config1 ]
dir = {dir}
serial = $dir/tsaserial
crypto_device = builtin
signer_cert = $dir/tsa.pem
signer_key = $dir/tsa.key
signer_digest = sha256
default_policy = 1.2.3.4.1
digests = sha256, sha384, sha512
accuracy = secs:1
ordering = yes
tsa_name = yes
ess_cert_id_chain = no
ess_cert_id_alg = sha256
"""

TSA_EXT = """\
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = critical, timeStamping
"""


def _run(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=30)


def make_tsa_pki(d: Path) -> None:
    """ca.pem/ca.key (self-signed root) and tsa.pem/tsa.key (signed by it) in `d`."""
    ec = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes")
    _run("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "30", "-subj", "/CN=edge test TSA CA",
         "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=d)
    _run("req", *ec, "-keyout", "tsa.key", "-out", "tsa.csr", "-subj", "/CN=edge test TSA", cwd=d)
    (d / "tsa.ext").write_text(TSA_EXT)
    _run("x509", "-req", "-in", "tsa.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out", "tsa.pem",
         "-days", "30", "-extfile", "tsa.ext", cwd=d)
    (d / "tsaserial").write_text("01\n")
    (d / "tsa.cnf").write_text(TSA_CNF.format(dir=d))


@dataclass
class TsaServer:
    url: str
    dir: Path
    ca: Path
    cert: Path
    #: While True the TSA answers 503 (an outage).
    failing: bool = False
    requests: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def reply(self, query: bytes) -> bytes:
        with self.lock, tempfile.TemporaryDirectory(dir=self.dir) as tmp:
            q, r = Path(tmp) / "q.tsq", Path(tmp) / "r.tsr"
            q.write_bytes(query)
            _run("ts", "-reply", "-config", str(self.dir / "tsa.cnf"), "-queryfile", str(q), "-out", str(r),
                 cwd=self.dir)
            return r.read_bytes()


def _handler(tsa: TsaServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's name)
            tsa.requests += 1
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            if tsa.failing or self.headers.get("Content-Type") != "application/timestamp-query":
                self.send_response(503 if tsa.failing else 415)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            data = tsa.reply(body)
            self.send_response(200)
            self.send_header("Content-Type", "application/timestamp-reply")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *_args: object) -> None:
            pass

    return Handler


@pytest.fixture
def tsa(tmp_path: Path) -> Iterator[TsaServer]:
    d = tmp_path / "tsa"
    d.mkdir()
    make_tsa_pki(d)
    server = TsaServer("", d, d / "ca.pem", d / "tsa.pem")
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(server))
    server.url = f"http://127.0.0.1:{httpd.server_address[1]}/tsa"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield server
    httpd.shutdown()
    httpd.server_close()
    thread.join(5)
