"""What a watch has seen: each session's pod, moves, failures and cookies; each pod's lifetime
and latency; counts per stretch of time; moves and failures in time order. Everything is
bounded however long the watch runs: counts, capped lists and fixed-size samples, never the
responses."""

from __future__ import annotations

import math
import random
import statistics
from array import array
from dataclasses import dataclass, field
from typing import Any

from tools.check_affinity.answers import EXIT_ERROR, EXIT_NOT_STICKY, EXIT_STICKY

MAX_MOVES = 100  # per session; further moves are counted, not kept
MAX_EVENTS = 1_000  # moves and failures in time order; further ones are counted
LATENCY_SAMPLE = 4_096  # per pod: a uniform sample of the latencies (reservoir), 32 KiB
MAX_STRETCHES = 3_600  # counts per stretch of time: one stretch per second up to an hour


@dataclass
class Move:
    at: float
    source: str
    target: str


@dataclass
class Session:
    first_pod: str | None = None
    pod: str | None = None
    moves: list[Move] = field(default_factory=list)
    move_count: int = 0
    requests: int = 0  # answered or failed
    cookies_set: int = 0  # answers that set the watched cookie: 1 keeps the first one
    failures: int = 0
    failure_run: int = 0
    longest_failure_run: int = 0

    def answered(self, pod: str, at: float) -> None:
        self.requests += 1
        self.failure_run = 0
        if self.first_pod is None:
            self.first_pod = pod
        elif pod != self.pod:
            self.move_count += 1
            if len(self.moves) < MAX_MOVES:
                self.moves.append(Move(round(at, 3), str(self.pod), pod))
        self.pod = pod

    def failed(self) -> None:
        self.requests += 1
        self.failures += 1
        self.failure_run += 1
        self.longest_failure_run = max(self.longest_failure_run, self.failure_run)


@dataclass
class Latency:
    """How long a pod took to answer: count, mean and maximum exactly, quantiles from a uniform
    sample of at most LATENCY_SAMPLE answers (reservoir sampling)."""

    count: int = 0
    total: float = 0.0
    highest: float = 0.0
    sample: array[float] = field(default_factory=lambda: array("d"))  # 8 bytes per answer

    def add(self, seconds: float, rng: random.Random) -> None:
        self.count += 1
        self.total += seconds
        self.highest = max(self.highest, seconds)
        if len(self.sample) < LATENCY_SAMPLE:
            self.sample.append(seconds)
        else:
            slot = rng.randrange(self.count)
            if slot < LATENCY_SAMPLE:
                self.sample[slot] = seconds

    def summary(self) -> dict[str, float | int]:
        ordered = sorted(self.sample)

        def quantile(q: float) -> float:
            return ordered[min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1)]

        return {
            "count": self.count,
            "p50_ms": round(1000 * quantile(0.50), 1),
            "p95_ms": round(1000 * quantile(0.95), 1),
            "p99_ms": round(1000 * quantile(0.99), 1),
            "max_ms": round(1000 * self.highest, 1),
            "mean_ms": round(1000 * statistics.fmean(ordered), 1),
        }


