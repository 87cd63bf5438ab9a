"""The OpenSearch Serverless index: its requests against the documented k-NN mapping and
query bodies, SigV4 for `aoss`, score conversion, isolation by filter, and failures."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from botocore.credentials import Credentials

from aigw.cache.opensearch import OpenSearchVectorIndex, cosine_from_score, index_body, query_body, region_of
from aigw.cache.vectors import unit
from tests.fakes.opensearch import FakeOpenSearch

ENDPOINT = "https://abc123.us-east-1.aoss.amazonaws.com"


def make_index(fake: FakeOpenSearch, dimensions: int = 4, **kwargs: Any) -> OpenSearchVectorIndex:
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=fake.app()))
    return OpenSearchVectorIndex(ENDPOINT, "aigw-semantic-cache", dimensions, http=http,
                                 credentials=lambda: Credentials("AKIDTEST", "testing", "token"), **kwargs)


def test_mapping_is_the_documented_faiss_innerproduct_knn_vector() -> None:
    # documentation-website: _vector-search/filter-search-knn/efficient-knn-filtering.md (Faiss example)
    body = index_body(512)
    assert body["settings"] == {"index": {"knn": True}}
    assert body["mappings"]["properties"]["embedding"] == {
        "type": "knn_vector", "dimension": 512,
        "method": {"name": "hnsw", "engine": "faiss", "space_type": "innerproduct"}}
    for name in ("namespace", "model", "scope"):
        assert body["mappings"]["properties"][name] == {"type": "keyword"}


def test_query_is_the_documented_knn_query_with_an_efficient_filter() -> None:
    body = query_body("team:a", "gpt-4o-mini", "s1", [0.6, 0.8], 3, now=1000.9)
    assert body == {
        "size": 3,
        "_source": {"excludes": ["embedding"]},
        "query": {"knn": {"embedding": {
            "vector": [0.6, 0.8], "k": 3,
            "filter": {"bool": {"filter": [
                {"term": {"namespace": "team:a"}}, {"term": {"model": "gpt-4o-mini"}}, {"term": {"scope": "s1"}},
                {"range": {"expires_at": {"gt": 1000}}}]}}}}},
    }


@pytest.mark.parametrize("cosine", [1.0, 0.97, 0.5, 0.0, -0.3, -1.0])
def test_faiss_innerproduct_scores_convert_back_to_cosine(cosine: float) -> None:
    score = cosine + 1 if cosine > 0 else 1 / (1 - cosine)  # knn-spaces.md, Faiss innerproduct
    assert cosine_from_score(score) == pytest.approx(cosine)


def test_region_comes_from_the_collection_endpoint() -> None:
    assert region_of("https://abc.eu-west-3.aoss.amazonaws.com") == "eu-west-3"


async def test_round_trip_creates_the_index_once_signs_and_filters() -> None:
    fake = FakeOpenSearch()
    index = make_index(fake)
    assert await index.query("team:a", "m", "s", [1, 0, 0, 0], 1) == []  # creates the index
    await index.upsert("team:a", "m", "s", [1, 0, 0, 0], {"response": "QQ=="}, ttl_s=60)
    await index.upsert("team:b", "m", "s", [1, 0, 0, 0], {"response": "Qg=="}, ttl_s=60)
    await index.upsert("team:a", "other-model", "s", [1, 0, 0, 0], {"response": "Qw=="}, ttl_s=60)
    await index.upsert("team:a", "m", "other-scope", [1, 0, 0, 0], {"response": "RA=="}, ttl_s=60)
    await index.upsert("team:a", "m", "s", [0, 1, 0, 0], {"response": "RQ=="}, ttl_s=60)
    hits = await index.query("team:a", "m", "s", unit([1, 0.1, 0, 0]), 5)
    assert fake.problems == []
    assert [h.payload["response"] for h in hits] == ["QQ==", "RQ=="]
    assert hits[0].score == pytest.approx(unit([1, 0.1, 0, 0])[0], abs=1e-6)
    assert all(h.payload["namespace"] == "team:a" for h in hits)
    assert [m for m, _, _ in fake.requests].count("PUT") == 1
    stored = fake.documents["aigw-semantic-cache"][0]
    assert stored["expires_at"] - stored["created_at"] == 60
    assert len(stored["embedding"]) == 4


async def test_expired_entries_are_filtered_out() -> None:
    fake = FakeOpenSearch()
    now = [1_000_000.0]
    index = make_index(fake, clock=lambda: now[0])
    await index.upsert("team:a", "m", "s", [1, 0, 0, 0], {"response": "QQ=="}, ttl_s=10)
    assert len(await index.query("team:a", "m", "s", [1, 0, 0, 0], 1)) == 1
    now[0] += 11
    assert await index.query("team:a", "m", "s", [1, 0, 0, 0], 1) == []


async def test_an_existing_index_is_fine() -> None:
    fake = FakeOpenSearch()
    await make_index(fake).ensure_index()
    await make_index(fake).ensure_index()  # a second process: "already exists" is not an error
    assert fake.problems == []


async def test_a_bad_signature_is_refused() -> None:
    fake = FakeOpenSearch(secret_key="not-the-client-secret")
    with pytest.raises(RuntimeError, match="HTTP 400"):
        await make_index(fake).ensure_index()
    assert fake.problems == ["SigV4 signature does not verify"]


async def test_server_errors_raise_for_the_stage_to_degrade() -> None:
    fake = FakeOpenSearch()
    index = make_index(fake)
    await index.ensure_index()
    fake.fail_with = 503
    with pytest.raises(RuntimeError, match="HTTP 503"):
        await index.query("team:a", "m", "s", [1, 0, 0, 0], 1)
    with pytest.raises(RuntimeError, match="HTTP 503"):
        await index.upsert("team:a", "m", "s", [1, 0, 0, 0], {"response": "QQ=="}, ttl_s=10)
