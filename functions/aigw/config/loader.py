"""Load, validate and complete a config: every deployment leaves here with a price.

Price precedence, most specific first: the deployment's `price`, the model's `price`,
then the built-in table by upstream model id. A routable deployment with none of these
is a load-time error: the gateway never prices a call at a silent 0.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from aigw.config.models import GatewayConfig
from aigw.names import ENV_CONFIG_PATH
from aigw.pricing.table import builtin_price


class ConfigError(ValueError):
    """The config file cannot be used; the message lists every problem found."""


def load_config(data: dict[str, Any] | None) -> GatewayConfig:
    try:
        config = GatewayConfig.model_validate(data or {})
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '(root)'}: {err['msg']}" for err in exc.errors()
        )
        raise ConfigError(f"invalid config: {problems}") from None
    missing: list[str] = []
    models = []
    for model in config.models:
        deployments = []
        for deployment in model.deployments:
            price = deployment.price or model.price or builtin_price(deployment.model)
            if price is None:
                missing.append(f"{model.name} -> {deployment.deployment_id}")
            deployments.append(deployment.model_copy(update={"price": price}))
        models.append(model.model_copy(update={"deployments": deployments}))
    if missing:
        raise ConfigError(
            "no price for: " + ", ".join(missing)
            + ". Add `price: {input_per_mtok: ..., output_per_mtok: ...}` to the model or deployment."
        )
    return config.model_copy(update={"models": models})


def load_config_file(path: str | os.PathLike[str] | None = None) -> GatewayConfig:
    """Read YAML or JSON from `path`, or from $AIGW_CONFIG; no file means an empty config."""
    path = path or os.environ.get(ENV_CONFIG_PATH)
    if not path:
        return load_config({})
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read config {file}: {exc.strerror}") from None
    return load_config(parse_config_text(text, source=str(file)))


def parse_config_text(text: str, *, source: str = "<config>") -> dict[str, Any]:
    if source.endswith(".json"):
        data = json.loads(text)
    else:
        import yaml  # only needed for YAML; JSON configs (as shipped to Lambda) skip the import

        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ConfigError(f"{source} is not valid YAML: {exc}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: the top level must be a mapping")
    return data
