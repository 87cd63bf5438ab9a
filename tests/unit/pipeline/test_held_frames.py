"""HeldFrames, the one rule both stream paths write by (upstream streams and cache replays):
nothing is lost or reordered, the first frame with text goes out at once with everything before
it, and nothing else goes out until it is taken."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from aigw.pipeline.frames import HeldFrames


def _chunk(text: bool) -> dict[str, object]:
    return {"choices": [{"index": 0, "delta": {"content": "hi"} if text else {"role": "assistant"}}]}


steps = st.lists(st.one_of(st.tuples(st.binary(min_size=1, max_size=6), st.booleans()), st.just("take")),
                 max_size=12)


@given(steps=steps)
def test_frames_come_out_whole_in_order_and_the_first_text_at_once(steps: list[object]) -> None:
    held = HeldFrames()
    added, written = b"", b""
    first_text_seen = False
    for step in steps:
        if step == "take":
            written += held.take()
            assert not held
            continue
        framed, text = step  # type: ignore[misc]
        added += framed
        now = held.add(framed, _chunk(text))
        if text and not first_text_seen:
            first_text_seen = True
            assert now is not None and written + now == added  # everything so far, at once
            written += now
        else:
            assert now is None  # the rest waits for a take
        assert bool(held) == (len(written) < len(added))
    written += held.take()
    assert written == added
