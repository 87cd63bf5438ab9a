"""At least 5,000 generated bodies per front door through the real app: zero 5xx, every error
in the door's own envelope, every stream complete. Bodies come from the doors' own request
schemas (strategies.py), spoiled with hostile values; headers vary the key (none, unknown,
with a budget, with the exact cache on) and the gateway's own request headers."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from aigw.responses.request import ResponsesRequest
from aigw.schemas import ChatCompletionRequest, EmbeddingsRequest
from aigw.translate.anthropic_client import MessagesRequest
from tests.functional.fuzz.checks import Envelope, check
from tests.functional.fuzz.harness import FuzzGateway, Got, Sent, record_counts, scaled
from tests.functional.fuzz.strategies import Fuzzer, Hint, bodies

pytestmark = pytest.mark.slow
PER_DOOR = scaled(5_000)
# AIGW_FUZZ_SCALE raises (or lowers) every count.
PER_DOOR_OVERRIDES: dict[str, int] = {}
BATCH = 50
FUZZ_SETTINGS = settings(derandomize=True, database=None, deadline=None, suppress_health_check=list(HealthCheck),
                         phases=(Phase.explicit, Phase.generate, Phase.shrink), print_blob=False)

BLOCK_TYPES = ["text", "image", "image_url", "tool_use", "tool_result", "input_audio", "file", "function",
               "document", "thinking", "json_object", "json_schema", "base64", "url", "enabled", "auto", "any",
               "tool", "none", "required"]
URLS = ["https://example.com/a.png", "data:image/png;base64,iVBORw0KGgo=", "data:text/plain,abc", "", "data:"]


def _hints(models: list[str]) -> dict[str, Hint]:
    return {
        "model": models,
        "type": BLOCK_TYPES,
        "url": URLS,
        "image_url": URLS,
        "temperature": [0, 0, 0.5, 1],
        "n": [1, 1, 1, 2, 3],
        "max_tokens": [1, 5, 16, 64, 64.0, 64.5, 10_000_000, 10_000_001, 1e20, -1, 0],
        "max_completion_tokens": [1, 16, 64],
        "stream": [True, False],
        "arguments": ['{"q": 1}', "{", "[]", "", '"x"'],
        "stream_options": [{"include_usage": True}, {"include_usage": False}, {}],
        "role": ["user", "user", "assistant", "system", "tool"],
    }


CHAT_HINTS = {**_hints(["mock-fast"] * 8 + ["mock-embed", "nope"]), "tool_choice": ["auto", "none", "required"]}
MESSAGES_HINTS = {**_hints(["mock-fast"] * 8 + ["mock-embed", "nope"]),
                  "role": ["user"] * 4 + ["assistant"] * 3 + ["system"]}
EMBED_HINTS = _hints(["mock-embed"] * 8 + ["mock-fast", "nope"])
RESPONSES_HINTS = {**CHAT_HINTS, "input": [
    "hello", [{"role": "user", "content": "hi"}],
    [{"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]}],
    [{"type": "function_call_output", "call_id": "call_1", "output": "42"}]]}
EXTRA_HEADERS = [{}] * 12 + [{"x-aigw-cache": "no-cache"}, {"x-aigw-cache": "bogus"},
                             {"x-aigw-cache": "no-store, no-cache"}, {"x-aigw-cache-ttl": "60"},
                             {"x-aigw-cache-ttl": "-5"}, {"x-aigw-cache-ttl": "1e99"}, {"x-aigw-end-user": "u" * 300},
                             {"content-type": "text/plain"}, {"anthropic-beta": "x,y"}]


def headers(envelope: Envelope, keys: dict[str, str]) -> st.SearchStrategy[dict[str, str]]:
    """Mostly the plain key; sometimes one with a budget, one with the exact cache, none or a
    wrong one; now and then a gateway header with a value it must refuse or honour."""
    anthropic = envelope == "anthropic"
    secrets = [keys["plain"]] * 18 + [keys["budget"], keys["cached"], None, "sk-aigw-nope"]

    def build(secret: str | None, more: dict[str, str], x_api_key: bool) -> dict[str, str]:
        out = {"content-type": "application/json", **more}
        if secret is not None:
            out.update({"x-api-key": secret} if x_api_key else {"authorization": f"Bearer {secret}"})
        if anthropic:
            out.setdefault("anthropic-version", "2023-06-01")
        return out

    return st.builds(build, st.sampled_from(secrets), st.sampled_from(EXTRA_HEADERS),
                     st.booleans() if anthropic else st.just(False))


# (path, envelope, body fuzzer, hostile percents per value): about one body in twenty gets
# through validation on the doors whose answers cost DynamoDB writes (moto spends ~12 ms of
# CPU on each, serialized); more on count_tokens, which writes nothing.
DOORS: list[tuple[str, Envelope, Fuzzer, list[int]]] = [
    ("/v1/chat/completions", "openai", Fuzzer(ChatCompletionRequest, CHAT_HINTS), [8, 15, 25, 35]),
    ("/v1/embeddings", "openai", Fuzzer(EmbeddingsRequest, EMBED_HINTS), [75, 88, 95]),
    ("/v1/messages", "anthropic", Fuzzer(MessagesRequest, MESSAGES_HINTS), [4, 8, 12, 20]),
    ("/v1/messages/count_tokens", "anthropic", Fuzzer(MessagesRequest, MESSAGES_HINTS), [0, 0, 1, 2, 4]),
    ("/v1/responses", "responses", Fuzzer(ResponsesRequest, RESPONSES_HINTS), [8, 12, 20, 30]),
]


def fuzz_door(gw: FuzzGateway, path: str, envelope: Envelope, fuzzer: Fuzzer, hostile_percents: list[int],
              per_door: int = PER_DOOR, batch: int = BATCH) -> list[Got]:
    sent: list[Got] = []
    request = st.builds(lambda body, h: Sent("POST", path, body, h), bodies(fuzzer, hostile_percents),
                        headers(envelope, gw.keys))

    @settings(FUZZ_SETTINGS, max_examples=per_door // batch)
    @given(st.lists(request, min_size=batch, max_size=batch))
    def run(requests: list[Sent]) -> None:
        results = gw.send(requests)
        for got in results:
            check(got, envelope)
        sent.extend(results)

    run()
    return sent


@pytest.mark.parametrize(("path", "envelope", "fuzzer", "hostile_percents"), DOORS, ids=[d[0] for d in DOORS])
def test_no_input_gets_a_5xx(fuzz_gw: FuzzGateway, path: str, envelope: Envelope, fuzzer: Fuzzer,
                             hostile_percents: list[int]) -> None:
    per_door = PER_DOOR_OVERRIDES.get(path, PER_DOOR)
    results = fuzz_door(fuzz_gw, path, envelope, fuzzer, hostile_percents, per_door=per_door)
    record_counts(path, results)
    assert len(results) >= per_door
    statuses = {r.status for r in results}
    assert 200 in statuses and 400 in statuses  # the fuzz reached the pipeline and the validators
    assert not [r for r in fuzz_gw.records if r.get("status", 0) >= 500]
