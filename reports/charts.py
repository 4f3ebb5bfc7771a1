"""Server-side SVG charts: no JavaScript, no CDN, printable, and they scale to a phone
screen through the viewBox. Labels are escaped; the markup is built here only. A chart is a
function of its items, title, suffix and language: the last few hundred drawn are kept per
process (a dashboard draws the same nine on every view until its figures change)."""

import functools
from decimal import Decimal

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language

from onboarding.money import format_number

BAR_COLOR = "#7c3aed"


def _fmt(value) -> str:
    """A chart label in the language's grouping and decimal mark (one rule: `format_number`)."""
    if value is None:
        return "—"
    if isinstance(value, Decimal | float):
        return format_number(value, decimal_places=0 if abs(value) >= 100 else 2)
    return format_number(value, decimal_places=0)


KEPT_CHARTS = 512


def _kept(draw):
    """`draw(items, title, suffix)` kept per process by its arguments and the language."""

    @functools.lru_cache(maxsize=KEPT_CHARTS)
    def kept(items: tuple, title: str, suffix: str, _language: str | None) -> str:
        return draw([(label, value) for label, _kind, value in items], title, suffix)

    @functools.wraps(draw)
    def chart(items, *, title: str = "", suffix: str = "") -> SafeString:
        # the value's type too: 1 == Decimal(1), but they are drawn as "1" and "1.00"
        key = tuple((str(label), type(value), value) for label, value in items)
        return mark_safe(kept(key, str(title), str(suffix), get_language()))  # noqa: S308

    chart.kept = kept
    return chart


@_kept
def hbar_chart(items, title, suffix) -> str:
    """Horizontal bars, one row per (label, value)."""
    row, label_w, width = 26, 150, 480
    height = max(row * len(items), row) + 6
    peak = max((float(v or 0) for _l, v in items), default=0) or 1
    parts = [
        f'<svg class="chart hbar" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(title)}" preserveAspectRatio="xMinYMin meet">'
    ]
    if not items:
        parts.append(f'<text x="4" y="18" class="empty">{escape("—")}</text>')
    for i, (label, value) in enumerate(items):
        y = i * row + 4
        bar = max((float(value or 0) / peak) * (width - label_w - 90), 0)
        short = str(label) if len(str(label)) <= 22 else str(label)[:21] + "…"
        parts.append(
            f'<text x="{label_w - 6}" y="{y + 15}" text-anchor="end" class="label">'
            f"<title>{escape(label)}</title>{escape(short)}</text>"
            f'<rect x="{label_w}" y="{y + 3}" width="{bar:.1f}" height="{row - 9}" rx="3" '
            f'fill="{BAR_COLOR}"></rect>'
            f'<text x="{label_w + bar + 5:.1f}" y="{y + 15}" class="value">'
            f"{escape(_fmt(value))}{escape(suffix)}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)  # every dynamic part is escaped above


@_kept
def column_chart(items, title, suffix) -> str:
    """Vertical columns (e.g. by month) with the value above each column."""
    width, height, top, bottom = 480, 180, 18, 24
    n = max(len(items), 1)
    slot = width / n
    peak = max((float(v or 0) for _l, v in items), default=0) or 1
    parts = [
        f'<svg class="chart columns" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(title)}" preserveAspectRatio="xMinYMin meet">',
        f'<line x1="0" y1="{height - bottom}" x2="{width}" y2="{height - bottom}" '
        f'class="axis"></line>',
    ]
    for i, (label, value) in enumerate(items):
        h = (float(value or 0) / peak) * (height - top - bottom)
        x = i * slot + slot * 0.15
        y = height - bottom - h
        parts.append(
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{slot * 0.7:.1f}" height="{h:.1f}" rx="2" '
            f'fill="{BAR_COLOR}"><title>{escape(label)}: {escape(_fmt(value))}{escape(suffix)}'
            f"</title></rect>"
        )
        if n <= 14:
            parts.append(
                f'<text x="{x + slot * 0.35:.1f}" y="{max(y - 4, 10):.1f}" text-anchor="middle" '
                f'class="value">{escape(_fmt(value))}</text>'
            )
        if n <= 14 or i % max(n // 8, 1) == 0:
            parts.append(
                f'<text x="{x + slot * 0.35:.1f}" y="{height - 8}" text-anchor="middle" '
                f'class="label">{escape(label)}</text>'
            )
    parts.append("</svg>")
    return "".join(parts)  # every dynamic part is escaped above
