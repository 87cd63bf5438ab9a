"""moto in a child process, for the fuzz suite: the same serialized server `aigw dev` runs
(aigw.local.moto_server), but on the other core. Every request that reaches the pipeline
settles its usage in one TransactWriteItems, and moto spends ~12 ms of CPU on each (it
deep-copies the table and parses the update expression); in-process that time holds the
GIL the gateway needs, in a child process it runs beside it."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pytest

from aigw.aws import AwsResources
from aigw.local.moto_server import LOCAL_AWS_ENV
from aigw.local.resources import create_tables

MOTO_CPU_S: list[float] = []  # CPU seconds of each child, for the suite's summary

_SERVE = """
import sys
from aigw.local.moto_server import start_moto
server = start_moto()
print(server.url, flush=True)
sys.stdin.read()  # until the parent closes our stdin (or dies)
server.stop()
"""


@dataclass
class ChildMoto:
    """What a test needs of the session's LocalAws (`.aws`, `.moto.url`), on a child-process moto."""

    aws: AwsResources
    url: str

    @property
    def moto(self) -> ChildMoto:
        return self


@contextmanager
def moto_local() -> Iterator[ChildMoto]:
    """A stand-in for the `local_aws` fixture on a child-process moto: for tests whose load
    is mostly settlement writes, which in-process moto would run under the gateway's GIL."""
    with _child() as (url, aws):
        yield ChildMoto(aws, url)


@pytest.fixture(scope="module", name="local_aws")
def local_aws_in_a_child() -> Iterator[ChildMoto]:
    """The `local_aws` fixture for a module that imports this one: moto (DynamoDB, EventBridge,
    SQS...) in a child process, so a race's settlement writes run beside the gateway, not under
    its GIL."""
    with moto_local() as local:
        yield local


@contextmanager
def moto_process() -> Iterator[AwsResources]:
    """AwsResources on a fresh moto in a child process, with the stack's tables."""
    with _child() as (_, aws):
        yield aws


@contextmanager
def _child() -> Iterator[tuple[str, AwsResources]]:
    import boto3
    from botocore.config import Config

    child = subprocess.Popen([sys.executable, "-c", _SERVE], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             text=True, env={**_env(), **LOCAL_AWS_ENV})
    try:
        assert child.stdout is not None
        url = child.stdout.readline().strip()
        if not url.startswith("http"):
            raise RuntimeError("moto did not start in the child process")
        session = boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing",
                                        aws_session_token="testing", region_name=LOCAL_AWS_ENV["AWS_DEFAULT_REGION"])
        config = Config(max_pool_connections=32)
        create_tables(session.client("dynamodb", endpoint_url=url, config=config))
        yield url, AwsResources(dynamodb=session.resource("dynamodb", endpoint_url=url, config=config),
                                secrets=session.client("secretsmanager", endpoint_url=url, config=config))
    finally:
        if child.stdin is not None:
            child.stdin.close()
        try:
            child.wait(timeout=10)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait(timeout=10)
        MOTO_CPU_S.append(_children_cpu_s() - sum(MOTO_CPU_S))


def _children_cpu_s() -> float:
    """User + system CPU of every child this process has reaped (the suite's moto processes)."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _env() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
