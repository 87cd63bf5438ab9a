"""Least privilege: each function reaches exactly its tables, secrets, models and collection."""

from __future__ import annotations

import json

from constructs import IConstruct

from infra import bedrock
from tests.infra.conftest import ADMIN_HANDLER, GATEWAY_HANDLER, Synth, as_list, role_id, statements

XRAY = {"xray:PutTraceSegments", "xray:PutTelemetryRecords"}


def _grants(synth: Synth, handler: str) -> dict[str, set[str]]:
    """action -> the resources (flattened) it is allowed on, over every statement of the role."""
    grants: dict[str, set[str]] = {}
    for statement in statements(synth, role_id(synth, handler)):
        assert statement["Effect"] == "Allow"
        for action in as_list(statement["Action"]):
            grants.setdefault(action, set()).update(map(str, as_list(statement["Resource"])))
    return grants


def _secret_refs(synth: Synth) -> set[str]:
    return {f"${{{synth.id_of(secret)}}}" for secret in synth.stack.secrets.secrets.values()}


def _policy(synth: Synth, handler: str) -> dict[str, set[str]]:
    """resource (flattened; `<resource> if <condition>` for a conditional statement) -> its allowed actions."""
    policy: dict[str, set[str]] = {}
    for statement in statements(synth, role_id(synth, handler)):
        assert statement["Effect"] == "Allow" and "NotAction" not in statement and "NotResource" not in statement
        condition = f" if {json.dumps(statement['Condition'], sort_keys=True)}" if "Condition" in statement else ""
        for resource in map(str, as_list(statement["Resource"])):
            policy.setdefault(resource + condition, set()).update(as_list(statement["Action"]))
    return policy


def _arn(synth: Synth, construct: IConstruct, attribute: str = "Arn") -> str:
    return f"${{{synth.id_of(construct)}.{attribute}}}"


def _tables(synth: Synth) -> tuple[str, str, str, str]:
    tables = synth.stack.data.tables
    return (_arn(synth, tables["Entities"]), _arn(synth, tables["Counters"]), _arn(synth, tables["Cache"]),
            _arn(synth, tables["Responses"]))


def _logs(synth: Synth, function: IConstruct) -> str:
    log_group = function.node.scope.node.find_child(f"{function.node.id}Logs")  # type: ignore[union-attr]
    return _arn(synth, log_group)


DEFAULT_BUS = "arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:event-bus/default"
INVOKE = {"bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"}
EXAMPLE_MODELS = {  # examples/aigw.yaml's Bedrock deployments
    "arn:${AWS::Partition}:bedrock:${AWS::Region}::foundation-model/amazon.nova-lite-v1:0": INVOKE,
    "arn:${AWS::Partition}:bedrock:us-east-1:${AWS::AccountId}:inference-profile/"
    "us.anthropic.claude-haiku-4-5-20251001-v1:0": INVOKE,
    "arn:${AWS::Partition}:bedrock:*::foundation-model/anthropic.claude-haiku-4-5-20251001-v1:0": INVOKE,
}


def test_gateway_role_is_exactly_this(default: Synth) -> None:
    """Every action the internet-facing role holds, per resource: an addition fails here until written down."""
    entities, counters, cache, responses = _tables(default)
    assert _policy(default, GATEWAY_HANDLER) == {
        "*": XRAY,
        _logs(default, default.stack.functions.gateway): {"logs:CreateLogStream", "logs:PutLogEvents"},
        entities: {"dynamodb:GetItem", "dynamodb:BatchGetItem"},  # keys (auth/store.py), limits (budgets/scopes.py)
        counters: {"dynamodb:UpdateItem", "dynamodb:BatchGetItem"},  # the Update items of its transactions; the view
        cache: {"dynamodb:GetItem", "dynamodb:PutItem"},  # cache/exact.py
        # stored responses, in parts (responses/store.py): read by key, written and deleted in batches
        responses: {"dynamodb:Query", "dynamodb:PutItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem"},
        **{secret: {"secretsmanager:GetSecretValue"} for secret in _secret_refs(default)},
        DEFAULT_BUS: {"events:PutEvents"},  # budget threshold alerts
        **EXAMPLE_MODELS,
    }


