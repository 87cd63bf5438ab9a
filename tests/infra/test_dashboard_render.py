"""The synthesized dashboard, drawn (scripts/render_dashboard.py): every widget a box inside the
24-column grid, none overlapping, each with its border, title and what it shows."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from scripts.render_dashboard import (
    CELL_H,
    CELL_W,
    COLORS,
    GRID_COLUMNS,
    HEADER,
    dashboard_body,
    describe,
    expression_text,
    layout_errors,
    render,
    title_of,
)
from tests.infra.conftest import Synth

REQUIRED = ("Top 10 teams by spend", "Top 10 models by spend", "Tightest budgets", "Guardrail interventions",
            "Budget alerts sent", "Latest budget alerts", "Errors by type", "Latency p50 / p99",
            "Gateway overhead p50 / p99")


def _near(pixel: Any, color: tuple[int, int, int], tolerance: int = 24) -> bool:
    return all(abs(int(a) - b) <= tolerance for a, b in zip(pixel[:3], color, strict=True))


def _has_borders(image: Image.Image, boxes: list[Any]) -> list[str]:
    """The boxes whose border is not drawn all round in their type's colour, with the gap outside."""
    missing: list[str] = []
    for box in boxes:
        color = COLORS[box.kind]
        middle_y, middle_x = (box.top + box.bottom) // 2, (box.left + box.right) // 2
        points = ((box.left, middle_y), (box.right, middle_y), (middle_x, box.top), (middle_x, box.bottom))
        drawn = all(_near(image.getpixel(p), color) for p in points)
        if not drawn or _near(image.getpixel((box.left - 2, middle_y)), color):
            missing.append(box.title or box.kind)
    return missing


@pytest.fixture(scope="module")
def drawn(default: Synth, tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], list[Any], Path]:
    body = dashboard_body(default.json)
    out = tmp_path_factory.mktemp("dashboard") / "dashboard.png"
    return body, render(body, out, caption="aigw"), out


def test_every_widget_is_a_box_inside_the_grid_and_none_overlap(drawn: tuple[dict[str, Any], list[Any], Path]) -> None:
    body, boxes, out = drawn
    assert layout_errors(body) == []
    assert len(boxes) == len(body["widgets"]) >= 20
    image = Image.open(out).convert("RGB")
    assert image.width == GRID_COLUMNS * CELL_W
    assert image.height == HEADER + max(b.y + b.height for b in boxes) * CELL_H
    for box in boxes:
        assert box.x >= 0 and box.x + box.width <= GRID_COLUMNS
        assert 0 <= box.left < box.right < image.width and HEADER <= box.top < box.bottom < image.height
        title_strip = image.crop((box.left + 4, box.top + 4, (box.left + box.right) // 2, box.top + 20))
        darkest, _ = title_strip.convert("L").getextrema()
        assert isinstance(darkest, int) and darkest < 80, box.title  # dark ink: the title is drawn
    assert _has_borders(image, boxes) == []
    for a in boxes:
        for b in boxes:
            if a is not b:
                assert a.right < b.left or b.right < a.left or a.bottom < b.top or b.bottom < a.top, (a, b)


def test_the_glance_widgets_are_there_and_say_what_they_show(drawn: tuple[dict[str, Any], list[Any], Path]) -> None:
    body, boxes, _ = drawn
    titles = [box.title for box in boxes]
    for required in REQUIRED:
        assert any(t.startswith(required) for t in titles), required
    widgets = {title_of(w): w for w in body["widgets"]}
    teams = next(w for t, w in widgets.items() if t.startswith("Top 10 teams"))
    assert describe(teams) == ("metric | bar | own range -P14D",
                               ["MI SUM(CostUSD)[Team,Model,Provider] by Team top 10"])
    budgets = next(w for t, w in widgets.items() if t.startswith("Tightest budgets"))
    kind, lines = describe(budgets)
    assert kind == "log | table" and lines[0] == "Logs Insights:" and "sort used_pct desc" in lines


def test_layout_errors_name_the_widget_out_of_the_grid_or_overlapping() -> None:
    body = {"widgets": [
        {"type": "metric", "x": 0, "y": 0, "width": 12, "height": 6, "properties": {"title": "a"}},
        {"type": "metric", "x": 11, "y": 5, "width": 6, "height": 6, "properties": {"title": "b"}},
        {"type": "metric", "x": 20, "y": 0, "width": 6, "height": 6, "properties": {"title": "c"}},
        {"type": "text", "x": 0, "y": 20, "width": 24, "height": 1, "properties": {"markdown": "x"}},
        {"type": "metric", "properties": {"title": "d"}},
    ]}
    errors = layout_errors(body)
    assert errors == ["b: overlaps a at (11, 5)", "c: outside the 24-column grid (x=20, width=6)",
                      "d: no position (x, y, width, height)"]


def test_expressions_are_summarized() -> None:
    assert expression_text("SORT(SEARCH('{AIGateway,Model} MetricName=\"CostUSD\"', 'Sum', 2592000), SUM, DESC, 10)") \
        == "SORT(CostUSD[Model] Sum/30d, SUM, DESC, 10)"
    assert expression_text('SELECT SUM(CostUSD) FROM SCHEMA("AIGateway", Model)') == "MI SUM(CostUSD)[Model]"


def test_the_template_must_hold_one_dashboard() -> None:
    with pytest.raises(ValueError, match="one AWS::CloudWatch::Dashboard"):
        dashboard_body(json.loads('{"Resources": {}}'))


def test_the_committed_picture_is_of_this_layout(drawn: tuple[dict[str, Any], list[Any], Path]) -> None:
    """docs/dashboard.png (the README's): redraw it after a layout change with
    `python scripts/render_dashboard.py cdk.out/aigw.template.json docs/dashboard.png`."""
    _, boxes, out = drawn
    committed = Path(__file__).resolve().parents[2] / "docs" / "dashboard.png"
    assert committed.stat().st_size < 200_000
    image = Image.open(committed).convert("RGB")
    assert image.size == Image.open(out).size
    assert _has_borders(image, boxes) == []
