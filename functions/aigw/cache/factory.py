"""Pick the cache's store, index and embedder for this process from the config and environment.

    backend auto   OpenSearch Serverless when AIGW_VECTOR_ENDPOINT is set (the deployed stack
                   sets it), else the in-process index (`aigw dev`, tests)
    embedder auto  `embedding_model` when set; else Titan V2 beside OpenSearch; else the local
                   model from `aigw[semantic-local]` - and without it the semantic layer is
                   off, with a warning (the exact layer still works)

Injectable through `AwsResources.extra`: "bedrock-runtime" (a boto3 client),
"cache.embedder", "cache.vector_index".
"""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING, Any

from aigw.cache.embedders import Embedder, LocalEmbedder, ProviderEmbedder, TitanEmbedder, local_embedder_available
from aigw.cache.exact import DynamoExactStore
from aigw.cache.stage import SemanticLayer
from aigw.cache.vectors import LocalVectorIndex, VectorIndex
from aigw.config import ConfigError
from aigw.config.models import GatewayConfig
from aigw.names import CACHE, ENV_VECTOR_COLLECTION_ENDPOINT, ENV_VECTOR_INDEX

if TYPE_CHECKING:
    from aigw.gateway import AwsResources

logger = logging.getLogger("aigw.cache")


def build_exact_store(aws: AwsResources) -> DynamoExactStore:
    return DynamoExactStore(lambda: aws.table(CACHE))


def build_semantic_layer(aws: AwsResources, config: GatewayConfig) -> SemanticLayer | None:
    semantic = config.cache.semantic
    endpoint = os.environ.get(ENV_VECTOR_COLLECTION_ENDPOINT)
    backend = semantic.backend if semantic.backend != "auto" else ("opensearch" if endpoint else "local")
    embedder: Embedder | None = aws.extra.get("cache.embedder") or _embedder(aws, config, backend)
    if embedder is None:
        return None
    index: VectorIndex | None = aws.extra.get("cache.vector_index")
    if index is None and backend == "opensearch":
        if not endpoint:
            raise ConfigError(f"cache.semantic.backend is 'opensearch' but {ENV_VECTOR_COLLECTION_ENDPOINT} is not set")
        from aigw.cache.opensearch import OpenSearchVectorIndex

        index = OpenSearchVectorIndex(endpoint, os.environ.get(ENV_VECTOR_INDEX) or semantic.index_name,
                                      embedder.dimensions)
    return SemanticLayer(embedder=embedder, index=index or LocalVectorIndex(), threshold=semantic.threshold,
                         guard=semantic.guard)


def _embedder(aws: AwsResources, config: GatewayConfig, backend: str) -> Embedder | None:
    semantic = config.cache.semantic
    kind = semantic.embedder
    if kind == "auto":
        kind = "model" if semantic.embedding_model else "titan" if backend == "opensearch" else "local"
    if kind == "local":
        if not local_embedder_available():
            logger.warning("semantic cache off: no local embedder; pip install 'aigw[semantic-local]'")
            return None
        return LocalEmbedder()
    if kind == "titan":
        def client() -> Any:
            if "bedrock-runtime" not in aws.extra:
                import boto3

                aws.extra["bedrock-runtime"] = boto3.client("bedrock-runtime", region_name=semantic.region)
            return aws.extra["bedrock-runtime"]

        return TitanEmbedder(client, model_id=semantic.titan_model_id, dimensions=semantic.dimensions)
    return _provider_embedder(aws, config)


def _provider_embedder(aws: AwsResources, config: GatewayConfig) -> Embedder:
    name = config.cache.semantic.embedding_model
    model = config.model(name) if name else None
    if model is None or model.mode != "embedding":
        raise ConfigError(f"cache.semantic.embedding_model {name!r} must name a configured embedding model")
    from aigw.credentials import CredentialStore
    from aigw.gateway import default_http_client
    from aigw.providers.base import EmbeddingsCall
    from aigw.providers.registry import ProviderRegistry

    deployment = model.deployments[0]
    registry = ProviderRegistry(default_http_client())
    credentials = CredentialStore(aws.secrets_client) if deployment.credentials else None

    async def call(texts: list[str]) -> Any:
        credential = await credentials.get(deployment.credentials) if credentials and deployment.credentials else None
        body = {"model": model.name, "input": texts, "dimensions": config.cache.semantic.dimensions}
        return await registry.embeddings(deployment.provider).embed(
            EmbeddingsCall(body, deployment, credential, "cache-embedding"))

    return ProviderEmbedder(call, name=f"model/{model.name}", dimensions=config.cache.semantic.dimensions)
