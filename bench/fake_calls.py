"""Realistic fake calls for the benchmarks: varied text, versions, metadata, latency, tokens.

Outputs use a Zipf vocabulary of made-up words, so full-text search behaves like it does on
real text; `RARE_WORD` appears in ~0.1% of outputs and `COMMON_WORD` in ~30%.
"""

from __future__ import annotations

import itertools
import json
import random
from collections.abc import Iterator
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from typing import Any

from evalboard import clock
from evalboard.store.records import input_hash, messages_to_text

DAYS = 60
SEED = 20260105


def period_start() -> datetime:
    """Midnight (UTC) DAYS days before today by evalboard.clock: the calls end today, as a
    live store's do, so the pages' default "last 7 days" views and Home's "today" read a week
    of data, not an empty range."""
    return clock.today() - timedelta(days=DAYS)


RARE_WORD = "quixotic"  # in ~0.1% of outputs; q and x never occur in the generated vocabulary
RARE_SHARE = 0.001
COMMON_WORD = "refund"  # in ~30% of outputs; no generated word ends in "d"
COMMON_SHARE = 0.30

VERSIONS = tuple(f"support-bot-v{k}" for k in range(1, 11))
LIVE_SPAN = 0.25  # the share of the period a version serves traffic


def rollout(k: int) -> float:
    """When the k-th version starts serving, as a share of the period."""
    return k * 0.075


SOURCES_MIX = (("production", 0.90), ("eval", 0.08), ("import", 0.02))
FUNCTION_WORDS = [
    *("the", "a", "to", "and", "of", "you", "your", "is", "it", "for", "in", "on", "that"),
    *("this", "we", "can", "please", "with", "be", "are", "have", "not", "or", "as", "at"),
    *("by", "if", "our", "from", "will", "order", "account", "help", "thanks", "sorry"),
    *("sure", "here", "there", "when", "what", "how", "why", "which", "do", "does", "did"),
    *("was", "were", "should", "would", "could", "may", "might"),
]
SYSTEM_PROMPTS = (
    "You are a helpful support assistant for an online store. Answer briefly.",
    "You are a polite customer service agent. Never promise what policy does not allow.",
    "Answer in JSON with the keys answer and confidence.",
    "You help users troubleshoot their devices step by step.",
)


