"""`VectorIndex` on an OpenSearch Serverless vector collection, over httpx, SigV4-signed
with botocore for service `aoss` (no opensearch-py: one pooled client, no extra dependency).

Request shapes, checked against the OpenSearch documentation (documentation-website,
2026-11):
  * index mapping - `_field-types/supported-field-types/knn-vector.md` and the Faiss example
    of `_vector-search/filter-search-knn/efficient-knn-filtering.md`: settings
    `{"index": {"knn": true}}`, a `knn_vector` field with `dimension` and
    `method {name: hnsw, engine: faiss, space_type: innerproduct}`;
  * query - the same page, "Using a Faiss efficient filter": `{"size", "query": {"knn":
    {<field>: {"vector", "k", "filter": {"bool": ...}}}}}`; the filter runs during the
    search (Faiss HNSW, OpenSearch >= 2.9), so k results come back when k exist;
  * scores - `knn-spaces.md`: for Faiss `innerproduct`, d = -(x.y) and score = 1 - d when
    d < 0, 1 / (1 + d) otherwise; vectors are unit length, so x.y is the cosine.
OpenSearch Serverless specifics (AWS docs, "Working with vector search collections"): a
vector collection does not accept custom document ids or `refresh`, so documents are
added with `POST /<index>/_doc` and are searchable after the collection's refresh
interval (about a second); the signed request must carry `x-amz-content-sha256`.
The index is created on first use (`PUT /<index>`; "already exists" is fine). Expired
entries are filtered out by `expires_at`; the collection has no TTL, so old documents
stay until removed (a later issue: a scheduled delete-by-query).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import re
import time
from collections.abc import Callable, Sequence
from typing import Any

import anyio
import httpx

from aigw.cache.vectors import VectorHit, unit

EMBEDDING_FIELD = "embedding"


def index_body(dimensions: int) -> dict[str, Any]:
    return {
        "settings": {"index": {"knn": True}},
        "mappings": {"properties": {
            EMBEDDING_FIELD: {"type": "knn_vector", "dimension": dimensions,
                              "method": {"name": "hnsw", "engine": "faiss", "space_type": "innerproduct"}},
            "namespace": {"type": "keyword"},
            "model": {"type": "keyword"},
            "scope": {"type": "keyword"},
            "expires_at": {"type": "long"},
            "created_at": {"type": "long"},
            "response": {"type": "binary"},  # base64 zlib JSON; kept in _source, not indexed
            "prompt": {"type": "text", "index": False},  # for the lexical guard (cache/guard.py)
        }},
    }


def query_body(namespace: str, model: str, scope: str, vector: Sequence[float], k: int, now: float) -> dict[str, Any]:
    return {
        "size": k,
        "_source": {"excludes": [EMBEDDING_FIELD]},
        "query": {"knn": {EMBEDDING_FIELD: {
            "vector": list(vector),
            "k": k,
            "filter": {"bool": {"filter": [
                {"term": {"namespace": namespace}},
                {"term": {"model": model}},
                {"term": {"scope": scope}},
                {"range": {"expires_at": {"gt": int(now)}}},
            ]}},
        }}},
    }


def cosine_from_score(score: float) -> float:
    """Invert OpenSearch's Faiss `innerproduct` scoring (knn-spaces.md)."""
    return score - 1.0 if score >= 1.0 else 1.0 - 1.0 / score if score > 0 else -1.0


def region_of(endpoint: str) -> str | None:
    match = re.search(r"\.([a-z]{2}(?:-[a-z]+)+-\d)\.aoss\.amazonaws\.com", endpoint)
    return match.group(1) if match else os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")


def _default_credentials() -> Any:
    import boto3

    return boto3.session.Session().get_credentials()


