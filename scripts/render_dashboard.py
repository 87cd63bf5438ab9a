#!/usr/bin/env python3
"""Draw a synthesized CloudWatch dashboard as a PNG, to look at its layout without deploying.

    python scripts/render_dashboard.py cdk.out/aigw.template.json docs/dashboard.png

It reads the template's `AWS::CloudWatch::Dashboard` body (`Fn::Join` joined, `Ref` and
`Fn::GetAtt` as `${...}` placeholders) and draws what CloudWatch lays out: the 24-column grid,
each widget's box at its x/y/width/height, its title, its type (and its own time range, if
any), and the metrics, expressions or Logs Insights query it shows. No data: the boxes say
what each widget asks CloudWatch for. `layout_errors` is the layout check the tests run:
every widget inside the grid and no two overlapping.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

GRID_COLUMNS = 24  # CloudWatch dashboards are 24 units wide
CELL_W = 56  # pixels per grid unit, across
CELL_H = 30  # pixels per grid unit, down
GAP = 3  # pixels between boxes: each box is drawn inset by this much
HEADER = 44  # the band above the grid: caption and column numbers
BACKGROUND = (250, 250, 250)
GRID_LINE = (228, 228, 228)
INK = (30, 30, 30)
MUTED = (105, 105, 105)
COLORS: dict[str, tuple[int, int, int]] = {  # border colour by widget type; the fill is a tint of it
    "metric": (31, 119, 180),
    "log": (44, 160, 44),
    "alarm": (214, 39, 40),
    "text": (127, 127, 127),
}
OTHER = (148, 103, 189)


@dataclass(frozen=True)
class Box:
    """One widget as drawn: its grid cell and the pixel rectangle of its border."""

    title: str
    kind: str
    x: int
    y: int
    width: int
    height: int
    left: int
    top: int
    right: int
    bottom: int


def resolve(value: Any) -> Any:
    """A CloudFormation value as text: `Fn::Join` joined, `Ref` -> `${X}`, `Fn::GetAtt` -> `${A.B}`."""
    if isinstance(value, dict) and len(value) == 1:
        ((key, arg),) = value.items()
        if key == "Ref":
            return f"${{{arg}}}"
        if key == "Fn::GetAtt":
            return f"${{{'.'.join(arg) if isinstance(arg, list) else arg}}}"
        if key == "Fn::Join":
            separator, parts = arg
            return separator.join(str(resolve(part)) for part in parts)
    if isinstance(value, list):
        return [resolve(item) for item in value]
    if isinstance(value, dict):
        return {key: resolve(item) for key, item in value.items()}
    return value


def dashboard_body(template: Mapping[str, Any]) -> dict[str, Any]:
    """The body of the template's one dashboard, parsed."""
    found = [r for r in template.get("Resources", {}).values() if r.get("Type") == "AWS::CloudWatch::Dashboard"]
    if len(found) != 1:
        raise ValueError(f"expected one AWS::CloudWatch::Dashboard, found {len(found)}")
    return dict(json.loads(resolve(found[0]["Properties"]["DashboardBody"])))


def layout_errors(body: Mapping[str, Any]) -> list[str]:
    """What CloudWatch would move or clip: a widget outside the grid, or two on the same cells."""
    errors: list[str] = []
    cells: dict[tuple[int, int], str] = {}
    for n, widget in enumerate(body.get("widgets", [])):
        name = widget.get("properties", {}).get("title") or f"widget {n} ({widget.get('type')})"
        x, y, w, h = (widget.get(k) for k in ("x", "y", "width", "height"))
        if not all(isinstance(v, int) for v in (x, y, w, h)):
            errors.append(f"{name}: no position (x, y, width, height)")
            continue
        assert isinstance(x, int) and isinstance(y, int) and isinstance(w, int) and isinstance(h, int)
        if x < 0 or y < 0 or w < 1 or h < 1 or x + w > GRID_COLUMNS:
            errors.append(f"{name}: outside the {GRID_COLUMNS}-column grid (x={x}, width={w})")
            continue
        for cell in ((cx, cy) for cx in range(x, x + w) for cy in range(y, y + h)):
            if cell in cells:
                errors.append(f"{name}: overlaps {cells[cell]} at {cell}")
                break
            cells[cell] = name
    return errors


