"""The control-plane operations, with no HTTP in sight (both adapters call these).

Entities table items written here:
    TEAM#<id>          TEAM     a team; gsi1 TEAMS / TEAM#<id> for listing
    KEYID#<key id>     KEYID    a key's stable id -> its current hash (and hashes in rotation grace)
    KEY#<sha256>       KEY      the record the hot path reads (aigw.auth.records.KeyRecord);
                                the current one carries gsi1 TEAM#<team> / KEY#<key id>
    PROJECT#<id>       PROJECT  a project's budgets;  GLOBAL / GLOBAL: the global budgets
Only SHA-256 hashes of keys are stored; the secret is returned once, by create and rotate.

Creates are safe to retry: a team's id is the client's; a key's id is the client's (`id`) or
derived from the `Idempotency-Key` header. A repeated create with the same body answers 200
with the existing object (a key's secret is not shown again: rotate it if it was lost); the
same id with a different body is a 409.

Gateways cache key records and scope limits for `settings.key_cache_ttl_s` (30 s by default):
a revocation, a rotation's end of grace or a limit change takes effect within that time.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from collections.abc import Callable
from typing import Any

from aigw.admin import spend
from aigw.admin.models import (
    BudgetsPut,
    Conflict,
    InvalidRequest,
    KeyCreate,
    KeyRotate,
    KeyUpdate,
    NotFound,
    TeamCreate,
    TeamUpdate,
    budget_view,
)
from aigw.auth.keys import generate_key, hash_key, key_prefix
from aigw.auth.records import KEY_SK, KeyRecord, key_item_pk
from aigw.budgets.scopes import entity_key
from aigw.budgets.spec import Limits, budget_to_item, merge_budgets
from aigw.dynamo import from_dynamo, to_dynamo
from aigw.names import GSI1, GSI1_PK, GSI1_SK

TEAMS_GSI = "TEAMS"
ChangeHook = Callable[[str, str], None]  # (kind, id): "key" with a key hash, or a scope ("team", id)


def _fingerprint(body: Any) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()




class AdminService:
    def __init__(self, entities: Callable[[], Any], counters: Callable[[], Any], *,
                 clock: Callable[[], float] = time.time, on_change: ChangeHook | None = None,
                 guardrails: Callable[[KeyRecord], dict[str, Any]] | None = None) -> None:
        self._entities = entities  # boto3 DynamoDB Table (resource) for Entities
        self._counters = counters  # ... and for Counters
        self._clock = clock
        self._on_change = on_change or (lambda kind, ident: None)
        self._guardrails = guardrails  # which guardrails apply to a key (when the config is known here)
        self.spend = spend.Spend(self, entities, counters, clock=clock, on_change=self._on_change)

    # ---- teams -------------------------------------------------------------------------------
    def create_team(self, body: TeamCreate) -> tuple[dict[str, Any], bool]:
        """(team, created). Same id and body again: (team, False); a different body: Conflict."""
        now = self._clock()
        fingerprint = _fingerprint(body.model_dump(mode="json"))
        item = {**entity_key("team", body.id), GSI1_PK: TEAMS_GSI, GSI1_SK: f"TEAM#{body.id}", "id": body.id,
                "name": body.name or body.id, "metadata": to_dynamo(body.metadata),
                "budgets": [budget_to_item(b) for b in merge_budgets(body.budgets)], "created_at": to_dynamo(now),
                "updated_at": to_dynamo(now), "request_hash": fingerprint}
        for attr in ("rpm", "tpm"):
            if getattr(body, attr) is not None:
                item[attr] = getattr(body, attr)
        table = self._entities()
        try:
            table.put_item(Item=item, ConditionExpression="attribute_not_exists(pk)")
        except table.meta.client.exceptions.ConditionalCheckFailedException:
            existing = self._team_item(body.id)
            if existing.get("request_hash") == fingerprint:
                return self._team_view(existing), False
            raise Conflict(f"team {body.id!r} already exists with different settings", code="team_exists") from None
        return self._team_view(item), True

    def get_team(self, team_id: str) -> dict[str, Any]:
        return self._team_view(self._team_item(team_id))

    def list_teams(self) -> list[dict[str, Any]]:
        items = self._query_gsi(TEAMS_GSI, "TEAM#")
        return [self._team_view(i) for i in items]

    def update_team(self, team_id: str, body: TeamUpdate) -> dict[str, Any]:
        item = self._team_item(team_id)
        changes = body.model_dump(exclude_unset=True)
        if "budgets" in changes:
            item["budgets"] = [budget_to_item(b) for b in merge_budgets(body.budgets or [])]
        for field in ("name", "metadata", "rpm", "tpm"):
            if field in changes:
                if changes[field] is None:
                    item.pop(field, None)
                else:
                    item[field] = to_dynamo(changes[field])
        item["updated_at"] = to_dynamo(self._clock())
        self._entities().put_item(Item=item)
        self._on_change("team", team_id)
        return self._team_view(item)

    def delete_team(self, team_id: str) -> None:
        self._team_item(team_id)
        active = [k for k in self.list_keys(team=team_id) if k["status"] == "active"]
        if active:
            raise Conflict(f"team {team_id!r} still has {len(active)} active key(s); revoke them first",
                           code="team_has_keys")
        self._entities().delete_item(Key=entity_key("team", team_id))
        self._on_change("team", team_id)

    def _team_item(self, team_id: str) -> dict[str, Any]:
        item = self._entities().get_item(Key=entity_key("team", team_id), ConsistentRead=True).get("Item")
        if item is None:
            raise NotFound(f"team {team_id!r} does not exist", code="team_not_found")
        return dict(item)

    @staticmethod
    def _team_view(item: dict[str, Any]) -> dict[str, Any]:
        limits = Limits.from_item(item)
        return {"id": item["id"], "name": item.get("name"), "metadata": from_dynamo(item.get("metadata") or {}),
                "budgets": [budget_view(b) for b in limits.budgets], "rpm": limits.rpm, "tpm": limits.tpm,
                "created_at": from_dynamo(item.get("created_at")), "updated_at": from_dynamo(item.get("updated_at"))}

    # ---- keys --------------------------------------------------------------------------------
    def create_key(self, body: KeyCreate, *, idempotency_key: str | None = None) -> tuple[dict[str, Any], bool]:
        """(key view with the secret under "key", created). A retry answers (view without secret, False)."""
        self._team_item(body.team)
        now = self._clock()
        if body.expires_at is not None and body.expires_in_s is not None:
            raise InvalidRequest("give expires_at or expires_in_s, not both")
        expires = body.expires_at or (now + body.expires_in_s if body.expires_in_s else None)
        if body.id:
            key_id = body.id
        elif idempotency_key:
            key_id = "key_" + hashlib.sha256(f"idem:{idempotency_key}".encode()).hexdigest()[:20]
        else:
            key_id = "key_" + secrets.token_hex(10)
        fingerprint = _fingerprint(body.model_dump(mode="json", exclude={"id"}))
        secret = generate_key()
        digest = hash_key(secret)
        record = KeyRecord(key_hash=digest, key_id=key_id, key_prefix=key_prefix(secret), team_id=body.team,
                           project=body.project, name=body.name, models=body.models, valid_until=expires,
                           rpm=body.rpm, tpm=body.tpm, end_user_rpm=body.end_user_rpm,
                           end_user_tpm=body.end_user_tpm, budgets=merge_budgets(body.budgets),
                           metadata=body.metadata, created_at=now)
        lookup = {"pk": f"KEYID#{key_id}", "sk": "KEYID", "key_id": key_id, "key_hash": digest,
                  "previous_hashes": [], "request_hash": fingerprint, "created_at": to_dynamo(now)}
        client = self._entities().meta.client
        table_name = self._entities().name
        try:
            client.transact_write_items(TransactItems=[
                {"Put": {"TableName": table_name, "Item": lookup, "ConditionExpression": "attribute_not_exists(pk)"}},
                {"Put": {"TableName": table_name, "Item": self._key_item(record),
                         "ConditionExpression": "attribute_not_exists(pk)"}},
            ])
        except client.exceptions.TransactionCanceledException:
            existing = self._lookup(key_id, missing_ok=True)
            if existing is None:
                raise
            if existing.get("request_hash") != fingerprint:
                raise Conflict(f"key {key_id!r} already exists with different settings", code="key_exists") from None
            view = self.get_key(key_id)
            view["key"] = None
            view["note"] = "this create was already done; the secret is shown only once (rotate the key if lost)"
            return view, False
        view = self._key_view(record)
        view["key"] = secret
        return view, True

    def get_key(self, key_id: str) -> dict[str, Any]:
        return self._key_view(self._current_record(key_id))

    def list_keys(self, *, team: str | None = None) -> list[dict[str, Any]]:
        if team is not None:
            items = self._query_gsi(f"TEAM#{team}", "KEY#")
        else:
            items = self._scan(lambda i: i.get("sk") == KEY_SK and GSI1_PK in i)
        return [self._key_view(KeyRecord.from_item(_strip_gsi(i))) for i in items]

    def update_key(self, key_id: str, body: KeyUpdate) -> dict[str, Any]:
        changes = body.model_dump(exclude_unset=True)
        if "budgets" in changes:
            changes["budgets"] = merge_budgets(body.budgets or [])
        if "expires_at" in changes:
            changes["valid_until"] = changes.pop("expires_at")
        records = self._all_records(key_id)
        current = records[0].key_hash
        for record in records:
            fields = dict(changes)
            if record.key_hash != current:
                # an old secret in its rotation grace never outlives the end it was given
                fields["valid_until"] = _earliest(record.valid_until, fields.get("valid_until", record.valid_until))
            new = KeyRecord.model_validate(record.model_copy(update=fields).model_dump())
            self._entities().put_item(Item=self._key_item(new, current=record.key_hash == current))
            self._on_change("key", new.key_hash)
            if record.key_hash == current:
                view = self._key_view(new)
        return view

    def revoke_key(self, key_id: str) -> dict[str, Any]:
        records = self._all_records(key_id)
        for record in records:
            self._entities().update_item(Key={"pk": key_item_pk(record.key_hash), "sk": KEY_SK},
                                         UpdateExpression="SET revoked = :t", ExpressionAttributeValues={":t": True},
                                         ConditionExpression="attribute_exists(pk)")
            self._on_change("key", record.key_hash)
        return self._key_view(records[0].model_copy(update={"revoked": True}))

    def rotate_key(self, key_id: str, body: KeyRotate) -> dict[str, Any]:
        lookup = self._lookup(key_id)
        old = self._record(lookup["key_hash"])
        if old.revoked:
            raise Conflict(f"key {key_id!r} is revoked; create a new key", code="key_revoked")
        now = self._clock()
        grace_end = now + body.grace_s
        secret = generate_key()
        new = old.model_copy(update={"key_hash": hash_key(secret), "key_prefix": key_prefix(secret)})
        old_end = grace_end if old.valid_until is None else min(old.valid_until, grace_end)
        previous = [h for h in lookup.get("previous_hashes") or [] if self._still_valid(h, now)]
        previous.append(old.key_hash)
        table = self._entities()
        client = table.meta.client
        try:
            self._rotate(table, old, new, key_id, old_end, previous, now)
        except client.exceptions.TransactionCanceledException:  # another rotation of this key won the race
            raise Conflict(f"key {key_id!r} was rotated by another request at the same time; read it and retry",
                           code="rotation_conflict") from None
        self._on_change("key", old.key_hash)
        view = self._key_view(new)
        view["key"] = secret
        view["previous_valid_until"] = old_end
        return view

    @staticmethod
    def _rotate(table: Any, old: KeyRecord, new: KeyRecord, key_id: str, old_end: float, previous: list[str],
                now: float) -> None:
        table.meta.client.transact_write_items(TransactItems=[
            {"Put": {"TableName": table.name, "Item": AdminService._key_item(new),
                     "ConditionExpression": "attribute_not_exists(pk)"}},
            {"Update": {"TableName": table.name, "Key": {"pk": key_item_pk(old.key_hash), "sk": KEY_SK},
                        "UpdateExpression": f"SET valid_until = :end REMOVE {GSI1_PK}, {GSI1_SK}",
                        "ExpressionAttributeValues": {":end": to_dynamo(old_end)}}},
            {"Update": {"TableName": table.name, "Key": {"pk": f"KEYID#{key_id}", "sk": "KEYID"},
                        "UpdateExpression": "SET key_hash = :h, previous_hashes = :p, rotated_at = :now",
                        "ConditionExpression": "key_hash = :old",
                        "ExpressionAttributeValues": {":h": new.key_hash, ":p": previous, ":now": to_dynamo(now),
                                                      ":old": old.key_hash}}},
        ])

    def _still_valid(self, key_hash: str, now: float) -> bool:
        try:
            return self._record(key_hash).usable(now)
        except NotFound:
            return False

    def _lookup(self, key_id: str, *, missing_ok: bool = False) -> Any:
        item = self._entities().get_item(Key={"pk": f"KEYID#{key_id}", "sk": "KEYID"}, ConsistentRead=True).get("Item")
        if item is None and not missing_ok:
            raise NotFound(f"key {key_id!r} does not exist", code="key_not_found")
        return item

    def _record(self, key_hash: str) -> KeyRecord:
        item = self._entities().get_item(Key={"pk": key_item_pk(key_hash), "sk": KEY_SK}, ConsistentRead=True).get(
            "Item")
        if item is None:
            raise NotFound("key record missing", code="key_not_found")
        return KeyRecord.from_item(_strip_gsi(item))

    def _current_record(self, key_id: str) -> KeyRecord:
        return self._record(self._lookup(key_id)["key_hash"])

    def _all_records(self, key_id: str) -> list[KeyRecord]:
        """The current record first, then those of older secrets still in their rotation grace."""
        lookup = self._lookup(key_id)
        records = [self._record(lookup["key_hash"])]
        now = self._clock()
        for digest in lookup.get("previous_hashes") or []:
            try:
                record = self._record(digest)
            except NotFound:
                continue
            if record.usable(now):
                records.append(record)
        return records

    @staticmethod
    def _key_item(record: KeyRecord, *, current: bool = True) -> dict[str, Any]:
        item = record.to_item()
        item["budgets"] = [budget_to_item(b) for b in record.budgets]
        if current:
            item[GSI1_PK] = f"TEAM#{record.team_id}"
            item[GSI1_SK] = f"KEY#{record.key_id}"
        return item

    def _key_view(self, record: KeyRecord) -> dict[str, Any]:
        now = self._clock()
        status = "revoked" if record.revoked else "active" if record.usable(now) else "expired"
        return {"id": record.key_id, "prefix": record.key_prefix, "team": record.team_id, "project": record.project,
                "name": record.name, "models": record.models, "budgets": [budget_view(b) for b in record.budgets],
                "rpm": record.rpm, "tpm": record.tpm, "end_user_rpm": record.end_user_rpm,
                "end_user_tpm": record.end_user_tpm, "expires_at": record.valid_until, "status": status,
                "metadata": record.metadata, "created_at": record.created_at,
                **({"guardrails": self._guardrails(record)} if self._guardrails is not None else {})}
    # ---- budgets and usage (aigw/admin/spend.py) ----------------------------------------------
    def put_budgets(self, scope: str, scope_id: str, body: BudgetsPut) -> dict[str, Any]:
        return self.spend.put_budgets(scope, scope_id, body)

    def get_budgets(self, scope: str, scope_id: str) -> dict[str, Any]:
        return self.spend.get_budgets(scope, scope_id)

    def usage(self, *, by: str = "team", period: str | None = None) -> dict[str, Any]:
        return self.spend.usage(by=by, period=period)

    # ---- queries -------------------------------------------------------------------------------
    def _query_gsi(self, pk: str, sk_prefix: str) -> list[dict[str, Any]]:
        table = self._entities()
        kwargs: dict[str, Any] = {"IndexName": GSI1, "KeyConditionExpression": f"{GSI1_PK} = :pk AND "
                                  f"begins_with({GSI1_SK}, :sk)",
                                  "ExpressionAttributeValues": {":pk": pk, ":sk": sk_prefix}}
        items: list[dict[str, Any]] = []
        while True:
            page = table.query(**kwargs)
            items.extend(page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                return items
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def _scan(self, keep: Callable[[dict[str, Any]], bool]) -> list[dict[str, Any]]:
        table = self._entities()
        kwargs: dict[str, Any] = {}
        items: list[dict[str, Any]] = []
        while True:
            page = table.scan(**kwargs)
            items.extend(i for i in page.get("Items", []) if keep(i))
            if "LastEvaluatedKey" not in page:
                return items
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _earliest(*times: float | None) -> float | None:
    known = [t for t in times if t is not None]
    return min(known) if known else None


def _strip_gsi(item: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in item.items() if k not in (GSI1_PK, GSI1_SK)}


