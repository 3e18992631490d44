"""Charts as SVG drawn on the server: no script, no external file, readable when printed.

Colours are presentation attributes (``fill=``), not ``style=``, so the page's Content-Security-Policy needs
no ``'unsafe-inline'``. Every bar has a ``<title>`` (the browser's tooltip and what a screen reader reads)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from markupsafe import Markup, escape

from xroad_vtj.auditor.aggregates import Day
from xroad_vtj.auditor.present import local_day

# Outcome colours chosen to be told apart in print and by most colour-blind readers.
COLOURS = {
    "found": "#2e7d5b",
    "not_found": "#7a8fa6",
    "passivated": "#b38b2d",
    "deceased": "#5b5b5b",
    "not_disclosed": "#6a4fa3",
    "refused": "#d9822b",
    "pending": "#c9ced6",
    "outcome_unknown": "#a23b72",
}
OTHER = ("#c0392b", "#1f6fb2", "#8c6d46", "#3b9aa3", "#9a5a9a", "#7a7a2f")


def colour(outcome: str, outcomes: Sequence[str]) -> str:
    if outcome in COLOURS:
        return COLOURS[outcome]
    others = [o for o in outcomes if o not in COLOURS]
    return OTHER[others.index(outcome) % len(OTHER)] if outcome in others else OTHER[0]


def _axis_step(peak: int) -> int:
    """A whole, round step (1, 2, 5, 10, 20, ...) so that four steps reach at least ``peak``."""
    step = 1
    while True:
        for m in (1, 2, 5):
            if m * step * 4 >= peak:
                return m * step
        step *= 10


def daily_bars(days: Sequence[Day], outcomes: Sequence[str], code: Callable[[str | None], str]) -> Markup:
    """A stacked bar per day (oldest left), one colour per outcome, with a y axis and a legend."""
    width, height = 900, 260
    left, right, top, bottom = 44, 10, 12, 40
    plot_w, plot_h = width - left - right, height - top - bottom
    step = _axis_step(max((d.total for d in days), default=0))
    peak = step * 4
    slot = plot_w / max(len(days), 1)
    bar_w = max(slot * 0.72, 2.0)
    parts: list[str] = [
        f'<svg class="chart" viewBox="0 0 {width} {height + 28}" role="img" '
        f'xmlns="http://www.w3.org/2000/svg" preserveAspectRatio="xMidYMid meet">'
    ]
    for i in range(5):  # horizontal grid lines with their values
        value = step * i
        y = top + plot_h - plot_h * i / 4
        parts.append(
            f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" stroke="#e3e6ea" '
            f'stroke-width="1"/><text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="11" '
            f'fill="#5f6b7a">{value}</text>'
        )
    for i, day in enumerate(days):
        x = left + i * slot + (slot - bar_w) / 2
        y = top + plot_h
        for outcome in outcomes:
            n = day.by_outcome.get(outcome, 0)
            if not n:
                continue
            h = plot_h * n / peak
            y -= h
            parts.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" height="{h:.1f}" '
                f'fill="{colour(outcome, outcomes)}"><title>{escape(local_day(day.day))} '
                f"{escape(code(outcome))}: {n}</title></rect>"
            )
        if i % 3 == 0 or i == len(days) - 1:
            parts.append(
                f'<text x="{x + bar_w / 2:.1f}" y="{top + plot_h + 16}" text-anchor="middle" '
                f'font-size="11" fill="#5f6b7a">{escape(local_day(day.day))}</text>'
            )
    parts.append(
        f'<line x1="{left}" x2="{width - right}" y1="{top + plot_h}" y2="{top + plot_h}" stroke="#9aa5b1"/>'
    )
    x = float(left)
    for outcome in outcomes:  # legend, one row under the axis
        label = escape(code(outcome))
        parts.append(
            f'<rect x="{x:.0f}" y="{height}" width="12" height="12" rx="2" '
            f'fill="{colour(outcome, outcomes)}"/><text x="{x + 17:.0f}" y="{height + 10}" '
            f'font-size="12" fill="#1f2933">{label}</text>'
        )
        x += 34 + 6.6 * len(str(label))
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704  # every text above is escaped; numbers are ours


def share_bar(n: int, peak: int, fill: str = "#1f6fb2") -> Markup:
    """A small horizontal bar, ``n`` relative to ``peak``, drawn beside a table's number."""
    w = 120 * n / peak if peak else 0
    return Markup(  # noqa: S704  # numbers only
        f'<svg class="share" viewBox="0 0 120 10" width="120" height="10" aria-hidden="true" '
        f'xmlns="http://www.w3.org/2000/svg"><rect width="120" height="10" rx="2" fill="#eef1f4"/>'
        f'<rect width="{w:.1f}" height="10" rx="2" fill="{escape(fill)}"/></svg>'
    )
