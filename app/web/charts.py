"""Tiny server-side SVG charts for the status dashboard (no JavaScript, no library).

Charts are plain SVG markup with CSS classes for colours (the app's CSP
forbids inline styles), a <title> and an aria-label for screen readers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

WIDTH = 600
HEIGHT = 180
PAD_LEFT = 44
PAD_RIGHT = 8
PAD_TOP = 10
PAD_BOTTOM = 24


@dataclass(frozen=True)
class Series:
    """One named row of values, drawn with the CSS class ``series-<css>``."""

    name: str
    values: Sequence[float | None]
    css: str


def _nice_max(value: float) -> float:
    """A round axis maximum at or above ``value`` (1, 2, 5 × 10^n)."""
    if value <= 0:
        return 1.0
    magnitude = 1.0
    while magnitude * 10 <= value:
        magnitude *= 10
    while magnitude > value:
        magnitude /= 10
    for step in (1, 2, 5, 10):
        if step * magnitude >= value:
            return step * magnitude
    return 10 * magnitude


def _fmt(value: float) -> str:
    return f"{value:.0f}" if value >= 10 or value == int(value) else f"{value:.3g}"


def _frame(label: str, top: float, labels: Sequence[str], body: list[str], unit: str) -> Markup:
    plot_w = WIDTH - PAD_LEFT - PAD_RIGHT
    plot_h = HEIGHT - PAD_TOP - PAD_BOTTOM
    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="{escape(label)}" preserveAspectRatio="xMidYMid meet" '
        'xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(label)}</title>",
    ]
    for fraction in (0, 0.5, 1):
        y = PAD_TOP + plot_h * (1 - fraction)
        parts.append(
            f'<line class="grid" x1="{PAD_LEFT}" x2="{WIDTH - PAD_RIGHT}" '
            f'y1="{y:.1f}" y2="{y:.1f}"/>'
        )
        parts.append(
            f'<text class="axis" x="{PAD_LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">'
            f"{escape(_fmt(top * fraction))}{escape(unit)}</text>"
        )
    parts.extend(body)
    count = len(labels)
    if count:
        step = plot_w / count
        # At most ~6 x-axis labels, so they never overlap.
        every = max(1, -(-count // 6))
        for i in range(0, count, every):
            x = PAD_LEFT + step * (i + 0.5)
            parts.append(
                f'<text class="axis" x="{x:.1f}" y="{HEIGHT - 6}" text-anchor="middle">'
                f"{escape(labels[i])}</text>"
            )
    parts.append("</svg>")
    return Markup("".join(parts))


def bar_chart(
    label: str, labels: Sequence[str], series: Sequence[Series], unit: str = ""
) -> Markup:
    """Stacked bars, one per label; ``series`` stack bottom-up in order."""
    count = len(labels)
    totals = [sum(s.values[i] or 0 for s in series) for i in range(count)]
    top = _nice_max(max(totals, default=0))
    plot_w = WIDTH - PAD_LEFT - PAD_RIGHT
    plot_h = HEIGHT - PAD_TOP - PAD_BOTTOM
    step = plot_w / max(count, 1)
    bar_w = max(1.0, step * 0.8)
    body = []
    for i in range(count):
        base = 0.0
        x = PAD_LEFT + step * i + (step - bar_w) / 2
        for s in series:
            value = s.values[i] or 0
            if value <= 0:
                continue
            h = plot_h * value / top
            y = PAD_TOP + plot_h - plot_h * base / top - h
            body.append(
                f'<rect class="series-{s.css}" x="{x:.1f}" y="{y:.1f}" '
                f'width="{bar_w:.1f}" height="{h:.1f}">'
                f"<title>{escape(labels[i])}: {escape(_fmt(value))}{escape(unit)} "
                f"{escape(s.name)}</title></rect>"
            )
            base += value
    return _frame(label, top, labels, body, unit)


def line_chart(
    label: str, labels: Sequence[str], series: Sequence[Series], unit: str = ""
) -> Markup:
    """One line per series over the labels, with a dot on each point.

    ``None`` values (no data in that slot) break the line instead of drawing zero.
    """
    top = _nice_max(max((v for s in series for v in s.values if v is not None), default=0))
    plot_w = WIDTH - PAD_LEFT - PAD_RIGHT
    plot_h = HEIGHT - PAD_TOP - PAD_BOTTOM
    step = plot_w / max(len(labels), 1)
    body = []
    for s in series:
        segment: list[str] = []
        segments = [segment]
        for i, value in enumerate(s.values):
            if value is None:
                segment = []
                segments.append(segment)
                continue
            x = PAD_LEFT + step * (i + 0.5)
            y = PAD_TOP + plot_h * (1 - value / top)
            segment.append(f"{x:.1f},{y:.1f}")
            body.append(
                f'<circle class="dot series-{s.css}" cx="{x:.1f}" cy="{y:.1f}" r="2.5">'
                f"<title>{escape(labels[i])}: {escape(_fmt(value))}{escape(unit)} "
                f"{escape(s.name)}</title></circle>"
            )
        for points in segments:
            if len(points) > 1:
                body.insert(
                    0, f'<polyline class="line series-{s.css}" points="{" ".join(points)}"/>'
                )
    return _frame(label, top, labels, body, unit)
