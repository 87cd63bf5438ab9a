"""The key record as stored in the entities table (pk `KEY#<sha256>`, sk `KEY`).

Extra attributes are kept (`extra="allow"`), so governance features can add fields
(limits, budgets, metadata) without a migration.
"""

from __future__ import annotations

import fnmatch
import time
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from aigw.budgets.spec import Budget
from aigw.dynamo import from_dynamo, to_dynamo

KEY_SK = "KEY"


def key_item_pk(key_hash: str) -> str:
    return f"KEY#{key_hash}"


class KeyRecord(BaseModel):
    model_config = ConfigDict(extra="allow")

    key_hash: str
    key_id: str
    key_prefix: str = ""
    team_id: str
    project: str | None = None
    name: str | None = None
    models: list[str] = Field(default_factory=list, description="allowed model names or patterns; empty = all")
    valid_until: float | None = Field(default=None, description="epoch seconds; expiry or end of a rotation grace")
    revoked: bool = False
    rpm: int | None = None
    tpm: int | None = None
    end_user_rpm: int | None = Field(default=None, description="RPM of each end user of the key (budgets/end_users.py)")
    end_user_tpm: int | None = Field(default=None, description="TPM of each end user of the key")
    budgets: list[Budget] = Field(default_factory=list, description="key-scope budgets (copied here by /admin)")
    metadata: dict[str, Any] = Field(default_factory=dict)
    created_at: float = 0.0

    def usable(self, now: float | None = None) -> bool:
        if self.revoked:
            return False
        return self.valid_until is None or (now or time.time()) < self.valid_until

    def allows(self, model: str) -> bool:
        if not self.models:
            return True
        return any(fnmatch.fnmatchcase(model, pattern) for pattern in self.models)

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> KeyRecord:
        return cls.model_validate({k: from_dynamo(v) for k, v in item.items() if k not in ("pk", "sk")})

    def to_item(self) -> dict[str, Any]:
        item = {k: to_dynamo(v) for k, v in self.model_dump(exclude_none=True).items()}
        item["pk"] = key_item_pk(self.key_hash)
        item["sk"] = KEY_SK
        return item

