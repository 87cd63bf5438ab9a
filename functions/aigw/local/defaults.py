"""The embedded config `aigw dev` uses when given none: the built-in mock provider only."""

from __future__ import annotations

from typing import Any

DEFAULT_CONFIG: dict[str, Any] = {
    "models": [
        {"name": "mock-fast", "deployments": [{"provider": "mock", "model": "mock-fast"}]},
        {"name": "mock-stream", "deployments": [{"provider": "mock", "model": "mock-stream"}]},
        {"name": "mock-embed", "mode": "embedding", "deployments": [{"provider": "mock", "model": "mock-embed"}]},
    ],
}
