"""What each function's role may do, per resource: the action lists, as data, in one place.

Each list is exactly the calls the runtime makes (grep `functions/aigw` for the boto3 method;
DynamoDB authorizes every item inside TransactWriteItems as its own PutItem/UpdateItem/...):

gateway (internet-facing, so the smallest set):
- Entities: GetItem (auth/store.py reads a key record), BatchGetItem (budgets/scopes.py reads the
  team/project/global limits). Never a write: a compromised gateway cannot mint keys or raise budgets.
- Counters: UpdateItem (every item of admission's and settlement's TransactWriteItems is an Update,
  budgets/counters.py), BatchGetItem (the remaining-budget view, budgets/admission.py).
- Cache: GetItem and PutItem (cache/exact.py). No Query or Scan: entries are found by their key only.
- Responses: Query (one stored response's parts, by its key), PutItem, DeleteItem, BatchWriteItem
  (parts past the first, written and deleted in batches; responses/store.py). No Scan.
- its provider secrets: GetSecretValue only (Powertools SecretsProvider.get; no DescribeSecret).
- the configured Bedrock guardrails: ApplyGuardrail (guardrails/bedrock.py).
- the account's default event bus: PutEvents (budget threshold alerts, `aigw.budget.threshold`).
admin (IAM-authorized control plane, admin/service.py and admin/spend.py):
- Entities: GetItem, PutItem, UpdateItem, DeleteItem, Scan (listing teams); Query on its gsi1 index only.
- Counters: BatchGetItem (a scope's counters, in one batch), Query (usage aggregates of one month).

`tests/infra/test_iam.py` spells these lists out again, so changing one is a deliberate act in two places.
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam

from aigw.names import CACHE, COUNTERS, ENTITIES, GSI1, RESPONSES, TableSpec

GET, BATCH_GET, PUT, UPDATE, DELETE = ("dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:PutItem",
                                       "dynamodb:UpdateItem", "dynamodb:DeleteItem")
QUERY, SCAN, BATCH_WRITE = "dynamodb:Query", "dynamodb:Scan", "dynamodb:BatchWriteItem"
WRITES = frozenset({PUT, UPDATE, DELETE, BATCH_WRITE})

GATEWAY_TABLES: dict[TableSpec, tuple[str, ...]] = {
    ENTITIES: (GET, BATCH_GET),
    COUNTERS: (UPDATE, BATCH_GET),
    CACHE: (GET, PUT),
    RESPONSES: (QUERY, PUT, DELETE, BATCH_WRITE),
}
ADMIN_TABLES: dict[TableSpec, tuple[str, ...]] = {
    ENTITIES: (GET, PUT, UPDATE, DELETE, SCAN),
    COUNTERS: (BATCH_GET, QUERY),
}
# (table, index name) -> actions on that one index (never index/*)
ADMIN_INDEXES: dict[tuple[TableSpec, str], tuple[str, ...]] = {(ENTITIES, GSI1): (QUERY,)}
SECRET_READ: tuple[str, ...] = ("secretsmanager:GetSecretValue",)
PUT_EVENTS: tuple[str, ...] = ("events:PutEvents",)
APPLY_GUARDRAIL: tuple[str, ...] = ("bedrock:ApplyGuardrail",)
BUDGET_ALERT_DETAIL_TYPE = "aigw.budget.threshold"  # what the stack routes to the alarm topic

# With the opt-in customer-managed key (settings.kms): what a principal needs to use data encrypted
# under it. Reads decrypt; DynamoDB and Secrets Manager writes also encrypt new data keys.
KMS_DECRYPT: tuple[str, ...] = ("kms:Decrypt", "kms:DescribeKey")
KMS_ENCRYPT_DECRYPT: tuple[str, ...] = ("kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey")


def grant_table(role: iam.IRole, table: dynamodb.Table, actions: Sequence[str]) -> None:
    """`actions` on the table itself, plus its key when the table has a customer-managed one."""
    role.add_to_principal_policy(iam.PolicyStatement(actions=sorted(actions), resources=[table.table_arn]))
    _grant_key(role, table, actions)


def grant_index(role: iam.IRole, table: dynamodb.Table, index: str, actions: Sequence[str]) -> None:
    role.add_to_principal_policy(iam.PolicyStatement(actions=sorted(actions),
                                                     resources=[f"{table.table_arn}/index/{index}"]))
    _grant_key(role, table, actions)


def _grant_key(role: iam.IRole, table: dynamodb.Table, actions: Sequence[str]) -> None:
    key = table.encryption_key
    if key is not None:
        needed = KMS_ENCRYPT_DECRYPT if WRITES & set(actions) else KMS_DECRYPT
        role.add_to_principal_policy(iam.PolicyStatement(actions=list(needed), resources=[key.key_arn]))
