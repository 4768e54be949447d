"""Small static line charts as inline SVG: no JavaScript, no network, readable when printed or e-mailed."""
from __future__ import annotations

import math
from dataclasses import dataclass
from html import escape

WIDTH, HEIGHT = 460, 300
MARGIN_LEFT, MARGIN_RIGHT, MARGIN_TOP, MARGIN_BOTTOM = 56, 16, 30, 44


@dataclass(frozen=True)
class Series:
    name: str
    xs: list[float]
    ys: list[float]
    colour: str = "#0072b2"
    dashed: bool = False


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values (1, 2 or 5 times a power of ten) covering [low, high]."""
    if not math.isfinite(low) or not math.isfinite(high):
        return [0.0, 1.0]
    if high <= low:
        high = low + 1.0
    raw = (high - low) / max(count, 1)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    start = math.floor(low / step) * step
    ticks, value = [], start
    while value <= high + step * 1e-9:
        ticks.append(round(value, 10))
        value += step
    if ticks[-1] < high:
        ticks.append(round(value, 10))
    return ticks


def _label(value: float) -> str:
    return f"{value:g}"


def line_chart(
    series: list[Series], title: str, x_label: str, y_label: str,
    x_range: tuple[float, float] | None = None, y_range: tuple[float, float] | None = None,
    diagonal: bool = False, legend_at: str = "top",
) -> str:
    """An SVG element. `diagonal` draws the y = x chance line (ROC curves); `legend_at`: "top" or "bottom"
    right corner, wherever the curves leave room."""
    points = [(x, y) for s in series for x, y in zip(s.xs, s.ys) if y is not None and math.isfinite(y)]
    xs = [p[0] for p in points] or [0.0, 1.0]
    ys = [p[1] for p in points] or [0.0, 1.0]
    x_ticks = nice_ticks(*(x_range or (min(xs), max(xs))))
    y_ticks = nice_ticks(*(y_range or (min(0.0, min(ys)), max(ys))))
    x0, x1, y0, y1 = x_ticks[0], x_ticks[-1], y_ticks[0], y_ticks[-1]
    plot_w = WIDTH - MARGIN_LEFT - MARGIN_RIGHT
    plot_h = HEIGHT - MARGIN_TOP - MARGIN_BOTTOM

    def px(x: float) -> float:
        return MARGIN_LEFT + (x - x0) / ((x1 - x0) or 1) * plot_w

    def py(y: float) -> float:
        return MARGIN_TOP + plot_h - (y - y0) / ((y1 - y0) or 1) * plot_h

    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'width="{WIDTH}" height="{HEIGHT}" role="img" aria-label="{escape(title)}">',
        f'<text x="{WIDTH / 2}" y="18" text-anchor="middle" class="chart-title">{escape(title)}</text>',
    ]
    for t in y_ticks:
        parts.append(f'<line x1="{MARGIN_LEFT}" x2="{WIDTH - MARGIN_RIGHT}" y1="{py(t):.1f}" y2="{py(t):.1f}" '
                     'class="grid"/>')
        parts.append(f'<text x="{MARGIN_LEFT - 6}" y="{py(t) + 4:.1f}" text-anchor="end">{_label(t)}</text>')
    for t in x_ticks:
        parts.append(f'<text x="{px(t):.1f}" y="{HEIGHT - MARGIN_BOTTOM + 16}" text-anchor="middle">{_label(t)}</text>')
    parts.append(f'<rect x="{MARGIN_LEFT}" y="{MARGIN_TOP}" width="{plot_w}" height="{plot_h}" class="frame"/>')
    parts.append(f'<text x="{MARGIN_LEFT + plot_w / 2}" y="{HEIGHT - 8}" text-anchor="middle">{escape(x_label)}</text>')
    parts.append(f'<text transform="translate(14 {MARGIN_TOP + plot_h / 2}) rotate(-90)" text-anchor="middle">'
                 f'{escape(y_label)}</text>')
    if diagonal:
        parts.append(f'<line x1="{px(x0):.1f}" y1="{py(y0):.1f}" x2="{px(x1):.1f}" y2="{py(y1):.1f}" class="chance"/>')
    for s in series:
        coords = " ".join(
            f"{px(x):.1f},{py(y):.1f}" for x, y in zip(s.xs, s.ys) if y is not None and math.isfinite(y)
        )
        if not coords:
            continue
        dash = ' stroke-dasharray="5 3"' if s.dashed else ""
        parts.append(f'<polyline points="{coords}" fill="none" stroke="{escape(s.colour)}" stroke-width="2"{dash}>'
                     f'<title>{escape(s.name)}</title></polyline>')
    legend_top = MARGIN_TOP + 4 if legend_at == "top" else HEIGHT - MARGIN_BOTTOM - 8 - 16 * len(series)
    parts.append(_legend(series, legend_top))
    parts.append("</svg>")
    return "".join(parts)


def _legend(series: list[Series], top: float) -> str:
    x = WIDTH - MARGIN_RIGHT - 156
    rows = [f'<rect x="{x - 4}" y="{top}" width="156" height="{16 * len(series) + 4}" class="legend-box"/>']
    for i, s in enumerate(series):
        y = top + 14 + 16 * i
        dash = ' stroke-dasharray="5 3"' if s.dashed else ""
        rows.append(f'<line x1="{x}" x2="{x + 18}" y1="{y - 4}" y2="{y - 4}" stroke="{escape(s.colour)}" '
                    f'stroke-width="2"{dash}/><text x="{x + 24}" y="{y}">{escape(s.name)}</text>')
    return f'<g class="legend">{"".join(rows)}</g>'
