"""Exports to CloudWatch's OTLP endpoint are SigV4-signed over the exact bytes sent: the
signature is recomputed here from what went on the wire, as AWS would check it."""

from __future__ import annotations

from typing import Any

import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from requests.adapters import BaseAdapter

from aigw.telemetry.sigv4 import SigV4Session

CREDENTIALS = Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "session-token")
URL = "https://xray.eu-west-1.amazonaws.com/v1/traces"


class Capture(BaseAdapter):
    def __init__(self) -> None:
        super().__init__()
        self.sent: list[requests.PreparedRequest] = []

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        self.sent.append(request)
        response = requests.Response()
        response.status_code, response._content, response.request = 200, b"", request
        return response

    def close(self) -> None:
        return None


def expected_signature(sent: requests.PreparedRequest) -> str:
    """What AWS computes from the received request: the signed headers, the body, the date."""
    authorization = sent.headers["Authorization"]
    signed_names = authorization.split("SignedHeaders=")[1].split(",")[0].split(";")
    headers = {name: sent.headers[name] for name in signed_names if name != "host"}
    check = AWSRequest(method=sent.method, url=sent.url, data=sent.body, headers=headers)
    check.context["timestamp"] = sent.headers["X-Amz-Date"]
    signer = SigV4Auth(CREDENTIALS, "xray", "eu-west-1")
    canonical = signer.canonical_request(check)
    return signer.signature(signer.string_to_sign(check, canonical), check)


def session() -> tuple[SigV4Session, Capture]:
    signing = SigV4Session(service="xray", region="eu-west-1", credentials=CREDENTIALS)
    capture = Capture()
    signing.mount("https://", capture)
    return signing, capture


def test_each_export_is_signed_over_its_own_body() -> None:
    signing, capture = session()
    for body in (b"\x0a\x02spans-one", b"\x0a\x02spans-two"):
        signing.request("POST", URL, headers={"Content-Type": "application/x-protobuf"}, data=body, timeout=3)
    first, second = capture.sent
    for sent in capture.sent:
        authorization = sent.headers["Authorization"]
        assert authorization.startswith("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/")
        assert "/eu-west-1/xray/aws4_request" in authorization
        assert "content-type" in authorization.split("SignedHeaders=")[1]
        assert sent.headers["X-Amz-Security-Token"] == "session-token"
        assert authorization.rsplit("Signature=", 1)[1] == expected_signature(sent)
    assert first.headers["Authorization"] != second.headers["Authorization"]
    assert (first.body, second.body) == (b"\x0a\x02spans-one", b"\x0a\x02spans-two")


def test_a_tampered_body_no_longer_matches() -> None:
    signing, capture = session()
    signing.request("POST", URL, headers={"Content-Type": "application/x-protobuf"}, data=b"original", timeout=3)
    (sent,) = capture.sent
    signature = sent.headers["Authorization"].rsplit("Signature=", 1)[1]
    sent.body = b"tampered"
    assert expected_signature(sent) != signature
