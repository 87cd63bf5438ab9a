"""The two Lambda functions: the gateway (ASGI under Lambda Web Adapter, streaming) and admin.

Both run `functions/` as their code (with CPython 3.13 bytecode, `infra/assets.py`) on
python3.13/arm64 with X-Ray tracing, a log group with a retention, reserved concurrency, and a
role of their own that starts empty: besides writing its own logs and traces, every permission
is a grant the stack makes.
"""

from __future__ import annotations

from pathlib import Path

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from aigw.names import GATEWAY_PORT, HEALTH_PATH
from infra.assets import CODE_EXCLUDE, function_code
from infra.bytecode import Bytecode
from infra.constructs.layers import ARCHITECTURE, RUNTIME

GATEWAY_HANDLER = "gateway/run.sh"  # execs uvicorn; Lambda Web Adapter proxies invocations to it
ADMIN_HANDLER = "admin.main.handler"
GATEWAY_TIMEOUT = cdk.Duration.minutes(15)  # the longest a streamed response may run (API Gateway's cap)
ADMIN_TIMEOUT = cdk.Duration.seconds(29)
__all__ = ["ADMIN_HANDLER", "CODE_EXCLUDE", "GATEWAY_HANDLER", "Functions"]

WEB_ADAPTER_ENVIRONMENT = {
    "AWS_LAMBDA_EXEC_WRAPPER": "/opt/bootstrap",
    "AWS_LWA_INVOKE_MODE": "response_stream",
    "AWS_LWA_PORT": str(GATEWAY_PORT),
    "AWS_LWA_READINESS_CHECK_PATH": HEALTH_PATH,
    # run.sh starts a new interpreter: give it the code and the dependency layer.
    "PYTHONPATH": "/var/task:/opt/python",
}


class Functions(Construct):
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        code_dir: Path,
        gateway_layers: list[lambda_.ILayerVersion],
        admin_layers: list[lambda_.ILayerVersion],
        environment: dict[str, str],
        log_retention: logs.RetentionDays,
        gateway_memory_mb: int,
        admin_memory_mb: int,
        bytecode: Bytecode,
        gateway_reserved_concurrency: int | None = None,
        admin_reserved_concurrency: int | None = None,
        encryption_key: kms.IKey | None = None,
    ) -> None:
        super().__init__(scope, id)
        self._encryption_key = encryption_key
        self.log_groups: dict[str, logs.LogGroup] = {}
        code = function_code(code_dir, bytecode)
        self.gateway = self._function(
            "Gateway", code=code, handler=GATEWAY_HANDLER, layers=gateway_layers,
            environment={**environment, **WEB_ADAPTER_ENVIRONMENT},
            memory_mb=gateway_memory_mb, timeout=GATEWAY_TIMEOUT, log_retention=log_retention,
            reserved_concurrency=gateway_reserved_concurrency,
            description="aigw data plane: OpenAI/Anthropic-compatible API, streamed through Lambda Web Adapter",
        )
        self.admin = self._function(
            "Admin", code=code, handler=ADMIN_HANDLER, layers=admin_layers, environment=environment,
            memory_mb=admin_memory_mb, timeout=ADMIN_TIMEOUT, log_retention=log_retention,
            reserved_concurrency=admin_reserved_concurrency,
            description="aigw control plane: teams, keys and budgets (IAM-authorized)",
        )

    @property
    def all(self) -> tuple[lambda_.Function, ...]:
        return (self.gateway, self.admin)

    def _function(self, name: str, *, code: lambda_.Code, handler: str, layers: list[lambda_.ILayerVersion],
                  environment: dict[str, str], memory_mb: int, timeout: cdk.Duration,
                  log_retention: logs.RetentionDays, reserved_concurrency: int | None,
                  description: str) -> lambda_.Function:
        log_group = logs.LogGroup(self, f"{name}Logs", retention=log_retention, encryption_key=self._encryption_key,
                                  removal_policy=cdk.RemovalPolicy.DESTROY)
        self.log_groups[name] = log_group
        role = iam.Role(self, f"{name}Role", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
                        description=f"aigw {name.lower()} function")
        function = lambda_.Function(
            self, name,
            runtime=RUNTIME,
            architecture=ARCHITECTURE,
            code=code,
            handler=handler,
            layers=layers,
            environment=environment,
            memory_size=memory_mb,
            timeout=timeout,
            role=role,
            log_group=log_group,
            tracing=lambda_.Tracing.ACTIVE,
            reserved_concurrent_executions=reserved_concurrency,
            environment_encryption=self._encryption_key,
            description=description,
        )
        log_group.grant_write(role)  # its own logs: the one permission the function grants itself
        return function