# ---- what each widget shows, in a few words ------------------------------------------------
_SEARCH = re.compile(r"SEARCH\('\{([^}]*)\}\s*MetricName=\"(\w+)\"',\s*'(\w+)',\s*(\d+)\)")
_SELECT = re.compile(r"SELECT (\w+)\((\w+)\) FROM SCHEMA\(([^)]*)\)(?: GROUP BY (\w+))?(?: ORDER BY .*? LIMIT (\d+))?")
_ALARM = re.compile(r"\$\{(?:Observability)?(\w+?)(?:[0-9A-F]{8})?\.Arn\}")


def period_text(seconds: int) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _search_text(match: re.Match[str]) -> str:
    _namespace, *dimensions = [d.strip() for d in match.group(1).split(",")]
    return f"{match.group(2)}[{','.join(dimensions)}] {match.group(3)}/{period_text(int(match.group(4)))}"


def _select_text(match: re.Match[str]) -> str:
    fn, metric, schema, group, limit = match.groups()
    dimensions = [d.strip() for d in schema.split(",")[1:]]
    text = f"MI {fn}({metric})[{','.join(dimensions)}]"
    if group:
        text += f" by {group}"
    return text + (f" top {limit}" if limit else "")


def expression_text(expression: str) -> str:
    """A metric math / Metrics Insights expression, shortened (SEARCH and SELECT summarized)."""
    return _SELECT.sub(_select_text, _SEARCH.sub(_search_text, expression))


def _metric_text(metric: list[Any]) -> str:
    options = metric[-1] if metric and isinstance(metric[-1], dict) else {}
    if "expression" in options:
        text = expression_text(str(options["expression"]))
        return f"{options['label']}: {text}" if options.get("label") else text
    names = [str(m) for m in metric if not isinstance(m, dict)]
    stat = f" ({options['stat']})" if options.get("stat") else ""
    return " ".join(names[:2]) + stat


def describe(widget: Mapping[str, Any]) -> tuple[str, list[str]]:
    """(the type line, the content lines) of one widget."""
    kind = str(widget.get("type", "?"))
    props = widget.get("properties", {})
    tags = [kind]
    if props.get("view"):
        tags.append(str(props["view"]))
    if props.get("start"):
        tags.append(f"own range {props['start']}")
    lines: list[str]
    if kind == "metric":
        lines = [_metric_text(m) for m in props.get("metrics", [])]
    elif kind == "log":
        query = str(props.get("query", ""))
        query = re.sub(r"^(SOURCE '[^']*'\s*\|\s*)+", "", query)
        lines = ["Logs Insights:", *[line.strip().lstrip("| ").strip() for line in query.split("\n")]]
    elif kind == "alarm":
        alarms = [str(a) for a in props.get("alarms", [])]
        lines = [f"{len(alarms)} alarms:", ", ".join(m.group(1) for a in alarms if (m := _ALARM.search(a)))]
    elif kind == "text":  # its heading is drawn as the title (see `title_of`)
        lines = [line.strip() for line in str(props.get("markdown", "")).split("\n") if not line.startswith("#")]
    else:
        lines = []
    return " | ".join(tags), [line for line in lines if line]


def title_of(widget: Mapping[str, Any]) -> str:
    """The widget's title; a text widget's is its first markdown heading."""
    props = widget.get("properties", {})
    if widget.get("type") == "text":
        headings = [line.lstrip("# ").strip() for line in str(props.get("markdown", "")).split("\n")
                    if line.startswith("#")]
        return headings[0] if headings else ""
    return str(props.get("title", ""))


# ---- drawing -----------------------------------------------------------------------------
def _fonts() -> tuple[Any, Any, Any]:
    from PIL import ImageFont

    return ImageFont.load_default(13), ImageFont.load_default(11), ImageFont.load_default(10)


