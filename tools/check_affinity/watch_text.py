"""The watch's report as text, and its live line on a terminal."""

from __future__ import annotations

from tools.check_affinity.watch_model import Watch

SHOWN_EVENTS = 50  # in the text; the JSON has up to MAX_EVENTS
SHOWN_SLOWEST = 5  # stretches of time with the slowest answers, in the text


def render_text(watch: Watch) -> str:
    lines = [
        f"Sessions at {watch.url} for {watch.elapsed:.1f} s ({len(watch.sessions)} sessions, "
        f"one request every {watch.interval:g} s, cookie {watch.cookie_name})"
        + (" - interrupted" if watch.interrupted else ""),
        "",
        f"Kept on their first pod: {watch.kept}   moved: {watch.moved}   "
        f"with failed requests: {watch.failed}",
    ]
    for index, session in enumerate(watch.sessions):
        if not (session.move_count or session.failures):
            continue
        moves = ", ".join(f"{m.at:.1f} s {m.source} -> {m.target}" for m in session.moves)
        more = (
            f" (+{session.move_count - len(session.moves)} more)"
            if session.move_count > len(session.moves)
            else ""
        )
        lines.append(
            f"  session {index}: first {session.first_pod}; moves: {moves or 'none'}{more}; "
            f"failed {session.failures} (longest run {session.longest_failure_run})"
        )
    lines += ["", "Pods (first seen - last seen, seconds into the watch):"]
    gone = set(watch.gone())
    for pod, (first, last) in sorted(watch.pods.items()):
        lines.append(
            f"  {pod}: {first:.1f} - {last:.1f}" + ("  (went away)" if pod in gone else "")
        )
    if watch.latency:
        lines += ["", "Latency per pod (ms, p50 / p95 / max, over the answers it gave):"]
        for pod, stats in sorted(watch.latency.items()):
            summary = stats.summary()
            lines.append(
                f"  {pod}: {summary['p50_ms']:g} / {summary['p95_ms']:g} / {summary['max_ms']:g}"
                f" ({summary['count']} answers)"
            )
    slowest = sorted(watch.latency_per_stretch(), key=lambda row: row[1])[-SHOWN_SLOWEST:]
    if len(watch.slowness) > 1:
        lines.append(
            f"Slowest stretches of {watch.stretch} s (ms, mean / max over the answers to the "
            "requests sent then): "
            + "; ".join(f"{start} s: {mean:g} / {top:g}" for start, mean, top in sorted(slowest))
        )
    if watch.events:
        shown = watch.events[:SHOWN_EVENTS]
        lines += ["", "Moves and failures in time order:"]
        lines += [
            f"  {at:7.2f} s  session {index}: {kind} {detail}" for at, index, kind, detail in shown
        ]
        not_shown = len(watch.events) - len(shown) + watch.events_dropped
        if not_shown:
            lines.append(f"  ... and {not_shown} more (--json lists the first {len(watch.events)})")
    if watch.longest_failing is not None:
        start, end = watch.longest_failing
        lines.append(
            f"Longest stretch with a failing session: {end - start:.1f} s "
            f"({start:.1f} s - {end:.1f} s)"
        )
    if watch.behind:
        lines.append(
            f"Warning: {watch.sent} requests sent of {watch.asked} due "
            f"({100 * watch.sent / max(1, watch.asked):.0f} %): answers took longer than the "
            "interval or this machine could not keep up (its latencies then include the wait); "
            "fewer --sessions or a longer --interval"
        )
    if watch.insecure:
        lines.append("Warning: --insecure: the server's certificate was NOT verified")
    if watch.cookie is not None:
        attributes = "  ".join(
            key if value is True else f"{key}={value}"
            for key, value in watch.cookie.items()
            if value is not False
        )
        lines.append(f"Cookie {watch.cookie_name}: {attributes or '(no attributes)'}")
    lines += ["", f"Verdict: {watch.verdict} (exit {watch.exit_code})"]
    return "\n".join(lines)


def live_line(watch: Watch, now: float) -> str:
    failing = sum(1 for s in watch.sessions if s.failure_run)
    return (
        f"\r{now:6.1f} s  kept {watch.kept}  moved {watch.moved}  failing {failing}  "
        f"pods {', '.join(watch.answering(now)) or '-'}\x1b[K"
    )
