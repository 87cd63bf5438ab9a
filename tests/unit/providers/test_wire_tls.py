"""The wire transport over TLS, as every hosted provider is reached: certificates verified,
keep-alive connections reused, a connection the server closed replaced, the same answers as
httpx's own transport."""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import ssl
from pathlib import Path

import httpx
import pytest

from aigw.providers.wire import WireTransport
from tests.unit.providers.test_wire import LIMITS, ScriptedServer, _outcome

OK = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{\"ok\":true}"
CLOSING = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi"


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and localhost (cert file, key file)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "aigw test upstream")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                        x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    folder = tmp_path_factory.mktemp("tls")
    (folder / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (folder / "key.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                       serialization.NoEncryption()))
    return folder / "cert.pem", folder / "key.pem"


def _server_tls(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*certificate)
    return context


def _client_tls(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(certificate[0]))


def test_keep_alive_over_tls_matches_httpx(certificate: tuple[Path, Path]) -> None:
    async def run(transport: httpx.AsyncBaseTransport, host: str) -> tuple[list[tuple[object, ...]], int]:
        script = [OK, OK, CLOSING, OK]
        async with ScriptedServer(lambda n: [script[n]] + ([None] if script[n] is CLOSING else []),
                                  tls=_server_tls(certificate)) as server, \
                httpx.AsyncClient(transport=transport) as client:
            url = f"https://{host}:{server.port}/v1/chat/completions"
            outcomes = [await _outcome(client, url) for _ in script]
            return outcomes, server.connections

    for host in ("127.0.0.1", "localhost"):
        wire = asyncio.run(run(WireTransport(limits=LIMITS, ssl_context=_client_tls(certificate)), host))
        reference = asyncio.run(run(httpx.AsyncHTTPTransport(limits=LIMITS, verify=_client_tls(certificate)), host))
        assert wire == reference
        outcomes, connections = wire
        assert [o[0] for o in outcomes] == [200, 200, 200, 200] and outcomes[0][-1] == b'{"ok":true}'
        assert connections == 2  # reused until the server said close, then a fresh one


def test_an_untrusted_certificate_is_refused(certificate: tuple[Path, Path]) -> None:
    async def run() -> tuple[object, ...]:
        async with ScriptedServer(lambda n: [OK], tls=_server_tls(certificate)) as server, \
                httpx.AsyncClient(transport=WireTransport(limits=LIMITS)) as client:  # the default trust store
            return await _outcome(client, f"https://127.0.0.1:{server.port}/")

    assert asyncio.run(run()) == ("error", "ConnectError")