def test_admin_role_is_exactly_this(default: Synth) -> None:
    entities, counters, _, _ = _tables(default)
    assert _policy(default, ADMIN_HANDLER) == {
        "*": XRAY,
        _logs(default, default.stack.functions.admin): {"logs:CreateLogStream", "logs:PutLogEvents"},
        entities: {"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem",
                   "dynamodb:Scan"},
        f"{entities}/index/gsi1": {"dynamodb:Query"},  # keys of a team
        counters: {"dynamodb:BatchGetItem", "dynamodb:Query"},  # a scope's counters in one batch; a month's usage
    }


def test_with_kms_each_role_may_use_the_key_for_its_own_data_only(semantic: Synth) -> None:
    assert semantic.stack.encryption is not None
    key = _arn(semantic, semantic.stack.encryption.key)
    encrypt_decrypt = {"kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey"}
    via_secrets = {"StringEquals": {"kms:ViaService": "secretsmanager.${AWS::Region}.amazonaws.com"}}
    gateway = _policy(semantic, GATEWAY_HANDLER)
    assert gateway[key] == encrypt_decrypt  # it writes Cache items and Counters
    assert gateway[f"{key} if {json.dumps(via_secrets, sort_keys=True)}"] == {"kms:Decrypt", "kms:DescribeKey"}
    assert _policy(semantic, ADMIN_HANDLER)[key] == encrypt_decrypt
    for handler in (GATEWAY_HANDLER, ADMIN_HANDLER):
        kms_resources = {r for r, actions in _policy(semantic, handler).items() if any(a.startswith("kms:")
                                                                                       for a in actions)}
        assert {r.split(" if ")[0] for r in kms_resources} == {key}


def test_no_wildcard_actions_and_only_xray_on_any_resource(default: Synth, semantic: Synth) -> None:
    for synth in (default, semantic):
        for handler in (GATEWAY_HANDLER, ADMIN_HANDLER):
            policy = _policy(synth, handler)
            assert not [action for actions in policy.values() for action in actions if "*" in action]
            assert policy["*"] == XRAY


def test_gateway_reads_only_its_secrets(default: Synth) -> None:
    policy = _policy(default, GATEWAY_HANDLER)
    secret_actions = {a for actions in policy.values() for a in actions if a.startswith("secretsmanager:")}
    assert secret_actions == {"secretsmanager:GetSecretValue"}  # no DescribeSecret: Powertools never calls it
    assert {r for r, actions in policy.items() if "secretsmanager:GetSecretValue" in actions} == \
        _secret_refs(default)
    assert len(_secret_refs(default)) == 2


def test_one_secret_per_credential_name(default: Synth) -> None:
    names = {props["Properties"]["Name"] for props in default.resources("AWS::SecretsManager::Secret").values()}
    assert names == {"aigw/openai", "aigw/anthropic"}
    default.template.all_resources_properties("AWS::SecretsManager::Secret", {
        "GenerateSecretString": {"SecretStringTemplate": '{"api_key": ""}', "GenerateStringKey": "placeholder",
                                 "ExcludePunctuation": True, "PasswordLength": 16},
    })


def test_gateway_invokes_exactly_the_configured_bedrock_models(default: Synth) -> None:
    grants = _grants(default, GATEWAY_HANDLER)
    assert {a for a in grants if a.startswith("bedrock:")} == set(bedrock.INVOKE_ACTIONS)
    assert grants["bedrock:InvokeModel"] == grants["bedrock:InvokeModelWithResponseStream"] == {
        "arn:${AWS::Partition}:bedrock:${AWS::Region}::foundation-model/amazon.nova-lite-v1:0",
        "arn:${AWS::Partition}:bedrock:us-east-1:${AWS::AccountId}:inference-profile/"
        "us.anthropic.claude-haiku-4-5-20251001-v1:0",
        "arn:${AWS::Partition}:bedrock:*::foundation-model/anthropic.claude-haiku-4-5-20251001-v1:0",
    }