class OpenSearchVectorIndex:
    def __init__(self, endpoint: str, index: str, dimensions: int, *, http: httpx.AsyncClient | None = None,
                 region: str | None = None, credentials: Callable[[], Any] = _default_credentials,
                 clock: Callable[[], float] = time.time, timeout_s: float = 2.0) -> None:
        self.endpoint = endpoint.rstrip("/")
        if not self.endpoint.startswith(("https://", "http://")):
            self.endpoint = "https://" + self.endpoint
        self.index = index
        self.dimensions = dimensions
        self._http = http or httpx.AsyncClient(timeout=httpx.Timeout(timeout_s), trust_env=False,
                                               limits=httpx.Limits(max_keepalive_connections=32))
        self._region = region or region_of(self.endpoint) or "us-east-1"
        self._credentials_factory = credentials
        self._credentials: Any = None
        self._clock = clock
        self._ready = False
        self._ready_lock = asyncio.Lock()

    # ---- transport --------------------------------------------------------------------------
    def _signed_headers(self, method: str, url: str, data: bytes) -> dict[str, str]:
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest

        if self._credentials is None:
            self._credentials = self._credentials_factory()
        request = AWSRequest(method=method, url=url, data=data, headers={
            "Content-Type": "application/json", "x-amz-content-sha256": hashlib.sha256(data).hexdigest()})
        SigV4Auth(self._credentials.get_frozen_credentials(), "aoss", self._region).add_auth(request)
        return dict(request.headers.items())

    async def _request(self, method: str, path: str, body: dict[str, Any]) -> httpx.Response:
        url = f"{self.endpoint}{path}"
        data = json.dumps(body, separators=(",", ":")).encode()
        # Credentials may refresh over the network (container credentials): sign off the loop.
        headers = await anyio.to_thread.run_sync(self._signed_headers, method, url, data)
        return await self._http.request(method, url, content=data, headers=headers)

    async def ensure_index(self) -> None:
        if self._ready:
            return
        async with self._ready_lock:
            if self._ready:
                return
            response = await self._request("PUT", f"/{self.index}", index_body(self.dimensions))
            if response.status_code >= 300 and "resource_already_exists_exception" not in response.text:
                raise RuntimeError(f"creating index {self.index}: HTTP {response.status_code} {response.text[:200]}")
            self._ready = True

    # ---- VectorIndex ---------------------------------------------------------------------------
    async def query(self, namespace: str, model: str, scope: str, vector: Sequence[float],
                    k: int) -> list[VectorHit]:
        await self.ensure_index()
        body = query_body(namespace, model, scope, unit(vector), k, self._clock())
        response = await self._request("POST", f"/{self.index}/_search", body)
        if response.status_code == 404:
            self._ready = False  # deleted behind our back: recreate on the next call
            return []
        if response.status_code >= 300:
            raise RuntimeError(f"vector search: HTTP {response.status_code} {response.text[:200]}")
        hits = []
        for hit in (response.json().get("hits") or {}).get("hits") or []:
            source = hit.get("_source") or {}
            # Defence in depth: the filter already guarantees these; never trust a stray match.
            if (source.get("namespace"), source.get("model"), source.get("scope")) != (namespace, model, scope):
                continue
            hits.append(VectorHit(str(hit.get("_id")), cosine_from_score(float(hit.get("_score") or 0)), source))
        return hits

    async def upsert(self, namespace: str, model: str, scope: str, vector: Sequence[float],
                     payload: dict[str, Any], ttl_s: int) -> str:
        await self.ensure_index()
        now = self._clock()
        document = {**payload, EMBEDDING_FIELD: unit(vector), "namespace": namespace, "model": model,
                    "scope": scope, "expires_at": int(now + ttl_s), "created_at": int(now)}
        response = await self._request("POST", f"/{self.index}/_doc", document)
        if response.status_code >= 300:
            raise RuntimeError(f"vector index: HTTP {response.status_code} {response.text[:200]}")
        return str(response.json().get("_id", ""))

    async def aclose(self) -> None:
        await self._http.aclose()