@dataclass(frozen=True)
class FakeCall:
    """One generated call, in the shape a user hands to `log_call`."""

    created_at: datetime
    model_version: str
    source: str
    input: str | list[dict[str, str]]
    output: str
    latency_ms: float
    prompt_tokens: int
    completion_tokens: int
    error: str | None
    metadata: dict[str, Any]
    session_id: str | None
    external_id: str | None

    def log_kwargs(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def json_line(self) -> str:
        """The call as an exporting tool writes it: every field but `source` (set on import)."""
        record = {**self.log_kwargs(), "created_at": self.created_at.isoformat()}
        del record["source"]
        return json.dumps(record)

    def db_row(self, call_id: int, version_ids: dict[str, int]) -> tuple[Any, ...]:
        """The row as `calls` stores it (the same text SQLAlchemy would write)."""
        if isinstance(self.input, str):
            input_text, input_messages = self.input, None
        else:
            input_text, input_messages = messages_to_text(self.input), json.dumps(self.input)
        return (
            call_id,
            self.created_at.isoformat(sep=" ", timespec="microseconds"),
            version_ids[self.model_version],
            self.source,
            input_text,
            input_messages,
            self.output,
            self.latency_ms,
            self.prompt_tokens,
            self.completion_tokens,
            self.prompt_tokens + self.completion_tokens,
            self.error,
            json.dumps(self.metadata),
            self.session_id,
            self.external_id,
            input_hash(input_text),
        )


def pseudo_words(rng: random.Random, count: int) -> list[str]:
    """Pronounceable made-up words (no q, x or z, never ending in d) for a Zipf vocabulary."""
    onsets = [*"bcfghjklmnprstvw", "br", "cl", "dr", "fl", "gr", "pl", "st", "tr", "sh", "ch"]
    vowels = [*"aeiou", "ai", "ea", "ou", "io"]
    codas = ["", "", "n", "r", "s", "l", "m", "t"]
    words: set[str] = set()
    while len(words) < count:
        syllables = rng.choice((1, 2, 2, 3, 3, 4))
        words.add(
            "".join(rng.choice(onsets) + rng.choice(vowels) for _ in range(syllables))
            + rng.choice(codas)
        )
    ordered = sorted(words)
    rng.shuffle(ordered)  # Zipf ranks must not follow the alphabet
    return ordered


class TextFactory:
    """Realistic-looking text: sentences of Zipf-distributed words, mixed per call."""

    def __init__(self, rng: random.Random, vocabulary: int = 20_000, sentences: int = 40_000):
        words = FUNCTION_WORDS + pseudo_words(rng, vocabulary)
        zipf = itertools.accumulate(1 / (rank + 1) ** 1.05 for rank in range(len(words)))
        cumulative = list(zipf)
        self._rng = rng
        self._sentences = [self._sentence(words, cumulative) for _ in range(sentences)]

    def _sentence(self, words: list[str], cumulative: list[float]) -> str:
        chosen = self._rng.choices(words, cum_weights=cumulative, k=self._rng.randint(5, 18))
        return " ".join(chosen).capitalize() + "."

    def paragraph(self, low: int, high: int) -> str:
        return " ".join(self._rng.choices(self._sentences, k=self._rng.randint(low, high)))

    def output(self) -> str:
        words = self.paragraph(2, 7).split(" ")
        for word, share in ((COMMON_WORD, COMMON_SHARE), (RARE_WORD, RARE_SHARE)):
            if self._rng.random() < share:
                words.insert(self._rng.randrange(len(words) + 1), word)
        return " ".join(words)


class CallFactory:
    """Generates calls spread over ~60 days and 10 model versions rolled out one after another."""

    def __init__(self, seed: int = SEED) -> None:
        self._rng = random.Random(seed)
        self._text = TextFactory(self._rng)

    def _version(self, progress: float) -> str:
        live = [v for k, v in enumerate(VERSIONS)
                if rollout(k) <= progress <= rollout(k) + LIVE_SPAN]
        return self._rng.choice(live or VERSIONS[-1:])

    def _input(self) -> str | list[dict[str, str]]:
        question = self._text.paragraph(1, 3).rstrip(".") + "?"
        if self._rng.random() < 0.4:
            system = self._rng.choice(SYSTEM_PROMPTS)
            return [{"role": "system", "content": system}, {"role": "user", "content": question}]
        return question

    def call(self, created_at: datetime, progress: float, serial: int) -> FakeCall:
        rng = self._rng
        source = rng.choices([s for s, _ in SOURCES_MIX], [w for _, w in SOURCES_MIX])[0]
        output = self._text.output()
        return FakeCall(
            created_at=created_at,
            model_version=self._version(progress),
            source=source,
            input=self._input(),
            output=output,
            latency_ms=round(rng.lognormvariate(6.2, 0.6), 1),
            prompt_tokens=rng.randint(20, 900),
            completion_tokens=max(1, len(output) // 4),
            error="TimeoutError: upstream model did not answer" if rng.random() < 0.01 else None,
            metadata={
                "region": rng.choice(("eu", "us", "apac")),
                "tier": rng.choice(("free", "pro", "enterprise")),
                "prompt_template": f"t{rng.randint(1, 40)}",
            },
            session_id=f"s{serial // 6}" if rng.random() < 0.5 else None,
            external_id=f"{source}-{serial}" if source == "import" else None,
        )

    def calls(
        self, count: int, start: datetime, span: timedelta, serial0: int = 0
    ) -> Iterator[FakeCall]:
        """`count` calls in time order from `start` over `span` (ids grow with time)."""
        step = span / count
        for i in range(count):
            yield self.call(start + step * i, i / count, serial0 + i)
