"""A fake Azure OpenAI resource: Azure's URL scheme and `api-key` header in front of the
fake OpenAI behaviour (same fault modes, chosen by the deployment name).

    POST /openai/deployments/{deployment}/chat/completions?api-version=...

A missing or unknown api-version is a 404 and a wrong key a 401, as Azure answers them.
Streams open with Azure's content-filter chunk (no choices, `prompt_filter_results`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from tests.fakes.openai_upstream import FakeOpenAI, ReceivedCall

API_VERSIONS = {"2024-10-21", "2025-01-01-preview"}
KEY = "az-test"


@dataclass
class FakeAzure:
    openai: FakeOpenAI = field(default_factory=FakeOpenAI)
    calls: list[ReceivedCall] = field(default_factory=list)

    async def chat(self, request: Request) -> Response:
        deployment = request.path_params["deployment"]
        self.calls.append(ReceivedCall(request.url.path + "?" + request.url.query, dict(request.headers),
                                       json.loads(await request.body())))
        if request.query_params.get("api-version") not in API_VERSIONS:
            return JSONResponse({"error": {"code": "404", "message": "Resource not found"}}, status_code=404)
        if request.headers.get("api-key") != KEY:
            return JSONResponse({"error": {"code": "401", "message": "Access denied due to invalid subscription key"
                                           }}, status_code=401)
        # Azure ignores the body's model: the deployment in the URL decides.
        body = {**self.calls[-1].body, "model": deployment}
        scope = dict(request.scope)

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": json.dumps(body).encode(), "more_body": False}

        response = await self.openai.chat(Request(scope, receive))
        if isinstance(response, StreamingResponse):
            return StreamingResponse(self._with_filter_chunk(response), media_type="text/event-stream")
        return response

    async def _with_filter_chunk(self, response: StreamingResponse) -> Any:
        yield b'data: {"choices":[],"created":0,"id":"","model":"","object":"","prompt_filter_results":' \
              b'[{"prompt_index":0,"content_filter_results":{}}]}\n\n'
        async for piece in response.body_iterator:
            yield piece

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/openai/deployments/{deployment}/chat/completions", self.chat,
                                       methods=["POST"])])
