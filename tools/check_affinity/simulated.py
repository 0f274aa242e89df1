"""Watches made up in memory, to measure what the watch keeps and the page it draws at a scale no
test can wait for: 1,000 sessions over an hour.

- `worst_case_watch`: every bounded list at its cap (each session at MAX_MOVES moves, MAX_EVENTS
  events, a count and a latency for every stretch, full latency samples): the most a watch of
  that size can ever hold, whatever happened.
- `rollout_watch`: the same watch fed request by request as the sessions would record it, with
  the pods replaced one by one every `every` seconds (each session moves when its pod goes, a
  few requests fail at each replacement): what a long watch through rollouts builds up.
"""

from __future__ import annotations

import random
from array import array

from tools.check_affinity.watch_model import (
    LATENCY_SAMPLE,
    MAX_EVENTS,
    MAX_MOVES,
    Latency,
    Move,
    Session,
    Watch,
)


def worst_case_watch(sessions: int, seconds: float, pods: int = 30) -> Watch:
    names = [f"what-is-my-pod-{index:03d}" for index in range(pods)]
    watch = Watch("http://203.0.113.10/", "stickounet", seconds, 1.0, [], elapsed=seconds)
    step = seconds / (MAX_MOVES + 1)
    for index in range(sessions):
        session = Session(first_pod=names[index % pods], requests=int(seconds))
        session.moves = [
            Move(round(step * (move + 1), 3), names[(index + move) % pods],
                 names[(index + move + 1) % pods])
            for move in range(MAX_MOVES)
        ]  # fmt: skip
        session.move_count = 3 * MAX_MOVES
        session.pod = session.moves[-1].target
        watch.sessions.append(session)
    for index, name in enumerate(names):
        watch.pods[name] = [round(index * seconds / pods, 3), seconds]
        watch.latency[name] = Latency(
            LATENCY_SAMPLE, LATENCY_SAMPLE * 0.01, 0.5, array("d", [0.01] * LATENCY_SAMPLE)
        )
    for start in range(int(seconds // watch.stretch)):
        watch.counts[start] = [sessions, 1, 1]
        watch.slowness[start] = [sessions * 0.01, 0.02 + (start % 60) / 1000]
    watch.events = [
        (round(seconds * event / MAX_EVENTS, 3), event % sessions, "failed", "HTTP 502")
        for event in range(MAX_EVENTS)
    ]
    watch.events_dropped = sessions * 10
    return watch


def rollout_watch(
    sessions: int, seconds: float, interval: float = 1.0, pods: int = 3, every: float = 600.0
) -> Watch:
    watch = Watch(
        "http://203.0.113.10/", "stickounet", seconds, interval,
        [Session() for _ in range(sessions)], elapsed=seconds,
    )  # fmt: skip
    rng = random.Random(7)
    at = 0.0
    while at < seconds:
        # Each replacement replaces the pods one by one, `every / pods` apart.
        generation = int(at // (every / pods))
        for index in range(sessions):
            sent = at + index * interval / sessions
            slot = index % pods
            pod = f"what-is-my-pod-{(generation - slot + pods) // pods}-{slot}"
            if rng.random() < 0.0005:
                watch.record_failure(index, sent, "HTTP 502")
            else:
                watch.record_answer(index, pod, sent, rng.uniform(0.002, 0.05))
        at += interval
    watch.close()
    return watch
