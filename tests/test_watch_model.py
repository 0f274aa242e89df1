"""What the watch keeps and draws, fed in memory: the latency per second that shows a slow pod,
and a page and a JSON document that stay small for 1,000 sessions over an hour."""

from __future__ import annotations

import json
import re
import tracemalloc

from tools.check_affinity.simulated import rollout_watch, worst_case_watch
from tools.check_affinity.watch_html import DRAWN_MOVES, render_html
from tools.check_affinity.watch_model import LATENCY_SAMPLE, MAX_EVENTS, Session, Watch
from tools.check_affinity.watch_text import render_text


def steady_watch_with_a_slow_second() -> Watch:
    """Four sessions answered in 10 ms every second for 10 s, but in 400 ms by pod-b at 6 s."""
    watch = Watch("http://203.0.113.10/", "stickounet", 10.0, 1.0, [Session() for _ in range(4)])
    for second in range(10):
        for index in range(4):
            pod = "pod-b" if index % 2 else "pod-a"
            slow = pod == "pod-b" and second == 6
            watch.record_answer(index, pod, second + index / 4, 0.4 if slow else 0.01)
    watch.elapsed = 10.0
    return watch


def test_the_latency_per_second_shows_when_a_pod_was_slow() -> None:
    watch = steady_watch_with_a_slow_second()
    rows = watch.as_json()["per_stretch"]["latency_mean_max_ms"]
    assert len(rows) == 10
    assert rows[6] == [6, 205.0, 400.0]  # two answers of 10 ms, two of 400 ms
    assert all(row[1:] == [10.0, 10.0] for index, row in enumerate(rows) if index != 6)
    text = render_text(watch)
    slowest = next(line for line in text.splitlines() if line.startswith("Slowest"))
    assert "6 s: 205 / 400" in slowest and slowest.count(" s: ") == 5
    assert watch.latency["pod-b"].summary()["max_ms"] == 400.0
    assert watch.latency["pod-a"].summary()["p99_ms"] == 10.0


def test_the_page_draws_the_latency_of_every_second() -> None:
    page = render_html(steady_watch_with_a_slow_second())
    for kind in ("latency-mean", "latency-max"):
        points = re.search(rf'class="{kind}"[^>]* points="([^"]*)"', page)
        assert points is not None and len(points.group(1).split()) == 10
    assert "top 400 ms" in page


def test_a_page_of_1000_sessions_over_an_hour_stays_small() -> None:
    """Every list the watch keeps at its cap: the page draws 10,000 moves at most, says how it
    aggregated, and weighs a few MB; the JSON stays bounded too."""
    watch = worst_case_watch(1_000, 3_600.0)
    page = render_html(watch)
    assert page.count('class="session"') == 1_000
    assert page.count('class="move"') == DRAWN_MOVES
    assert page.count('class="failure"') == MAX_EVENTS
    assert "Moves past the first 10 of a session are counted, not drawn (grey)" in page
    assert "10000 failures past the first 1000 events are counted" in page
    assert len(page.encode()) < 4_000_000
    assert len(json.dumps(watch.as_json()).encode()) < 8_000_000


def test_what_a_watch_holds_grows_with_pods_and_seconds_never_with_requests() -> None:
    """Half an hour of 25 sessions on two pods through a rollout every 15 minutes holds the
    same memory whether they send 1,800 requests each or 180, but for each pod's latency sample
    filling up to its cap: per request the watch keeps counts, not answers."""
    sizes, pods = [], []
    for interval in (1.0, 10.0):
        tracemalloc.start()
        watch = rollout_watch(25, 1_800.0, interval=interval, pods=2, every=900.0)
        size, _ = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        assert sum(s.requests for s in watch.sessions) == 25 * 1_800 / interval
        assert watch.moved == 25
        sizes.append(size)
        pods.append(len(watch.pods))
    assert pods[0] == pods[1]
    assert sizes[0] < sizes[1] + pods[0] * LATENCY_SAMPLE * 8 + 64 * 1024


def test_a_watch_that_sent_fewer_requests_than_were_due_says_so() -> None:
    watch = steady_watch_with_a_slow_second()  # 4 sessions, every second for 10 s: 40 due
    assert (watch.asked, watch.sent, watch.behind) == (40, 40, False)
    assert "Warning: " not in render_text(watch)
    for session in watch.sessions[:2]:  # two sessions answered half as often as they should
        session.requests -= 5
    assert (watch.sent, watch.behind) == (30, True)
    assert "Warning: 30 requests sent of 40 due (75 %)" in render_text(watch)
    assert "Only 30 requests were sent of 40 due" in render_html(watch)
    watch.cut_off = 8  # cut off by the end: sent, neither answered nor failed
    assert (watch.sent, watch.behind) == (38, False)