@dataclass
class Watch:
    url: str
    cookie_name: str
    duration: float
    interval: float
    sessions: list[Session]
    pods: dict[str, list[float]] = field(default_factory=dict)  # pod -> [first, last] seen
    cookie: dict[str, Any] | None = None
    elapsed: float = 0.0
    interrupted: bool = False
    insecure: bool = False  # --insecure: the certificate was not verified
    latency: dict[str, Latency] = field(default_factory=dict)
    # Counts per stretch of time: [answered, failed, moved] for each `stretch` seconds.
    counts: dict[int, list[int]] = field(default_factory=dict)
    # How long answers took per stretch of time: [total, highest] seconds over its answers.
    slowness: dict[int, list[float]] = field(default_factory=dict)
    events: list[tuple[float, int, str, str]] = field(default_factory=list)  # at, session, ...
    events_dropped: int = 0
    cut_off: int = 0  # requests sent but cut off by the end or Ctrl-C: neither answered nor failed
    failing_sessions: int = 0
    failing_since: float | None = None
    longest_failing: tuple[float, float] | None = None  # when any session was failing
    rng: random.Random = field(default_factory=lambda: random.Random(0), repr=False)

    @property
    def stretch(self) -> int:
        """Seconds per count: one second, or wider so that an hour or more stays bounded."""
        return max(1, math.ceil(self.duration / MAX_STRETCHES))

    def saw(self, pod: str, at: float) -> None:
        seen = self.pods.setdefault(pod, [round(at, 3), round(at, 3)])
        seen[1] = round(at, 3)

    def _count(self, at: float, column: int) -> None:
        self.counts.setdefault(int(at // self.stretch), [0, 0, 0])[column] += 1

    def _event(self, at: float, index: int, kind: str, detail: str) -> None:
        if len(self.events) < MAX_EVENTS:
            self.events.append((round(at, 3), index, kind, detail))
        else:
            self.events_dropped += 1

    def record_answer(self, index: int, pod: str, sent: float, seconds: float) -> None:
        """Session `index` got `pod`'s answer to the request it sent at `sent`."""
        session = self.sessions[index]
        was_failing, moves = session.failure_run > 0, session.move_count
        previous = session.pod
        session.answered(pod, sent)
        self.saw(pod, sent)
        self.latency.setdefault(pod, Latency()).add(seconds, self.rng)
        self._count(sent, 0)
        took = self.slowness.setdefault(int(sent // self.stretch), [0.0, 0.0])
        took[0] += seconds
        took[1] = max(took[1], seconds)
        if session.move_count > moves:
            self._count(sent, 2)
            self._event(sent, index, "moved", f"{previous} -> {pod}")
        if was_failing:
            self._failing(-1, sent)

    def record_failure(self, index: int, sent: float, reason: str) -> None:
        session = self.sessions[index]
        session.failed()
        self._count(sent, 1)
        self._event(sent, index, "failed", reason)
        if session.failure_run == 1:
            self._failing(+1, sent)

    def _failing(self, change: int, at: float) -> None:
        """The longest stretch in which at least one session was failing."""
        self.failing_sessions += change
        if change > 0 and self.failing_sessions == 1:
            self.failing_since = at
        elif change < 0 and self.failing_sessions == 0 and self.failing_since is not None:
            stretch = (self.failing_since, at)
            if self.longest_failing is None or at - self.failing_since > (
                self.longest_failing[1] - self.longest_failing[0]
            ):
                self.longest_failing = stretch
            self.failing_since = None

    def close(self) -> None:
        """At the end: a stretch of failures still open ends with the watch."""
        if self.failing_since is not None:
            self.failing_sessions = 1
            self._failing(-1, self.elapsed)

    @property
    def kept(self) -> int:
        return sum(1 for s in self.sessions if s.move_count == 0)

    @property
    def moved(self) -> int:
        return len(self.sessions) - self.kept

    @property
    def failed(self) -> int:
        return sum(1 for s in self.sessions if s.failures)

    @property
    def asked(self) -> int:
        """Requests due in the time watched: each session sends one every interval from its
        start, spread over the first interval."""
        count = len(self.sessions)
        starts = (index * self.interval / count for index in range(count))
        return sum(
            math.ceil((self.elapsed - start) / self.interval)
            for start in starts
            if self.elapsed > start
        )

    @property
    def sent(self) -> int:
        return sum(session.requests for session in self.sessions) + self.cut_off

    @property
    def behind(self) -> bool:
        """Fewer requests went out than were due (by more than 5 %, and more than one per
        session): answers slower than the interval, or a machine that cannot keep up."""
        missing = self.asked - self.sent
        return missing > 0.05 * self.asked and missing > len(self.sessions)

    @property
    def exit_code(self) -> int:
        if not any(session.requests for session in self.sessions):
            return EXIT_ERROR  # nothing was asked: not "every session kept its pod"
        return EXIT_STICKY if self.moved == 0 and self.failed == 0 else EXIT_NOT_STICKY

    @property
    def verdict(self) -> str:
        return {
            EXIT_STICKY: "every session kept its pod",
            EXIT_NOT_STICKY: "sessions moved or failed",
        }.get(self.exit_code, "no session had an answer: nothing to judge")

    def latency_per_stretch(self) -> list[tuple[int, float, float]]:
        """(start in seconds, mean ms, max ms) of the answers of each stretch that had any."""
        return [
            (start * self.stretch, round(1000 * total / counts[0], 1), round(1000 * highest, 1))
            for start, (total, highest) in sorted(self.slowness.items())
            if (counts := self.counts.get(start)) and counts[0]
        ]

    def answering(self, now: float) -> list[str]:
        """Pods seen within the last two intervals."""
        return sorted(
            pod for pod, (_, last) in self.pods.items() if now - last <= 2 * self.interval
        )

    def gone(self) -> list[str]:
        """Pods not seen in the last two intervals of the watch: they went away."""
        return sorted(set(self.pods) - set(self.answering(self.elapsed)))

    def as_json(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "seconds": round(self.elapsed, 3),
            "interrupted": self.interrupted,
            "sessions": len(self.sessions),
            "kept": self.kept,
            "moved": self.moved,
            "failed": self.failed,
            "exitCode": self.exit_code,
            "cookie": {"name": self.cookie_name, "attributes": self.cookie},
            "pods": {
                pod: {"first": first, "last": last} for pod, (first, last) in self.pods.items()
            },
            "gone": self.gone(),
            "insecure": self.insecure,
            "requests": sum(s.requests for s in self.sessions),
            "asked": self.asked,
            "sent": self.sent,
            "behind": self.behind,
            "latency": {pod: stats.summary() for pod, stats in sorted(self.latency.items())},
            "per_stretch": {
                "seconds": self.stretch,
                "answered_failed_moved": [
                    [start * self.stretch, *columns]
                    for start, columns in sorted(self.counts.items())
                ],
                "latency_mean_max_ms": [list(row) for row in self.latency_per_stretch()],
            },
            "events": [
                {"at": at, "session": index, "kind": kind, "detail": detail}
                for at, index, kind, detail in self.events
            ],
            "events_dropped": self.events_dropped,
            "longest_failing": None
            if self.longest_failing is None
            else {
                "from": round(self.longest_failing[0], 3),
                "to": round(self.longest_failing[1], 3),
                "seconds": round(self.longest_failing[1] - self.longest_failing[0], 3),
            },
            "per_session": [
                {
                    "first_pod": s.first_pod,
                    "moves": [{"at": m.at, "from": m.source, "to": m.target} for m in s.moves],
                    "moves_total": s.move_count,
                    "requests": s.requests,
                    "cookies_set": s.cookies_set,
                    "failures": s.failures,
                    "longest_failure_run": s.longest_failure_run,
                }
                for s in self.sessions
            ],
        }
