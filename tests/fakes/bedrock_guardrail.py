"""A fake Bedrock Runtime ApplyGuardrail endpoint on loopback, speaking the documented REST-JSON
wire format: `POST /guardrail/{guardrailIdentifier}/version/{guardrailVersion}/apply` with
`{"source", "content": [{"text": {"text"}}]}`, answering `{"usage", "action", "outputs",
"assessments"}` (or an error with `x-amzn-errortype`). Point boto3's `endpoint_url` at it.

Behaviour is decided per text by `decide(text, source) -> (action, assessments, output)`;
every request body is recorded in `requests`.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Decision = tuple[str, list[dict[str, Any]], str | None]  # action, assessments, masked text (or None)


def _usage() -> dict[str, int]:
    return {"topicPolicyUnits": 1, "contentPolicyUnits": 1, "wordPolicyUnits": 1, "sensitiveInformationPolicyUnits": 1,
            "sensitiveInformationPolicyFreeUnits": 0, "contextualGroundingPolicyUnits": 0}


class FakeApplyGuardrail:
    def __init__(self, decide: Callable[[str, str], Decision]) -> None:
        self.decide = decide
        self.requests: list[dict[str, Any]] = []
        self.paths: list[str] = []
        self.error: tuple[int, str] | None = None  # (status, x-amzn-errortype)
        self.merge_outputs = False  # answer one output for several texts (as a multi-block mask may)
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("content-length") or 0)) or b"{}")
                fake.requests.append(body)
                fake.paths.append(self.path)
                if fake.error is not None:
                    status, kind = fake.error
                    self._send(status, {"message": "fake failure"}, {"x-amzn-errortype": kind})
                    return
                action, assessments, outputs = "NONE", [], []
                for block in body.get("content") or []:
                    text = block["text"]["text"]
                    a, found, masked = fake.decide(text, body["source"])
                    if a == "GUARDRAIL_INTERVENED":
                        action = a
                        assessments.extend(found)
                    outputs.append({"text": masked if masked is not None else text})
                if action == "NONE":
                    outputs = []
                elif fake.merge_outputs:
                    outputs = [{"text": " ".join(o["text"] for o in outputs)}]
                self._send(200, {"usage": _usage(), "action": action, "actionReason": "fake",
                                 "outputs": outputs, "assessments": assessments})

            def _send(self, status: int, payload: dict[str, Any], headers: dict[str, str] | None = None) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> FakeApplyGuardrail:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
