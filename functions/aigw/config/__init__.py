"""The one configuration file (docs/DESIGN.md §3): its schema and its loader."""

from aigw.config.loader import ConfigError, load_config, load_config_file
from aigw.config.models import (
    CacheConfig,
    Deployment,
    GatewayConfig,
    ModelConfig,
    ProviderName,
    RoutingConfig,
    SemanticCacheConfig,
    ServerSettings,
)

__all__ = [
    "CacheConfig",
    "ConfigError",
    "Deployment",
    "GatewayConfig",
    "ModelConfig",
    "ProviderName",
    "RoutingConfig",
    "SemanticCacheConfig",
    "ServerSettings",
    "load_config",
    "load_config_file",
]
