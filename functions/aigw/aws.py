"""boto3 handles for one process, created on first use (client creation costs ~50 ms each).

Every handle is a named, injectable field: tests and the local runner pass their own.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from typing import Any

from aigw.names import TableSpec


def table_name(spec: TableSpec) -> str:
    return os.environ.get(spec.env_var, spec.default_name)


@dataclass
class AwsResources:
    dynamodb: Any = None  # boto3 DynamoDB ServiceResource
    secrets: Any = None  # boto3 Secrets Manager client
    bedrock_runtime: Any = None  # an injected bedrock-runtime client, used for every region (tests)
    events: Any = None  # boto3 EventBridge client (budget alerts)
    _tables: dict[str, Any] = field(default_factory=dict, repr=False)
    _bedrock: dict[str | None, Any] = field(default_factory=dict, repr=False)
    # The startup warm-up runs in a thread beside the first requests: handles are made once.
    _lock: threading.RLock = field(default_factory=threading.RLock, repr=False)

    def dynamodb_resource(self) -> Any:
        if self.dynamodb is None:
            with self._lock:
                if self.dynamodb is None:
                    import boto3

                    self.dynamodb = boto3.resource("dynamodb")
        return self.dynamodb

    def dynamodb_client(self) -> Any:
        return self.dynamodb_resource().meta.client

    def table(self, spec: TableSpec) -> Any:
        if spec.logical_id not in self._tables:
            with self._lock:
                if spec.logical_id not in self._tables:
                    self._tables[spec.logical_id] = self.dynamodb_resource().Table(table_name(spec))
        return self._tables[spec.logical_id]

    def secrets_client(self) -> Any:
        if self.secrets is None:
            with self._lock:
                if self.secrets is None:
                    import boto3

                    self.secrets = boto3.client("secretsmanager")
        return self.secrets

    def bedrock_runtime_client(self, region: str | None = None) -> Any:
        """One bedrock-runtime client per region (Titan embeddings, Bedrock Guardrails)."""
        if self.bedrock_runtime is not None:
            return self.bedrock_runtime
        if region not in self._bedrock:
            with self._lock:
                if region not in self._bedrock:
                    import boto3

                    self._bedrock[region] = boto3.client("bedrock-runtime", region_name=region)
        return self._bedrock[region]

    def events_client(self) -> Any:
        """EventBridge, with short timeouts: an alert waits for nothing a client does."""
        if self.events is None:
            import boto3
            from botocore.config import Config

            self.events = boto3.client("events", config=Config(connect_timeout=2, read_timeout=5,
                                                               retries={"max_attempts": 4, "mode": "standard"}))
        return self.events
