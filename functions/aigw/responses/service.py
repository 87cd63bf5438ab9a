"""What the `/v1/responses` front door needs around the pipeline, in the order it needs it:

    prepare(data, key)             validate; continue a stored conversation and resolve
                                   item_references (ONE state read, none without either); the
                                   canonical body
    codec(prepared)                the request's `ResponsesCodec`
    native_body(prepared)          the body for a deployment that speaks Responses natively
    deliver(prepared, codec, outcome)  after `pipeline.handle`: a JSON answer is stored before it
                                   is returned; a stream is wrapped by persist_stream, which
                                   stores it before its terminal event is sent
    save / persist_stream          the two halves of deliver
    get / delete / input_items     the GET, DELETE and GET .../input_items routes

Tenant scoping: every read and write is inside the key's namespace (team, project or key,
per `responses.namespace`), so another tenant's id is indistinguishable from an unknown one.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

import anyio

from aigw.auth.records import KeyRecord
from aigw.cache.keys import Namespacing, namespace_for
from aigw.config.models import ResponsesConfig
from aigw.errors import GatewayError, InvalidRequest
from aigw.pipeline.outcome import JsonOutcome, Outcome, StreamOutcome
from aigw.responses.codec import ResponsesCodec
from aigw.responses.items import ItemIds, new_response_id, response_of_item
from aigw.responses.render import echo
from aigw.responses.request import ResponsesRequest, chat_body, input_items, parse_request
from aigw.responses.store import Order, ResponseStore, StoredResponse, page_of_items

DEFAULT_TTL_S = 30 * 86_400
MAX_LIST_LIMIT = 100
# item_references are resolved from the newest response they name (whose stored conversation
# holds the older ones in a linear history): one read; a branched history may need more.
MAX_REFERENCED_RESPONSES = 8
_log = logging.getLogger(__name__)


class ResponseNotFound(GatewayError):
    """404 for a response id that is unknown, expired, deleted or another tenant's (all alike).
    Not `NotFound`: that one's code says model_not_found; OpenAI's carries no code."""

    status = 404
    type = "invalid_request_error"


@dataclass(slots=True)
class Prepared:
    """One create request, ready for the pipeline."""

    request: ResponsesRequest
    data: dict[str, Any]  # the client's body as sent
    namespace: str
    response_id: str
    created_at: int
    prior: list[dict[str, Any]]  # the stored conversation this continues ([] without previous_response_id)
    input: list[dict[str, Any]]  # this turn's input items, normalized (ids included)
    body: dict[str, Any]  # the canonical Chat Completions body
    ids: ItemIds  # names this response's items (the codec continues it)
    native_tools: frozenset[str] = field(default_factory=frozenset)

    @property
    def stream(self) -> bool:
        return bool(self.request.stream)


class ResponsesService:
    def __init__(self, store: ResponseStore, *, ttl_s: int = DEFAULT_TTL_S, namespace: Namespacing = "team",
                 clock: Callable[[], float] = time.time,
                 on_store_error: Callable[[BaseException], None] | None = None) -> None:
        self.store = store
        self.ttl_s = ttl_s
        self.namespacing: Namespacing = namespace
        self._clock = clock
        self._on_store_error = on_store_error or (lambda exc: _log.error("storing a response failed: %s",
                                                                         type(exc).__name__))

    @classmethod
    def from_config(cls, config: ResponsesConfig, table: Callable[[], Any], **kwargs: Any) -> ResponsesService:
        """On the Responses table (`lambda: aws.table(names.RESPONSES)`), as configured."""
        from aigw.responses.store import DynamoResponseStore

        return cls(DynamoResponseStore(table), ttl_s=config.store_ttl_s, namespace=config.namespace, **kwargs)

    def namespace(self, key: KeyRecord) -> str:
        return namespace_for(key, self.namespacing)

    # ---- create ---------------------------------------------------------------------------------
    async def prepare(self, data: dict[str, Any], key: KeyRecord, *,
                      native_tools: Collection[str] = ()) -> Prepared:
        """Validate and translate. The request's one state read: the previous response (with
        previous_response_id), else the newest response its item_references name.

        `native_tools`: built-in tool families (web_search, file_search, computer,
        code_interpreter, ...) the model's deployments run natively; any other built-in tool
        is a 400 naming it."""
        natives = frozenset(native_tools)
        request = parse_request(data)
        response_id = new_response_id(self._clock())
        ids = ItemIds(response_id)
        new_items = input_items(request, natives, ids)
        namespace = self.namespace(key)
        prior: list[dict[str, Any]] = []
        known: dict[str, dict[str, Any]] = {}
        if request.previous_response_id is not None:
            stored = await self.store.get(namespace, request.previous_response_id)
            if stored is None:
                raise InvalidRequest(f"Previous response with id {request.previous_response_id!r} not found.",
                                     param="previous_response_id", code="previous_response_not_found")
            prior = stored.conversation
            known = {str(item.get("id")): item for item in prior}
        new_items = await self._resolve(namespace, new_items, known)
        body = chat_body(request, prior + new_items, native_tools=natives)
        return Prepared(request=request, data=data, namespace=namespace, response_id=response_id,
                        created_at=int(self._clock()), prior=prior, input=new_items, body=body, ids=ids,
                        native_tools=natives)

    async def _resolve(self, namespace: str, items: list[dict[str, Any]],
                       known: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
        """Replace each item_reference by the stored item it names (the AI SDK sends these for
        earlier output when `store` is on). Reads the newest response named first."""
        wanted = {item["id"] for item in items if item["type"] == "item_reference"} - set(known)
        tried: set[str] = set()
        while wanted:
            owners = sorted({r for r in map(response_of_item, wanted) if r is not None} - tried)
            if not owners or len(tried) >= MAX_REFERENCED_RESPONSES:
                missing = sorted(wanted)[0]
                raise InvalidRequest(f"item_reference {missing!r}: no stored item with this id",
                                     param="input", code="item_not_found")
            newest = owners[-1]
            tried.add(newest)
            stored = await self.store.get(namespace, newest)
            for item in stored.conversation if stored is not None else []:
                known.setdefault(str(item.get("id")), item)
            wanted -= set(known)
        return [dict(known[item["id"]]) if item["type"] == "item_reference" else item for item in items]

    def codec(self, prepared: Prepared) -> ResponsesCodec:
        return ResponsesCodec(response_id=prepared.response_id, created_at=prepared.created_at,
                              model=prepared.request.model, echo=echo(prepared.request, prepared.native_tools),
                              ids=prepared.ids)

    def native_body(self, prepared: Prepared) -> dict[str, Any]:
        """The client's body for an upstream Responses endpoint (OpenAI, Azure): the stored
        conversation inlined (that upstream does not know the gateway's ids), never stored there."""
        body = {k: v for k, v in prepared.data.items() if k != "previous_response_id"}
        items = [_native_item(item, this_turn=False) for item in prepared.prior]
        items += [_native_item(item, this_turn=True) for item in prepared.input]
        body["input"] = [item for item in items if item is not None]
        body["store"] = False
        return body

    async def deliver(self, prepared: Prepared, codec: ResponsesCodec, outcome: Outcome) -> Outcome:
        """The pipeline's outcome for this request, with the response stored as it must be: a
        JSON body before it is returned, a stream before its terminal event goes out."""
        if isinstance(outcome, JsonOutcome):
            if outcome.status == 200:
                try:
                    await self.save(prepared, codec.final)
                except Exception as exc:  # the answer is paid for: still deliver it
                    self._on_store_error(exc)
            return outcome
        return StreamOutcome(self.persist_stream(prepared, codec, outcome.body), outcome.headers, outcome.status)

    async def save(self, prepared: Prepared, response: dict[str, Any] | None) -> bool:
        """Store a finished response if the request asked to (`store`, default true); failed
        responses are not stored. True when stored."""
        if response is None or not prepared.request.stores or response.get("status") not in ("completed",
                                                                                            "incomplete"):
            return False
        conversation = prepared.prior + prepared.input + list(response.get("output") or [])
        stored = StoredResponse(response, conversation, len(prepared.prior), len(prepared.prior) + len(prepared.input))
        await self.store.put(prepared.namespace, stored, self.ttl_s)
        return True

    async def persist_stream(self, prepared: Prepared, codec: ResponsesCodec,
                             frames: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        """The client's stream, with the response stored before the frame that ends it goes
        out: a client that reads `response.completed` can continue from it at once."""
        saved = False
        try:
            async for chunk in frames:
                if not saved and codec.final is not None:
                    saved = True
                    with anyio.CancelScope(shield=True):
                        try:
                            await self.save(prepared, codec.final)
                        except Exception as exc:  # the answer still reaches the client
                            self._on_store_error(exc)
                yield chunk
        finally:
            aclose = getattr(frames, "aclose", None)
            if aclose is not None:
                await aclose()

    # ---- GET, DELETE, input_items -------------------------------------------------------------------
    async def _stored(self, key: KeyRecord, response_id: str) -> StoredResponse:
        stored = await self.store.get(self.namespace(key), response_id)
        if stored is None:
            raise ResponseNotFound(f"Response with id {response_id!r} not found.", param="response_id")
        return stored

    async def get(self, key: KeyRecord, response_id: str) -> dict[str, Any]:
        return (await self._stored(key, response_id)).response

    async def delete(self, key: KeyRecord, response_id: str) -> dict[str, Any]:
        if not await self.store.delete(self.namespace(key), response_id):
            raise ResponseNotFound(f"Response with id {response_id!r} not found.", param="response_id")
        return {"id": response_id, "object": "response.deleted", "deleted": True}

    async def input_items(self, key: KeyRecord, response_id: str, query: Mapping[str, str]) -> dict[str, Any]:
        """`query`: the request's query parameters (after, limit 1-100 default 20, order asc|desc
        default desc); `include` is accepted and has nothing to add."""
        after, limit, order = list_params(query)
        stored = await self._stored(key, response_id)
        try:
            return page_of_items(stored.input_items, after=after, limit=limit, order=order)
        except LookupError:
            raise InvalidRequest(f"after: no input item {after!r} in this response", param="after") from None


def list_params(query: Mapping[str, str]) -> tuple[str | None, int, Order]:
    raw_limit = query.get("limit", "20")
    if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= MAX_LIST_LIMIT:
        raise InvalidRequest(f"limit must be an integer from 1 to {MAX_LIST_LIMIT}", param="limit")
    order = query.get("order", "desc")
    if order == "asc":
        return query.get("after") or None, int(raw_limit), "asc"
    if order != "desc":
        raise InvalidRequest("order must be 'asc' or 'desc'", param="order")
    return query.get("after") or None, int(raw_limit), "desc"


def _native_item(item: dict[str, Any], *, this_turn: bool) -> dict[str, Any] | None:
    """A stored item as input for an upstream Responses API, in the forms it takes without the
    gateway's ids (unknown upstream). Reasoning is sent back only as the client itself sent it
    this turn: stored reasoning (or a resolved item_reference to it) may be another provider's."""
    kind = item.get("type")
    if kind == "reasoning":
        own = response_of_item(str(item.get("id", ""))) is not None
        return dict(item) if this_turn and not own and item.get("encrypted_content") else None
    if kind == "message" and item.get("role") == "assistant":
        text = "".join(p.get("text", "") for p in item.get("content") or [] if p.get("type") == "output_text")
        return {"type": "message", "role": "assistant", "content": text}
    if kind in ("message", "function_call", "function_call_output"):
        return {k: v for k, v in item.items() if k not in ("id", "status")}
    return dict(item)  # a natively run built-in tool's item, as that upstream made it