def test_semantic_cache_adds_titan_and_its_collection(semantic: Synth) -> None:
    grants = _grants(semantic, GATEWAY_HANDLER)
    assert "arn:${AWS::Partition}:bedrock:${AWS::Region}::foundation-model/amazon.titan-embed-text-v2:0" in \
        grants["bedrock:InvokeModel"]
    collection_id = next(iter(semantic.resources("AWS::OpenSearchServerless::Collection")))
    assert grants["aoss:APIAccessAll"] == {f"${{{collection_id}.Arn}}"}
    assert {a for a in grants if a.startswith("aoss:")} == {"aoss:APIAccessAll"}


def test_nothing_to_grant_means_no_statement(empty: Synth) -> None:
    empty.template.resource_count_is("AWS::SecretsManager::Secret", 0)
    grants = _grants(empty, GATEWAY_HANDLER)
    assert not [a for a in grants if a.split(":")[0] in ("secretsmanager", "bedrock", "aoss")]


def _arns(models: list[tuple[str | None, str]]) -> list[str]:
    return bedrock.model_arns(models, region="eu-central-1", account="111122223333")


def test_foundation_model_arn_in_the_deployment_or_stack_region() -> None:
    assert _arns([(None, "amazon.nova-lite-v1:0"), ("us-west-2", "meta.llama3-1-8b-instruct-v1:0")]) == [
        "arn:aws:bedrock:eu-central-1::foundation-model/amazon.nova-lite-v1:0",
        "arn:aws:bedrock:us-west-2::foundation-model/meta.llama3-1-8b-instruct-v1:0",
    ]


def test_inference_profile_grants_the_profile_and_the_model_in_any_region() -> None:
    assert _arns([("eu-west-1", "eu.anthropic.claude-sonnet-4-5-20250929-v1:0"),
                  (None, "global.anthropic.claude-sonnet-4-5-20250929-v1:0")]) == [
        "arn:aws:bedrock:*::foundation-model/anthropic.claude-sonnet-4-5-20250929-v1:0",
        "arn:aws:bedrock:eu-central-1:111122223333:inference-profile/global.anthropic.claude-sonnet-4-5-20250929-v1:0",
        "arn:aws:bedrock:eu-west-1:111122223333:inference-profile/eu.anthropic.claude-sonnet-4-5-20250929-v1:0",
    ]


def test_a_full_arn_is_granted_as_is() -> None:
    arn = "arn:aws:bedrock:us-east-1:111122223333:application-inference-profile/abc123"
    assert _arns([(None, arn)]) == [arn]


def test_provider_names_are_not_mistaken_for_geographies() -> None:
    for model_id in ("amazon.titan-embed-text-v2:0", "mistral.mistral-large-2407-v1:0", "cohere.embed-english-v3"):
        assert not bedrock.is_inference_profile(model_id)
    for model_id in ("us.amazon.nova-pro-v1:0", "apac.anthropic.claude-3-haiku-20240307-v1:0", "us-gov.x.y"):
        assert bedrock.is_inference_profile(model_id)


def test_gateway_applies_exactly_the_configured_bedrock_guardrails(semantic: Synth, default: Synth) -> None:
    policy = _policy(semantic, GATEWAY_HANDLER)
    applied = {r for r, actions in policy.items() if "bedrock:ApplyGuardrail" in actions}
    assert applied == {"arn:${AWS::Partition}:bedrock:eu-west-1:${AWS::AccountId}:guardrail/gr0abc123",
                       "arn:aws:bedrock:us-east-1:123456789012:guardrail/gr9xyz"}
    assert all(policy[r] == {"bedrock:ApplyGuardrail"} for r in applied)
    assert not [r for r, actions in _policy(default, GATEWAY_HANDLER).items() if "bedrock:ApplyGuardrail" in actions]


def test_guardrail_arns() -> None:
    assert bedrock.guardrail_arns([(None, "abc"), ("us-west-2", "def"), (None, "arn:aws:bedrock:x:1:guardrail/g")],
                                  region="eu-central-1", account="111122223333") == [
        "arn:aws:bedrock:eu-central-1:111122223333:guardrail/abc",
        "arn:aws:bedrock:us-west-2:111122223333:guardrail/def",
        "arn:aws:bedrock:x:1:guardrail/g",
    ]
