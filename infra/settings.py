"""Everything the stack is built from: the config file and a few CDK context values.

The config file is the one input (docs/DESIGN.md §3); it is validated here with the runtime's own
models, so a config the gateway would reject fails `cdk synth`, never a deploy. Context values
are the knobs that are about the AWS deployment rather than the gateway's behaviour; each has
a default, and `cdk.json` or `-c key=value` overrides it (values from `-c` arrive as strings).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol, TypeVar

from aigw.config import GatewayConfig, load_config_file
from aigw.names import DEFAULT_SECRET_PREFIX

ROOT = Path(__file__).resolve().parent.parent
"""The repository root: asset paths are resolved from here, not from the working directory."""

DEFAULT_CONFIG = "examples/aigw.yaml"
DEFAULT_STACK_NAME = "aigw"
# CloudWatch Logs' allowed retentions, by the name of their `aws_logs.RetentionDays` member.
LOG_RETENTION_DAYS = {
    1: "ONE_DAY", 3: "THREE_DAYS", 5: "FIVE_DAYS", 7: "ONE_WEEK", 14: "TWO_WEEKS", 30: "ONE_MONTH",
    60: "TWO_MONTHS", 90: "THREE_MONTHS", 120: "FOUR_MONTHS", 150: "FIVE_MONTHS", 180: "SIX_MONTHS",
    365: "ONE_YEAR", 400: "THIRTEEN_MONTHS", 545: "EIGHTEEN_MONTHS", 731: "TWO_YEARS", 1096: "THREE_YEARS",
    1827: "FIVE_YEARS", 2192: "SIX_YEARS", 2557: "SEVEN_YEARS", 2922: "EIGHT_YEARS", 3288: "NINE_YEARS",
    3653: "TEN_YEARS",
}


# Reserved concurrency (README, "Blast radius"): Lambda keeps at least this much of the account's
# concurrency unreserved, so the stack's reservations must leave it.
LAMBDA_MIN_UNRESERVED = 100
DEFAULT_ACCOUNT_CONCURRENCY = 1000  # the default Lambda concurrency quota of an account and region
BytecodeMode = Literal["auto", "required", "off", "docker"]
BYTECODE_MODES: tuple[BytecodeMode, ...] = ("auto", "required", "off", "docker")
UNRESERVED = ("none", "off", "unreserved")

_N = TypeVar("_N", int, float)


class SettingsError(ValueError):
    """A context value is unusable; the message names the key and what it accepts."""


class _ContextReader(Protocol):
    def try_get_context(self, key: str) -> Any: ...


@dataclass(frozen=True, kw_only=True)
class Settings:
    config: GatewayConfig
    config_path: Path
    stack_name: str = DEFAULT_STACK_NAME
    secret_prefix: str = DEFAULT_SECRET_PREFIX
    web_adapter_layer_arn: str | None = None  # None: the public arm64 layer in the stack's region
    skip_deps_bundling: bool = False  # tests only: a placeholder instead of the pip-built layer
    alarm_email: str | None = None
    log_retention_days: int = 30
    throttle_rate_limit: float = 100.0  # requests per second, whole stage
    throttle_burst_limit: int = 200
    spend_alarm_usd_per_hour: float = 50.0
    gateway_memory_mb: int = 1024
    admin_memory_mb: int = 512
    web_acl_arn: str | None = None  # an existing regional WAFv2 web ACL to associate with the stage
    # Reserved concurrency: the most instances each function may run, and a floor no other function
    # can take from it. None: unreserved (shares the account's pool; for accounts with a tiny quota).
    gateway_reserved_concurrency: int | None = 200
    admin_reserved_concurrency: int | None = 5
    account_concurrency: int = DEFAULT_ACCOUNT_CONCURRENCY  # the account's Lambda quota, for the check
    # .pyc for the runtime's CPython in every layer and function asset (infra/bytecode.py):
    # auto = compile when a CPython 3.13 can be found or fetched, else ship sources with a warning;
    # required = fail without one; off = sources only; docker = let CDK build in the SAM image.
    bytecode: BytecodeMode = "auto"
    kms: bool = False  # one customer-managed KMS key for the tables, secrets, log groups and alarm topic
    audit_export: bool = False  # every request's log line to S3 via Firehose, with a Glue table for Athena
    audit_retention_days: int = 400  # how long the audit bucket keeps a day's objects

    @property
    def vector_collection(self) -> bool:
        """The semantic cache is on (globally or for some team/project/key) and not forced in-process."""
        cache = self.config.cache
        return cache.any_semantic and cache.semantic.backend != "local"

    @property
    def bedrock_models(self) -> list[tuple[str | None, str]]:
        """(region or None for the stack's, model id) the gateway may invoke on Bedrock.

        The configured Bedrock deployments, plus Titan when the semantic cache embeds with it:
        `embedder: titan`, or `auto` with no `embedding_model` and the OpenSearch backend.
        """
        models = list(self.config.bedrock_models)
        semantic = self.config.cache.semantic
        titan = semantic.embedder == "titan" or (
            semantic.embedder == "auto" and semantic.embedding_model is None and semantic.backend != "local")
        if self.config.cache.any_semantic and titan:
            models.append((semantic.region, semantic.titan_model_id))
        return models

    @classmethod
    def from_context(cls, node: _ContextReader) -> Settings:
        """Read the context of `node` (a construct's `.node`); raise ConfigError or SettingsError.

        Absent or empty context values keep the defaults above.
        """
        given = _text(node, "config")
        path = Path(given).absolute() if given else ROOT / DEFAULT_CONFIG
        config = load_config_file(path)
        given_values: dict[str, Any] = {
            "stack_name": _text(node, "stack_name"),
            "secret_prefix": _text(node, "secret_prefix"),
            "web_adapter_layer_arn": _text(node, "lwa_layer_arn"),
            "skip_deps_bundling": _flag(node, "skip_deps_bundling"),
            "alarm_email": _text(node, "alarm_email"),
            "log_retention_days": _number(node, "log_retention_days", int),
            "throttle_rate_limit": _number(node, "throttle_rate_limit", float),
            "throttle_burst_limit": _number(node, "throttle_burst_limit", int),
            "spend_alarm_usd_per_hour": _number(node, "spend_alarm_usd_per_hour", float),
            "gateway_memory_mb": _number(node, "gateway_memory_mb", int),
            "admin_memory_mb": _number(node, "admin_memory_mb", int),
            "web_acl_arn": _text(node, "web_acl_arn"),
            "gateway_reserved_concurrency": _reservation(node, "gateway_reserved_concurrency"),
            "admin_reserved_concurrency": _reservation(node, "admin_reserved_concurrency"),
            "account_concurrency": _number(node, "account_concurrency", int),
            "bytecode": _choice(node, "bytecode", BYTECODE_MODES),
            "kms": _flag(node, "kms"),
            "audit_export": _flag(node, "audit_export"),
            "audit_retention_days": _number(node, "audit_retention_days", int),
        }
        chosen: dict[str, Any] = {field: None if value is _UNRESERVED else value
                                  for field, value in given_values.items() if value is not None}
        settings = cls(config=config, config_path=path, **chosen)
        settings.check()
        return settings

    def check(self) -> None:
        if not re.fullmatch(r"[A-Za-z][A-Za-z0-9-]{0,99}", self.stack_name):
            raise SettingsError("stack_name: letters, digits and '-', starting with a letter")
        if not re.fullmatch(r"[A-Za-z0-9/_+=.@-]{0,400}", self.secret_prefix):
            raise SettingsError("secret_prefix: the characters Secrets Manager allows in a name")
        if self.log_retention_days not in LOG_RETENTION_DAYS:
            raise SettingsError(f"log_retention_days: one of {', '.join(map(str, LOG_RETENTION_DAYS))}")
        if self.throttle_rate_limit <= 0 or self.throttle_burst_limit <= 0:
            raise SettingsError("throttle_rate_limit and throttle_burst_limit must be positive")
        if self.spend_alarm_usd_per_hour <= 0:
            raise SettingsError("spend_alarm_usd_per_hour must be positive")
        for key, mb in (("gateway_memory_mb", self.gateway_memory_mb), ("admin_memory_mb", self.admin_memory_mb)):
            if not 128 <= mb <= 10240:
                raise SettingsError(f"{key}: 128 to 10240")
        if not 1 <= self.audit_retention_days <= 3650:
            raise SettingsError("audit_retention_days: 1 to 3650")
        self._check_concurrency()

    def _check_concurrency(self) -> None:
        reserved = 0
        for key, count in (("gateway_reserved_concurrency", self.gateway_reserved_concurrency),
                           ("admin_reserved_concurrency", self.admin_reserved_concurrency)):
            if count is not None and count < 1:
                raise SettingsError(f"{key}: at least 1 (0 would stop the function), or 'none' for unreserved")
            reserved += count or 0
        room = self.account_concurrency - LAMBDA_MIN_UNRESERVED
        if reserved > room:
            raise SettingsError(
                f"gateway_reserved_concurrency + admin_reserved_concurrency = {reserved}, but Lambda keeps "
                f"{LAMBDA_MIN_UNRESERVED} of the account's {self.account_concurrency} unreserved: at most {room} "
                "(raise the quota and set account_concurrency, or lower the reservations)")
        if self.bytecode not in BYTECODE_MODES:
            raise SettingsError(f"bytecode: one of {', '.join(BYTECODE_MODES)}")


class _Unreserved:
    """Marks a reservation explicitly turned off (`-c gateway_reserved_concurrency=none`)."""


_UNRESERVED = _Unreserved()


def _reservation(node: _ContextReader, key: str) -> int | _Unreserved | None:
    value = node.try_get_context(key)
    if isinstance(value, str) and value.strip().lower() in UNRESERVED:
        return _UNRESERVED
    return _number(node, key, int)


def _choice(node: _ContextReader, key: str, choices: tuple[BytecodeMode, ...]) -> BytecodeMode | None:
    value = _text(node, key)
    if value is None:
        return None
    if value not in choices:
        raise SettingsError(f"{key}: one of {', '.join(choices)}, not {value!r}")
    return value


def _text(node: _ContextReader, key: str) -> str | None:
    value = node.try_get_context(key)
    if value is None or value == "":
        return None
    return str(value)


def _flag(node: _ContextReader, key: str) -> bool | None:
    value = node.try_get_context(key)
    if value is None or isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("", "0", "false", "no", "off"):
        return False
    raise SettingsError(f"{key}: true or false, not {value!r}")


def _number(node: _ContextReader, key: str, kind: type[_N]) -> _N | None:
    value = node.try_get_context(key)
    if value is None or value == "":
        return None
    try:
        return kind(value)
    except (TypeError, ValueError):
        raise SettingsError(f"{key}: a number, not {value!r}") from None
