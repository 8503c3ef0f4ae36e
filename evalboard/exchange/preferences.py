"""Preference data for the next fine-tune: TRL, OpenAI DPO and KTO files from review work.

Formats (one JSON object per line, or a Parquet table; every record also has `source` and
`metadata`: the provenance (prompt_id, call ids, model versions, reviewers, labels, judgement
ids, case id, judged_at) as JSON text, so every file and split has the same column types
whatever it holds and `datasets` loads a train and a test file together):

- ``trl``: TRL's preference format, ``{"prompt": [messages], "chosen": [{"role": "assistant",
  "content": ...}], "rejected": [...]}`` (conversational), or with `plain_text` the standard
  form ``{"prompt": "...", "chosen": "...", "rejected": "..."}`` (prompts without chat input
  only). DPOTrainer, ORPOTrainer and RewardTrainer read it as it is.
- ``openai``: OpenAI's DPO fine-tuning format, ``{"input": {"messages": [...]},
  "preferred_output": [{"role": "assistant", ...}], "non_preferred_output": [...]}`` (JSONL).
- ``kto``: unpaired, ``{"prompt": ..., "completion": ..., "label": true|false}`` for TRL's
  KTOTrainer: single verdicts (`verdicts`: pass → true, fail → false), runs (a result that
  passed its checks → true) or any pair source split in two (chosen → true, rejected → false).

With `bare`, records hold only the format's own fields (for a reader that refuses others).

Sources (`preference_sources`): corrections, pairwise answers, eval runs (and for KTO, single
verdicts), in the order given. Pairs whose two outputs are the same text are left out, and so is
every record already written (same prompt and outputs, whatever the source: the first source
wins). A train/test split goes by prompt: a prompt's seeded hash puts all its records in one
split, so no prompt is in both. Everything streams; memory holds 8 bytes per record written (to
drop duplicates) and the live pairwise answers, never the calls.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from sqlalchemy import Engine

from evalboard.exchange.preference_sources import (
    PreferenceExportError,
    PreferenceFilter,
    PreferencePair,
    Prompt,
    Provenance,
    Side,
    Skipped,
    Verdict,
    correction_pairs,
    judgement_verdicts,
    pairwise_pairs,
    run_pairs,
    run_verdicts,
)

FORMATS = {
    "trl": "TRL preference (prompt, chosen, rejected)",
    "openai": "OpenAI DPO (input.messages, preferred_output, non_preferred_output)",
    "kto": "KTO unpaired (prompt, completion, label)",
}
PAIR_SOURCES = ("corrections", "pairwise", "runs")
KTO_SOURCES = ("verdicts", *PAIR_SOURCES)
FILE_TYPES = ("jsonl", "parquet")
PARQUET_BATCH = 2_000

__all__ = ["FILE_TYPES", "FORMATS", "KTO_SOURCES", "PAIR_SOURCES", "ExportSummary",
           "PreferenceExport", "PreferenceExportError", "PreferenceFilter", "export_preferences",
           "file_type_of", "iter_preference_records", "preference_file_bytes", "default_test_path"]


@dataclass(frozen=True)
class PreferenceExport:
    """What to export: a format, sources in order (empty: every source of the format but
    verdicts for pairs, verdicts only for KTO), the filter, the plain-text form, and the share
    of prompts (seeded) that go to the test split."""

    fmt: str = "trl"
    sources: tuple[str, ...] = ()
    filter: PreferenceFilter = PreferenceFilter()
    plain_text: bool = False
    test_share: float = 0.0
    seed: int = 0
    bare: bool = False  # only the format's own fields: no source, no metadata

    def chosen_sources(self) -> tuple[str, ...]:
        if self.sources:
            return tuple(dict.fromkeys(self.sources))
        return ("verdicts",) if self.fmt == "kto" else PAIR_SOURCES

    def check(self) -> None:
        if self.fmt not in FORMATS:
            raise PreferenceExportError(
                f"unknown preference format {self.fmt!r}; use one of {', '.join(FORMATS)}")
        allowed = KTO_SOURCES if self.fmt == "kto" else PAIR_SOURCES
        unknown = [s for s in self.chosen_sources() if s not in allowed]
        if unknown:
            raise PreferenceExportError(
                f"{self.fmt} exports come from {', '.join(allowed)}, not {', '.join(unknown)}")
        if self.plain_text and self.fmt == "openai":
            raise PreferenceExportError("OpenAI's DPO format is chat messages only: drop the "
                                        "plain-text form")
        if not 0.0 <= self.test_share < 1.0:
            raise PreferenceExportError(
                f"the test share is a fraction from 0 up to (not including) 1, not "
                f"{self.test_share!r}")


@dataclass
class ExportSummary:
    """How many records went to each split and came from each source, and what was left out."""

    train: int = 0
    test: int = 0
    by_source: Counter[str] = field(default_factory=Counter)
    skipped: Skipped = field(default_factory=Skipped)

    def line(self) -> str:
        sources = ", ".join(f"{n} from {s}" for s, n in self.by_source.items()) or "none"
        left = ", ".join(f"{n} {why}" for why, n in self.skipped.counts.items() if n)
        split = f" (train {self.train}, test {self.test})" if self.test else ""
        return (f"wrote {self.train + self.test} records{split}: {sources}"
                + (f"; left out {left}" if left else ""))


# ------------------------------------------------------------------ records


def _assistant(text: str) -> list[dict[str, str]]:
    return [{"role": "assistant", "content": text}]


def _plain_prompt(prompt: Prompt, *sides: Side) -> str:
    if prompt.text is None:
        call = next((s.call_id for s in sides if s.call_id is not None), None)
        raise PreferenceExportError(
            f"call {call} has chat input, which the plain-text form cannot hold: export the "
            "conversational form")
    return prompt.text


def _provenance(p: Provenance, prompt: Prompt) -> dict[str, Any]:
    return {"prompt_id": prompt.key, "reviewers": list(p.reviewers), "labels": list(p.labels),
            "judgement_ids": list(p.judgement_ids), "case_id": p.case_id,
            "judged_at": p.judged_at.isoformat() if p.judged_at else None}


def _pair_metadata(pair: PreferencePair) -> dict[str, Any]:
    meta = _provenance(pair.provenance, pair.prompt)
    return {"prompt_id": meta.pop("prompt_id"), "chosen_call_id": pair.chosen.call_id,
            "rejected_call_id": pair.rejected.call_id,
            "chosen_model_version": pair.chosen.model_version,
            "rejected_model_version": pair.rejected.model_version, **meta}


def _metadata_text(metadata: dict[str, Any]) -> str:
    return json.dumps(metadata, ensure_ascii=False)


def pair_record(pair: PreferencePair, fmt: str, plain_text: bool = False) -> dict[str, Any]:
    """One preference pair in the `trl` or `openai` format."""
    meta = {"source": pair.source, "metadata": _metadata_text(_pair_metadata(pair))}
    if fmt == "openai":
        return {"input": {"messages": pair.prompt.messages},
                "preferred_output": _assistant(pair.chosen.text),
                "non_preferred_output": _assistant(pair.rejected.text), **meta}
    if plain_text:
        return {"prompt": _plain_prompt(pair.prompt, pair.chosen, pair.rejected),
                "chosen": pair.chosen.text, "rejected": pair.rejected.text, **meta}
    return {"prompt": pair.prompt.messages, "chosen": _assistant(pair.chosen.text),
            "rejected": _assistant(pair.rejected.text), **meta}


def verdict_record(verdict: Verdict, plain_text: bool = False) -> dict[str, Any]:
    """One unpaired example in the `kto` format."""
    meta = _provenance(verdict.provenance, verdict.prompt)
    metadata = {"prompt_id": meta.pop("prompt_id"), "call_id": verdict.completion.call_id,
                "model_version": verdict.completion.model_version, **meta}
    prompt: Any = (_plain_prompt(verdict.prompt, verdict.completion) if plain_text
                   else verdict.prompt.messages)
    completion: Any = (verdict.completion.text if plain_text
                       else _assistant(verdict.completion.text))
    return {"prompt": prompt, "completion": completion, "label": verdict.label,
            "source": verdict.source, "metadata": _metadata_text(metadata)}


def _unpaired(pairs: Iterator[PreferencePair]) -> Iterator[Verdict]:
    for pair in pairs:
        yield Verdict(pair.source, pair.prompt, pair.chosen, True, pair.provenance)
        yield Verdict(pair.source, pair.prompt, pair.rejected, False, pair.provenance)


PAIR_READERS: dict[str, Callable[..., Iterator[PreferencePair]]] = {
    "corrections": correction_pairs, "pairwise": pairwise_pairs, "runs": run_pairs}


def _items(engine: Engine, spec: PreferenceExport, source: str, skipped: Skipped
           ) -> Iterator[PreferencePair | Verdict]:
    f = spec.filter
    if spec.fmt != "kto":
        yield from PAIR_READERS[source](engine, f, skipped)
    elif source == "verdicts":
        yield from judgement_verdicts(engine, f, skipped)
    elif source == "runs":
        yield from run_verdicts(engine, f, skipped)
    else:
        yield from _unpaired(PAIR_READERS[source](engine, f, skipped))


def _digest(*parts: str) -> int:
    h = hashlib.blake2b(digest_size=8)
    for part in parts:
        h.update(part.encode("utf-8", "surrogatepass"))
        h.update(b"\x00")
    return int.from_bytes(h.digest(), "big")


def in_test_split(prompt_key: str, seed: int, share: float) -> bool:
    """Whether a prompt goes to the test split: its seeded hash, as a fraction, below share."""
    return share > 0 and _digest(str(seed), prompt_key) / 2**64 < share


def iter_preference_records(engine: Engine, spec: PreferenceExport,
                            summary: ExportSummary | None = None
                            ) -> Iterator[tuple[str, dict[str, Any]]]:
    """(split, record) for every record the spec exports ("train" or "test"), counting into
    `summary`."""
    spec.check()
    summary = summary if summary is not None else ExportSummary()
    seen: set[int] = set()
    for source in spec.chosen_sources():
        for item in _items(engine, spec, source, summary.skipped):
            if isinstance(item, PreferencePair):
                if item.chosen.text.strip() == item.rejected.text.strip():
                    summary.skipped.add("identical outputs")
                    continue
                key = _digest(item.prompt.key, item.chosen.text, item.rejected.text)
                record = pair_record(item, spec.fmt, spec.plain_text)
            else:
                key = _digest(item.prompt.key, item.completion.text, str(item.label))
                record = verdict_record(item, spec.plain_text)
            if key in seen:
                summary.skipped.add("duplicates")
                continue
            seen.add(key)
            split = "test" if in_test_split(item.prompt.key, spec.seed, spec.test_share) \
                else "train"
            if spec.bare:
                del record["source"], record["metadata"]
            setattr(summary, split, getattr(summary, split) + 1)
            summary.by_source[item.source] += 1
            yield split, record


# ------------------------------------------------------------------ files


def file_type_of(path: str | Path, file_type: str | None = None) -> str:
    """`file_type`, or the one the suffix names (.jsonl, .parquet)."""
    kind = (file_type or Path(path).suffix.lstrip(".")).lower()
    if kind not in FILE_TYPES:
        problem = (f"cannot write preferences as {kind!r}" if kind else
                   f"cannot tell the file type of {Path(path).name}")
        raise PreferenceExportError(f"{problem}; name the file *.jsonl or *.parquet")
    return kind


def default_test_path(path: str | Path) -> Path:
    """Where the test split goes by default: train.jsonl -> train-test.jsonl."""
    path = Path(path)
    return path.with_name(f"{path.stem}-test{path.suffix}")


def _parquet_schema(spec: PreferenceExport) -> Any:
    import pyarrow as pa

    turns = pa.string() if spec.plain_text else pa.list_(
        pa.struct([("role", pa.string()), ("content", pa.string())]))
    columns = ([("prompt", turns), ("completion", turns), ("label", pa.bool_())]
               if spec.fmt == "kto" else
               [("prompt", turns), ("chosen", turns), ("rejected", turns)])
    provenance = [] if spec.bare else [("source", pa.string()), ("metadata", pa.string())]
    return pa.schema([*columns, *provenance])


class _Sink:
    """One output file, written beside its final path and moved there by `commit`."""

    def __init__(self, path: Path, file_type: str, spec: PreferenceExport) -> None:
        self.path = path
        self.partial = path.with_name(f".{path.name}.partial")
        self.file_type = file_type
        self.buffer: list[dict[str, Any]] = []
        self.text: IO[str] | None = None
        self.writer: Any = None
        self.closed = False
        if file_type == "jsonl":
            self.text = self.partial.open("w", encoding="utf-8", newline="\n")
        else:
            import pyarrow.parquet as pq

            self.schema = _parquet_schema(spec)
            self.writer = pq.ParquetWriter(self.partial, self.schema)

    def write(self, record: dict[str, Any]) -> None:
        if self.text is not None:
            self.text.write(json.dumps(record, ensure_ascii=False) + "\n")
            return
        self.buffer.append(record)
        if len(self.buffer) >= PARQUET_BATCH:
            self._flush()

    def _flush(self) -> None:
        import pyarrow as pa

        if self.buffer:
            self.writer.write_table(pa.Table.from_pylist(self.buffer, schema=self.schema))
            self.buffer = []

    def close(self) -> None:
        if self.text is not None:
            self.text.close()
        else:
            self._flush()
            self.writer.close()
        self.closed = True

    def commit(self) -> None:
        os.replace(self.partial, self.path)

    def discard(self) -> None:
        """Close without flushing and remove the partial file (nothing if committed)."""
        if not self.closed:
            if self.text is not None:
                self.text.close()
            else:
                self.writer.close()
            self.closed = True
        self.partial.unlink(missing_ok=True)


def export_preferences(engine: Engine, path: str | Path,
                       spec: PreferenceExport = PreferenceExport(), *,
                       test_path: str | Path | None = None,
                       file_type: str | None = None) -> ExportSummary:
    """Write the spec's records to `path` (the train split when `test_share` is set; the test
    split to `test_path`, by default `default_test_path(path)`). Files appear only once complete."""
    spec.check()
    path = Path(path)
    kind = file_type_of(path, file_type)
    if kind == "parquet" and spec.fmt == "openai":
        raise PreferenceExportError("OpenAI fine-tuning reads JSONL: name the file *.jsonl")
    sinks = {"train": _Sink(path, kind, spec)}
    if spec.test_share > 0:
        sinks["test"] = _Sink(Path(test_path) if test_path else default_test_path(path), kind, spec)
    summary = ExportSummary()
    try:
        for split, record in iter_preference_records(engine, spec, summary):
            sinks[split].write(record)
        for sink in sinks.values():
            sink.close()
        for sink in sinks.values():
            sink.commit()
    finally:
        for sink in sinks.values():
            sink.discard()
    return summary


def preference_file_bytes(engine: Engine, spec: PreferenceExport, file_type: str = "jsonl"
                          ) -> tuple[dict[str, bytes], ExportSummary]:
    """The export as file contents by split ("train", and "test" with a test share), and its
    summary: for downloads."""
    with tempfile.TemporaryDirectory(prefix="evalboard-preferences-") as folder:
        train = Path(folder) / f"preferences.{file_type}"
        summary = export_preferences(engine, train, spec, file_type=file_type)
        files = {"train": train.read_bytes()}
        if spec.test_share > 0:
            files["test"] = default_test_path(train).read_bytes()
        return files, summary
