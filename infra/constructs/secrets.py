"""One Secrets Manager secret per credential name in the config; values are set after deploy.

The runtime reads secret `<prefix><credential>` as JSON `{"api_key": "..."}` or a bare string.
The stack creates each secret holding `{"api_key": ""}` (plus a random filler CloudFormation
needs to generate a value without putting one in the template); an empty `api_key` means "not
set yet". The README gives the `aws secretsmanager put-secret-value` command that sets it.
"""

from __future__ import annotations

import json

from aws_cdk import aws_kms as kms
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

PLACEHOLDER_TEMPLATE = json.dumps({"api_key": ""})
PLACEHOLDER_KEY = "placeholder"


class ProviderSecrets(Construct):
    def __init__(self, scope: Construct, id: str, *, credential_names: list[str], prefix: str,
                 encryption_key: kms.IKey | None = None) -> None:
        super().__init__(scope, id)
        self.prefix = prefix
        self.encryption_key = encryption_key
        self.secrets: dict[str, secretsmanager.Secret] = {
            name: secretsmanager.Secret(
                self, name,
                secret_name=f"{prefix}{name}",
                description=f"aigw provider credential '{name}': set {{\"api_key\": \"...\"}} after deploy",
                encryption_key=encryption_key,
                generate_secret_string=secretsmanager.SecretStringGenerator(
                    secret_string_template=PLACEHOLDER_TEMPLATE,
                    generate_string_key=PLACEHOLDER_KEY,
                    exclude_punctuation=True,
                    password_length=16,
                ),
            )
            for name in credential_names
        }
