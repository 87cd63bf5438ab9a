"""A fake OpenSearch Serverless data plane on loopback, for the semantic cache.

moto has only the OpenSearch Serverless control plane (docs/DESIGN.md §8), so this speaks the
data plane's wire format for the three calls the cache makes, and is strict about them:

  PUT  /<index>          the documented knn_vector mapping (faiss, hnsw, innerproduct)
  POST /<index>/_doc     a document with an `embedding` of the mapped dimension (no custom
                         ids: vector collections refuse them)
  POST /<index>/_search  the documented k-NN query with an efficient `filter`

Every request must be SigV4-signed for service `aoss` with a matching
`x-amz-content-sha256`; the signature itself is recomputed with the known test secret.
Search is brute force, scored as OpenSearch scores Faiss `innerproduct` (knn-spaces.md).
Anything malformed is a 400 with an OpenSearch-style error, and `problems` records why.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

_AUTH = re.compile(r"^AWS4-HMAC-SHA256 Credential=(?P<key>[^/]+)/(?P<date>\d{8})/(?P<region>[a-z0-9-]+)/aoss/"
                   r"aws4_request, SignedHeaders=(?P<signed>[a-z0-9;-]+), Signature=(?P<sig>[0-9a-f]{64})$")


class Malformed(Exception):
    pass


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise Malformed(message)


@dataclass
class FakeOpenSearch:
    secret_key: str = "testing"
    session_token: str | None = None
    fail_with: int | None = None  # answer every data request with this status
    indexes: dict[str, dict[str, Any]] = field(default_factory=dict)  # name -> mapping body
    documents: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    requests: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    # ---- checks ------------------------------------------------------------------------------
    def _check_signature(self, request: Request, raw: bytes) -> None:
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest
        from botocore.credentials import Credentials

        auth = request.headers.get("authorization", "")
        match = _AUTH.match(auth)
        _require(match is not None, f"missing or malformed SigV4 Authorization for service aoss: {auth[:80]!r}")
        assert match is not None
        _require(request.headers.get("x-amz-content-sha256") == hashlib.sha256(raw).hexdigest(),
                 "x-amz-content-sha256 missing or not the body's SHA-256")
        _require("x-amz-date" in request.headers, "x-amz-date missing")
        # Recompute the signature over the headers the client says it signed.
        signed = match["signed"].split(";")
        headers = {name: request.headers[name] for name in signed if name in request.headers}
        replay = AWSRequest(method=request.method, url=str(request.url), data=raw, headers=headers)
        replay.context["timestamp"] = request.headers["x-amz-date"]
        signer = SigV4Auth(Credentials(match["key"], self.secret_key, self.session_token), "aoss", match["region"])
        string_to_sign = signer.string_to_sign(replay, signer.canonical_request(replay))
        _require(signer.signature(string_to_sign, replay) == match["sig"], "SigV4 signature does not verify")

    @staticmethod
    def _check_mapping(body: dict[str, Any]) -> int:
        settings = body.get("settings") or {}
        _require(settings.get("index", {}).get("knn") is True or settings.get("index.knn") is True,
                 "settings must enable index.knn")
        props = (body.get("mappings") or {}).get("properties") or {}
        vector = props.get("embedding") or {}
        _require(vector.get("type") == "knn_vector", "embedding must be a knn_vector")
        _require(isinstance(vector.get("dimension"), int) and 1 <= vector["dimension"] <= 16_000, "bad dimension")
        method = vector.get("method") or {}
        _require(method.get("name") == "hnsw" and method.get("engine") == "faiss", "method must be faiss hnsw")
        _require(method.get("space_type") == "innerproduct", "space_type must be innerproduct for unit vectors")
        for name in ("namespace", "model", "scope"):
            _require((props.get(name) or {}).get("type") == "keyword", f"{name} must be a keyword (term filters)")
        return int(vector["dimension"])

    def _check_query(self, index: str, body: dict[str, Any]) -> tuple[list[float], int, list[dict[str, Any]]]:
        _require(set(body) <= {"size", "query", "_source"}, f"unexpected top-level keys {sorted(body)}")
        knn = (body.get("query") or {}).get("knn") or {}
        _require(list(knn) == ["embedding"], "query.knn must target the embedding field only")
        clause = knn["embedding"]
        _require(set(clause) <= {"vector", "k", "filter"}, f"unexpected knn keys {sorted(clause)}")
        vector, k = clause.get("vector"), clause.get("k")
        dimension = self.indexes[index]["mappings"]["properties"]["embedding"]["dimension"]
        _require(isinstance(vector, list) and len(vector) == dimension, "vector must have the mapped dimension")
        _require(isinstance(k, int) and 1 <= k <= 10_000, "k must be a positive integer")
        _require(body.get("size") == k, "size should equal k")
        bool_filter = ((clause.get("filter") or {}).get("bool") or {}).get("filter")
        _require(isinstance(bool_filter, list) and bool_filter, "filter must be bool.filter [...]")
        terms = {next(iter(f["term"])) for f in bool_filter if "term" in f}
        _require({"namespace", "model"} <= terms, "the filter must pin namespace and model")
        return vector, k, bool_filter

    @staticmethod
    def _matches(document: dict[str, Any], clauses: list[dict[str, Any]]) -> bool:
        for clause in clauses:
            if "term" in clause:
                (name, value), = clause["term"].items()
                if document.get(name) != value:
                    return False
            elif "range" in clause:
                (name, bounds), = clause["range"].items()
                value = document.get(name)
                if value is None:
                    return False
                if "gt" in bounds and not value > bounds["gt"]:
                    return False
                if "gte" in bounds and not value >= bounds["gte"]:
                    return False
            else:
                raise Malformed(f"unsupported filter clause {clause}")
        return True

    # ---- routes ------------------------------------------------------------------------------
    async def handle(self, request: Request) -> JSONResponse:
        raw = await request.body()
        try:
            self._check_signature(request, raw)
            body = json.loads(raw) if raw else {}
            self.requests.append((request.method, request.url.path, body))
            if self.fail_with is not None:
                return JSONResponse({"error": "injected failure"}, status_code=self.fail_with)
            return self._route(request.method, request.url.path.strip("/").split("/"), body)
        except (Malformed, ValueError, KeyError) as exc:
            self.problems.append(str(exc))
            return JSONResponse({"error": {"type": "parsing_exception", "reason": str(exc)}, "status": 400},
                                status_code=400)

    def _route(self, method: str, parts: list[str], body: dict[str, Any]) -> JSONResponse:
        index = parts[0]
        if method == "PUT" and len(parts) == 1:
            if index in self.indexes:
                return JSONResponse({"error": {"type": "resource_already_exists_exception"}, "status": 400},
                                    status_code=400)
            self._check_mapping(body)
            self.indexes[index] = body
            self.documents[index] = []
            return JSONResponse({"acknowledged": True, "shards_acknowledged": True, "index": index})
        if index not in self.indexes:
            return JSONResponse({"error": {"type": "index_not_found_exception"}, "status": 404}, status_code=404)
        if method == "POST" and parts[1:] == ["_doc"]:
            dimension = self.indexes[index]["mappings"]["properties"]["embedding"]["dimension"]
            _require(isinstance(body.get("embedding"), list) and len(body["embedding"]) == dimension,
                     "document embedding must have the mapped dimension")
            doc_id = uuid.uuid4().hex[:20]
            self.documents[index].append({"_id": doc_id, **body})
            return JSONResponse({"_index": index, "_id": doc_id, "result": "created"}, status_code=201)
        if method == "POST" and parts[1:] == ["_search"]:
            vector, k, clauses = self._check_query(index, body)
            hits = []
            for document in self.documents[index]:
                if not self._matches(document, clauses):
                    continue
                ip = sum(a * b for a, b in zip(document["embedding"], vector, strict=True))
                score = ip + 1 if ip > 0 else 1 / (1 - ip)  # Faiss innerproduct, knn-spaces.md
                source = {key: v for key, v in document.items() if key not in ("_id", "embedding")}
                hits.append({"_index": index, "_id": document["_id"], "_score": score, "_source": source})
            hits.sort(key=lambda h: -h["_score"])
            return JSONResponse({"took": 1, "timed_out": False,
                                 "hits": {"total": {"value": len(hits[:k]), "relation": "eq"},
                                          "max_score": hits[0]["_score"] if hits else None, "hits": hits[:k]}})
        raise Malformed(f"unsupported request {method} /{'/'.join(parts)}")

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/{path:path}", self.handle, methods=["GET", "PUT", "POST", "DELETE"])])
