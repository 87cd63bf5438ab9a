"""The OpenAI Responses API (`/v1/responses`) as a third front door over the pipeline.

    request.py   validate a create body; translate it to the canonical Chat Completions body
    items.py     input items: validation, normalization (ids, parts), items -> chat messages
    render.py    a `chat.completion` -> the `response` object (and the request's echoed params)
    stream.py    chat chunks -> the typed Responses stream events (one encoder per request)
    codec.py     `ResponsesCodec`, the pipeline's codec for this API
    store.py     stored responses in DynamoDB (tenant-scoped, TTL, one read per continuation)
    service.py   `ResponsesService`: what the front door calls around the pipeline
"""

from aigw.responses.codec import ResponsesCodec
from aigw.responses.service import Prepared, ResponseNotFound, ResponsesService
from aigw.responses.store import DynamoResponseStore, MemoryResponseStore, ResponseStore, StoredResponse

__all__ = ["DynamoResponseStore", "MemoryResponseStore", "Prepared", "ResponseNotFound", "ResponseStore",
           "ResponsesCodec", "ResponsesService", "StoredResponse"]