def _wrap(draw: Any, text: str, font: Any, width: int) -> list[str]:
    lines: list[str] = []
    line = ""
    for word in re.split(r"(?<=[ ,|(])", text):
        candidate = line + word
        if line and draw.textlength(candidate, font=font) > width:
            lines.append(line.rstrip())
            line = word.lstrip()
        else:
            line = candidate
        while draw.textlength(line, font=font) > width:  # one long word: cut it
            cut = max(1, int(len(line) * width / draw.textlength(line, font=font)) - 1)
            lines.append(line[:cut])
            line = line[cut:]
    if line.strip():
        lines.append(line.rstrip())
    return lines


def _tint(color: tuple[int, int, int], share: float = 0.1) -> tuple[int, int, int]:
    r, g, b = (round(255 - (255 - c) * share) for c in color)
    return (r, g, b)


def box_of(widget: Mapping[str, Any]) -> tuple[int, int, int, int]:
    """The pixel rectangle (left, top, right, bottom) of a widget's border."""
    x, y, w, h = (int(widget[k]) for k in ("x", "y", "width", "height"))
    return (x * CELL_W + GAP, HEADER + y * CELL_H + GAP,
            (x + w) * CELL_W - GAP - 1, HEADER + (y + h) * CELL_H - GAP - 1)


def render(body: Mapping[str, Any], out: Path, *, caption: str = "") -> list[Box]:
    """Draw `body` into a PNG at `out`; returns the boxes drawn, in the body's order."""
    from PIL import Image, ImageDraw

    widgets = list(body.get("widgets", []))
    rows = max((int(w["y"]) + int(w["height"]) for w in widgets), default=1)
    size = (GRID_COLUMNS * CELL_W, HEADER + rows * CELL_H)
    image = Image.new("RGB", size, BACKGROUND)
    draw = ImageDraw.Draw(image)
    title_font, body_font, small_font = _fonts()
    for column in range(GRID_COLUMNS + 1):
        draw.line([(column * CELL_W, HEADER - 14), (column * CELL_W, size[1])], fill=GRID_LINE)
        if column < GRID_COLUMNS:
            draw.text((column * CELL_W + 3, HEADER - 13), str(column), font=small_font, fill=MUTED)
    range_text = f"dashboard range {body.get('start', 'default')}"
    draw.text((6, 6), " | ".join(t for t in (caption, range_text, f"{len(widgets)} widgets") if t),
              font=title_font, fill=INK)
    boxes: list[Box] = []
    for widget in widgets:
        kind = str(widget.get("type", "?"))
        color = COLORS.get(kind, OTHER)
        left, top, right, bottom = box_of(widget)
        draw.rectangle([left, top, right, bottom], fill=_tint(color), outline=color, width=2)
        title = title_of(widget)
        type_line, lines = describe(widget)
        inner = right - left - 14
        tag_width = int(draw.textlength(type_line, font=small_font))
        draw.text((right - 7 - tag_width, top + 8), type_line, font=small_font, fill=color)  # the type, top right
        cursor = top + 6
        for line in _wrap(draw, title, title_font, inner - tag_width - 12)[:2] if title else []:
            draw.text((left + 7, cursor), line, font=title_font, fill=INK)
            cursor += 16
        cursor = max(cursor, top + 22) + 2
        wrapped = [part for line in lines for part in _wrap(draw, "- " + line, body_font, inner)]
        room = max((bottom - 6 - cursor) // 13, 0)
        if len(wrapped) > room:
            wrapped = [*wrapped[:max(room - 1, 0)], "..."] if room else []
        for line in wrapped:
            draw.text((left + 7, cursor), line, font=body_font, fill=MUTED)
            cursor += 13
        x, y, w, h = (int(widget[k]) for k in ("x", "y", "width", "height"))
        boxes.append(Box(title, kind, x, y, w, h, left, top, right, bottom))
    out.parent.mkdir(parents=True, exist_ok=True)
    # a small palette keeps the file small (flat colours and anti-aliased text)
    image.quantize(colors=48, method=Image.Quantize.MEDIANCUT).save(out, optimize=True)
    return boxes


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    template, out = Path(argv[0]), Path(argv[1])
    body = dashboard_body(json.loads(template.read_text()))
    errors = layout_errors(body)
    for error in errors:
        print(f"layout: {error}", file=sys.stderr)
    boxes = render(body, out, caption=template.name)
    print(f"{out}: {len(boxes)} widgets")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
