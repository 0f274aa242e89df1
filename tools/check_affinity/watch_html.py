"""The watch's report as one self-contained HTML file (`--report FILE.html`): no script, no font,
nothing fetched; the picture is inline SVG.

One row per session over time, coloured by the pod that answered (from its first pod and its
moves), each move a black tick and each failed request a red tick; one track per pod from when it
was first seen to when it was last seen; the verdict and the settings at the top. What the watch
does not keep is said on the page: moves past the first 100 of a session (the row turns grey
from there) and failures past the first 1,000 events. Under the pods, the latency per stretch of
time (mean and max, one line each).

The page stays small however long and wide the watch: at most DRAWN_MOVES moves are drawn over
all the sessions (each session draws its first DRAWN_MOVES / sessions, at least 3, and its row
turns grey past them), at most 1,000 failure marks, and the latency is two lines of at most 3,600
points. 1,000 sessions over an hour make a page of a few MB at most (`benchmarks.watch_report
--scale`).
"""

from __future__ import annotations

import html
from pathlib import Path

from tools.check_affinity.watch_model import MAX_EVENTS, MAX_MOVES, Watch

WIDTH, LABEL, ROW, GAP, TOP = 960, 180, 6, 1, 14
DRAWN_MOVES = 10_000  # over all the sessions
CHART = 60  # height of the latency chart
PALETTE = ("#4e79a7", "#f28e2b", "#59a14f", "#b07aa1", "#76b7b2", "#edc948", "#ff9da7",
           "#9c755f", "#bab0ac", "#e15759")  # fmt: skip


def _x(at: float, watch: Watch) -> float:
    span = max(watch.elapsed, 1e-9)
    return round(LABEL + (WIDTH - LABEL) * min(max(at, 0.0), span) / span, 2)


