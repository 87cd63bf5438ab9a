"""The semantic cache's vector store: an OpenSearch Serverless VECTORSEARCH collection.

Created only when `cache.semantic.enabled`: a collection costs about $175/month at idle with
standby replicas off (0.5 + 0.5 OCU) and about $350 with them on (docs/DESIGN.md §8).

Network: the collection's endpoint is public. The gateway function runs outside a VPC (it
calls public provider APIs), so a VPC endpoint would mean a VPC, NAT and an interface endpoint
for no gain: every request still needs SigV4 from a principal named in the data access policy,
and that policy names only the gateway role (`grant_data_access`). OpenSearch Dashboards is
not reachable at all.
"""

from __future__ import annotations

import re

import aws_cdk as cdk
import jsii
from aws_cdk import aws_iam as iam
from aws_cdk import aws_opensearchserverless as aoss
from constructs import Construct

# What the gateway does with its own collection: create its index on first use, then read/write.
INDEX_PERMISSIONS = ["aoss:CreateIndex", "aoss:DescribeIndex", "aoss:UpdateIndex",
                     "aoss:ReadDocument", "aoss:WriteDocument"]
COLLECTION_PERMISSIONS = ["aoss:DescribeCollectionItems"]


def collection_name(stack_name: str) -> str:
    """3-28 chars of a-z, 0-9 and '-', starting with a letter: room for 4-char policy suffixes (32 max)."""
    base = re.sub(r"[^a-z0-9-]+", "-", stack_name.lower()).strip("-") or "aigw"
    if not base[0].isalpha():
        base = f"c{base}"
    return f"{base[:22].rstrip('-')}-cache"


class VectorCache(Construct):
    def __init__(self, scope: Construct, id: str, *, name: str, standby_replicas: bool) -> None:
        super().__init__(scope, id)
        self.name = name
        self._principals: list[str] = []
        resource = f"collection/{name}"
        encryption = aoss.CfnSecurityPolicy(
            self, "Encryption", name=f"{name}-enc", type="encryption",
            description="aigw semantic cache: encrypted with an AWS-owned key",
            policy=cdk.Stack.of(self).to_json_string(
                {"Rules": [{"ResourceType": "collection", "Resource": [resource]}], "AWSOwnedKey": True}),
        )
        network = aoss.CfnSecurityPolicy(
            self, "Network", name=f"{name}-net", type="network",
            description="aigw semantic cache: public endpoint, SigV4 + data access policy required",
            policy=cdk.Stack.of(self).to_json_string(
                [{"Rules": [{"ResourceType": "collection", "Resource": [resource]}], "AllowFromPublic": True}]),
        )
        self.collection = aoss.CfnCollection(
            self, "Collection", name=name, type="VECTORSEARCH",
            standby_replicas="ENABLED" if standby_replicas else "DISABLED",
            description="aigw semantic cache embeddings",
        )
        self.collection.add_dependency(encryption)
        self.collection.add_dependency(network)
        self.access_policy = aoss.CfnAccessPolicy(
            self, "DataAccess", name=f"{name}-dap", type="data",
            description="aigw semantic cache: the gateway function only",
            policy=cdk.Lazy.string(_LazyPolicy(self)),
        )
        self.access_policy.add_dependency(self.collection)

    @property
    def endpoint(self) -> str:
        return self.collection.attr_collection_endpoint

    @property
    def arn(self) -> str:
        return self.collection.attr_arn

    def grant_data_access(self, role: iam.IRole) -> None:
        """Let `role` use this collection's data plane: IAM on the collection ARN, and the data policy."""
        role.add_to_principal_policy(iam.PolicyStatement(actions=["aoss:APIAccessAll"], resources=[self.arn]))
        self._principals.append(role.role_arn)

    def policy_document(self) -> list[dict[str, object]]:
        return [{
            "Description": "aigw gateway: its semantic-cache index",
            "Rules": [
                {"ResourceType": "collection", "Resource": [f"collection/{self.name}"],
                 "Permission": COLLECTION_PERMISSIONS},
                {"ResourceType": "index", "Resource": [f"index/{self.name}/*"], "Permission": INDEX_PERMISSIONS},
            ],
            "Principal": list(self._principals),
        }]


@jsii.implements(cdk.IStableStringProducer)
class _LazyPolicy:
    """Renders the data access policy at synth time, after every grant was made."""

    def __init__(self, cache: VectorCache) -> None:
        self._cache = cache

    def produce(self) -> str:
        document = self._cache.policy_document()
        if not document[0]["Principal"]:
            raise ValueError("the semantic cache's data access policy names no principal: grant_data_access(role)")
        return cdk.Stack.of(self._cache).to_json_string(document)
