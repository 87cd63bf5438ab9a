"""The semantic cache's OpenSearch Serverless collection: present only when enabled, policies tight."""

from __future__ import annotations

import json

import pytest

from aigw.names import ENV_VECTOR_COLLECTION_ENDPOINT
from infra.constructs.vector_cache import collection_name
from tests.infra.conftest import GATEWAY_HANDLER, Synth, flatten, function, role_id

AOSS = ("AWS::OpenSearchServerless::Collection", "AWS::OpenSearchServerless::SecurityPolicy",
        "AWS::OpenSearchServerless::AccessPolicy")


def _policy(synth: Synth, kind: str) -> list[dict[str, object]] | dict[str, object]:
    type_ = "AWS::OpenSearchServerless::AccessPolicy" if kind == "data" else "AWS::OpenSearchServerless::SecurityPolicy"
    found = [r["Properties"] for r in synth.resources(type_, {"Type": kind}).values()]
    assert len(found) == 1
    return json.loads(flatten(found[0]["Policy"]))


def test_absent_when_the_semantic_cache_is_off(default: Synth, empty: Synth) -> None:
    for synth in (default, empty):
        for type_ in AOSS:
            synth.template.resource_count_is(type_, 0)
        _, props = function(synth, GATEWAY_HANDLER)
        assert ENV_VECTOR_COLLECTION_ENDPOINT not in props["Environment"]["Variables"]


def test_vectorsearch_collection_with_standby_from_config(semantic: Synth) -> None:
    semantic.template.has_resource_properties("AWS::OpenSearchServerless::Collection", {
        "Name": "aigw-test-cache", "Type": "VECTORSEARCH", "StandbyReplicas": "ENABLED",
    })
    collection_id = next(iter(semantic.resources("AWS::OpenSearchServerless::Collection")))
    depends = semantic.json["Resources"][collection_id]["DependsOn"]
    policies = semantic.resources("AWS::OpenSearchServerless::SecurityPolicy")
    assert sorted(depends) == sorted(policies)  # encryption and network exist before the collection


def test_encryption_uses_an_aws_owned_key(semantic: Synth) -> None:
    assert _policy(semantic, "encryption") == {
        "Rules": [{"ResourceType": "collection", "Resource": ["collection/aigw-test-cache"]}],
        "AWSOwnedKey": True,
    }


def test_network_opens_the_collection_endpoint_only(semantic: Synth) -> None:
    assert _policy(semantic, "network") == [{
        "Rules": [{"ResourceType": "collection", "Resource": ["collection/aigw-test-cache"]}],
        "AllowFromPublic": True,
    }]


def test_data_access_is_for_the_gateway_role_on_this_collection_only(semantic: Synth) -> None:
    policy = _policy(semantic, "data")
    assert isinstance(policy, list) and len(policy) == 1
    (rules,) = policy
    assert rules["Principal"] == [f"${{{role_id(semantic, GATEWAY_HANDLER)}.Arn}}"]
    resources = {rule["ResourceType"]: rule["Resource"] for rule in rules["Rules"]}  # type: ignore[attr-defined]
    assert resources == {"collection": ["collection/aigw-test-cache"], "index": ["index/aigw-test-cache/*"]}
    permissions = {p for rule in rules["Rules"] for p in rule["Permission"]}  # type: ignore[attr-defined]
    assert "aoss:*" not in permissions and "aoss:DeleteIndex" not in permissions


def test_gateway_gets_the_endpoint(semantic: Synth) -> None:
    collection_id = next(iter(semantic.resources("AWS::OpenSearchServerless::Collection")))
    _, props = function(semantic, GATEWAY_HANDLER)
    assert props["Environment"]["Variables"][ENV_VECTOR_COLLECTION_ENDPOINT] == {
        "Fn::GetAtt": [collection_id, "CollectionEndpoint"]}


@pytest.mark.parametrize(("stack_name", "expected"), [
    ("aigw", "aigw-cache"),
    ("AIGW-Prod", "aigw-prod-cache"),
    ("a" * 60, "a" * 22 + "-cache"),
    ("Gateway2", "gateway2-cache"),
])
def test_collection_names_fit_opensearch_rules(stack_name: str, expected: str) -> None:
    name = collection_name(stack_name)
    assert name == expected
    assert len(name + "-enc") <= 32