def render_html(watch: Watch) -> str:
    pods = sorted(watch.pods)
    colour = {pod: PALETTE[index % len(PALETTE)] for index, pod in enumerate(pods)}
    escape = html.escape
    rows: list[str] = []
    failures: dict[int, list[float]] = {}
    for at, index, kind, _ in watch.events:
        if kind == "failed":
            failures.setdefault(index, []).append(at)
    drawn = min(MAX_MOVES, max(3, DRAWN_MOVES // max(1, len(watch.sessions))))
    for index, session in enumerate(watch.sessions):
        y = TOP + index * (ROW + GAP)
        parts = [f'<g class="session" data-session="{index}">']
        start, pod = 0.0, session.first_pod
        for move in session.moves[:drawn]:
            if pod is not None:
                parts.append(_segment(watch, start, move.at, y, colour[pod], pod))
            parts.append(_tick(watch, move.at, y, "move", "#000"))
            start, pod = move.at, move.target
        end_colour = colour[pod] if pod is not None else "#ddd"
        if session.move_count > drawn:  # moves not drawn
            end_colour = "#999"
        parts.append(_segment(watch, start, watch.elapsed, y, end_colour, pod or "no answer"))
        parts += [_tick(watch, at, y, "failure", "#d00") for at in failures.get(index, [])]
        parts.append("</g>")
        rows.append("".join(parts))
    height = TOP + len(watch.sessions) * (ROW + GAP)
    tracks = []
    for index, pod in enumerate(pods):
        first, last = watch.pods[pod]
        y = height + 20 + index * 14
        left, width = _x(first, watch), max(1.0, _x(last, watch) - _x(first, watch))
        tracks.append(
            f'<g class="pod" data-pod="{escape(pod)}"><text x="0" y="{y + 9}" font-size="10">'
            f"{escape(pod[-28:])}</text>"
            f'<rect x="{left}" y="{y}" width="{width}" height="10" fill="{colour[pod]}">'
            f"<title>{escape(pod)}: {first:.1f} s - {last:.1f} s</title></rect></g>"
        )
    chart_top = height + 30 + 14 * len(pods) + 16
    chart = _latency_chart(watch, chart_top)
    total_height = chart_top + CHART + 8
    legend = "".join(
        f'<span class="legend"><span class="swatch" style="background:{colour[pod]}"></span>'
        f"{escape(pod)}</span>"
        for pod in pods
    )
    interrupted = " - interrupted" if watch.interrupted else ""
    insecure = " The certificate was NOT verified (--insecure)." if watch.insecure else ""
    if watch.behind:
        insecure += (
            f" Only {watch.sent} requests were sent of {watch.asked} due: answers took longer "
            "than the interval or the watching machine could not keep up."
        )
    notes = [f"Moves past the first {drawn} of a session are counted, not drawn (grey)."]
    if watch.events_dropped:
        notes.append(
            f"{watch.events_dropped} failures past the first {MAX_EVENTS} events are counted, "
            "not drawn."
        )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>Sessions at {escape(watch.url)}</title>
<style>
body {{ font: 14px sans-serif; margin: 16px; color: #222; }}
.legend {{ margin-right: 12px; white-space: nowrap; }}
.swatch {{ display: inline-block; width: 10px; height: 10px; margin-right: 4px; }}
.verdict {{ font-weight: bold; }}
</style></head>
<body>
<h1>Sessions at {escape(watch.url)}</h1>
<p class="verdict" data-exit-code="{watch.exit_code}">
Verdict: {escape(watch.verdict)} (exit {watch.exit_code})</p>
<p>{len(watch.sessions)} sessions, one request every {watch.interval:g} s,
for {watch.elapsed:.1f} s (cookie {escape(watch.cookie_name)}){interrupted}.
Kept on their first pod: <b>{watch.kept}</b>, moved: <b>{watch.moved}</b>, with failed requests:
<b>{watch.failed}</b>.{insecure}</p>
<p>{legend} <span class="legend">black tick: a move</span>
<span class="legend" style="color:#d00">red tick: a failed request</span></p>
<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{total_height}"
 viewBox="0 0 {WIDTH} {total_height}" role="img">
<text x="0" y="10" font-size="10">sessions (0 at the top)</text>
{"".join(rows)}
<text x="0" y="{height + 12}" font-size="10">pods, first seen to last seen</text>
{"".join(tracks)}
{chart}
</svg>
<p>{" ".join(notes)}</p>
</body></html>
"""


def _segment(watch: Watch, start: float, end: float, y: int, fill: str, pod: str) -> str:
    width = max(0.5, _x(end, watch) - _x(start, watch))
    return (
        f'<rect x="{_x(start, watch)}" y="{y}" width="{round(width, 2)}" height="{ROW}" '
        f'fill="{fill}"><title>{html.escape(pod)}</title></rect>'
    )


def _tick(watch: Watch, at: float, y: int, kind: str, stroke: str) -> str:
    x = _x(at, watch)
    return (
        f'<line class="{kind}" x1="{x}" x2="{x}" y1="{y - 1}" y2="{y + ROW + 1}" '
        f'stroke="{stroke}" stroke-width="1.5"/>'
    )


def _latency_chart(watch: Watch, top: int) -> str:
    """Mean (blue) and max (red) latency of each stretch's answers, scaled to the highest max."""
    rows = watch.latency_per_stretch()
    if not rows:
        return ""
    highest = max(top_ms for _, _, top_ms in rows) or 1.0

    def line(column: int) -> str:
        return " ".join(
            f"{_x(row[0] + watch.stretch / 2, watch)},"
            f"{round(top + CHART - CHART * row[column] / highest, 1)}"
            for row in rows
        )

    return (
        f'<g class="latency"><text x="0" y="{top - 4}" font-size="10">latency per '
        f"{watch.stretch} s, mean (blue) and max (red); top {highest:g} ms</text>"
        f'<line x1="{LABEL}" x2="{WIDTH}" y1="{top + CHART}" y2="{top + CHART}" stroke="#999"/>'
        f'<polyline class="latency-max" fill="none" stroke="#d00" points="{line(2)}"/>'
        f'<polyline class="latency-mean" fill="none" stroke="#4e79a7" points="{line(1)}"/></g>'
    )


def write_report(watch: Watch, path: Path) -> None:
    """Write the page whole: a partial file never stands where the report should be."""
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(render_html(watch), encoding="utf-8")
    partial.replace(path)
