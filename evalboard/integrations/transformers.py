"""Log every generation of a `transformers` text-generation pipeline to evalboard.

    from evalboard.integrations.transformers import from_model

    generate = from_model("checkpoints/support-bot-v3", client=evalboard.connect())
    text = generate("How do I reset my password?", max_new_tokens=64, do_sample=False)

Each generated sequence becomes one call with its model version, latency and token counts
(computed with the pipeline's own tokenizer); the generation kwargs go to the call's metadata
under "generation". Nothing is downloaded: models load from local directories only.
`transformers` is imported lazily, so importing this module stays cheap.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias

from evalboard.store.records import messages_to_text

if TYPE_CHECKING:
    from transformers import Pipeline, PreTrainedModel, PreTrainedTokenizerBase

    from evalboard.client.connection import Evalboard

Messages: TypeAlias = Sequence[Mapping[str, Any]]
Prompt: TypeAlias = str | Messages

# The wrapper always asks the pipeline for the new text only.
_RESERVED_KWARGS = ("return_full_text", "return_text", "return_tensors", "return_type")


@dataclass(frozen=True)
class Generation:
    """One generated sequence and the call it was logged as."""

    call_id: int
    index: int  # position of its input in the batch (0 for a single input)
    input: Prompt
    text: str
    latency_ms: float
    prompt_tokens: int | None
    completion_tokens: int | None


class LoggedPipeline:
    """A text-generation pipeline that logs each generated sequence as a call.

    Call it with a prompt, a chat (a list of {role, content} messages) or a list of those
    (a batch); generation kwargs are passed through to the pipeline on top of `defaults`.
    It returns the new text (not the prompt): a string per input, a list of strings when
    `num_return_sequences` > 1, and a list of those for a batch.

    Latency: batch items run one by one and each is timed on its own, unless the pipeline
    batches them (`batch_size` > 1): then each call gets the batch's time divided by its
    size, and metadata["batch"] keeps the size and the whole time.
    """

    def __init__(
        self,
        pipe: Pipeline,
        client: Evalboard,
        model_version: str | None = None,
        *,
        source: str | None = None,
        **defaults: Any,
    ) -> None:
        _check_kwargs(defaults)
        self.pipe = pipe
        self.client = client
        self.model_version = model_version
        self.source = source
        self.defaults = defaults

    @property
    def tokenizer(self) -> PreTrainedTokenizerBase:
        return self.pipe.tokenizer

    def __call__(
        self,
        inputs: Prompt | Sequence[Prompt],
        *,
        metadata: Mapping[str, Any] | None = None,
        session_id: str | None = None,
        **generation_kwargs: Any,
    ) -> str | list[str] | list[str | list[str]]:
        """Generate, log every sequence and return the new text(s)."""
        batch = _as_batch(inputs)
        generations = self.generate(
            inputs, metadata=metadata, session_id=session_id, **generation_kwargs
        )
        per_input: list[list[str]] = [[] for _ in (batch if batch is not None else [inputs])]
        for generation in generations:
            per_input[generation.index].append(generation.text)
        wanted = int({**self.defaults, **generation_kwargs}.get("num_return_sequences") or 1)
        shaped = [texts[0] if wanted == 1 and len(texts) == 1 else texts for texts in per_input]
        return shaped if batch is not None else shaped[0]

    def generate(
        self,
        inputs: Prompt | Sequence[Prompt],
        *,
        metadata: Mapping[str, Any] | None = None,
        session_id: str | None = None,
        **generation_kwargs: Any,
    ) -> list[Generation]:
        """Like calling the pipeline, but return one `Generation` (with its call id) per call."""
        _check_kwargs(generation_kwargs)
        kwargs = {**self.defaults, **generation_kwargs}
        base_metadata = {**(metadata or {}), "generation": _jsonable(kwargs)}
        batch = _as_batch(inputs)
        if batch is None:
            return self._generate_one(inputs, 0, kwargs, base_metadata, session_id)  # type: ignore[arg-type]
        batch_size = kwargs.get("batch_size") or getattr(self.pipe, "_batch_size", None) or 1
        if batch_size > 1 and len(batch) > 1:
            return self._generate_batched(batch, kwargs, base_metadata, session_id)
        results: list[Generation] = []
        for index, prompt in enumerate(batch):
            results.extend(self._generate_one(prompt, index, kwargs, base_metadata, session_id))
        return results

    def _generate_one(
        self,
        prompt: Prompt,
        index: int,
        kwargs: dict[str, Any],
        metadata: dict[str, Any],
        session_id: str | None,
    ) -> list[Generation]:
        started = time.perf_counter()
        try:
            records = self.pipe(_pipeline_input(prompt), return_full_text=False, **kwargs)
        except Exception as exc:
            latency_ms = (time.perf_counter() - started) * 1000
            self._log_error(exc, prompt, latency_ms, metadata, session_id)
            raise
        latency_ms = (time.perf_counter() - started) * 1000
        return self._log_records(prompt, index, records, latency_ms, metadata, session_id)

    def _generate_batched(
        self,
        batch: list[Prompt],
        kwargs: dict[str, Any],
        metadata: dict[str, Any],
        session_id: str | None,
    ) -> list[Generation]:
        started = time.perf_counter()
        try:
            pipe_inputs = [_pipeline_input(prompt) for prompt in batch]
            outputs = self.pipe(pipe_inputs, return_full_text=False, **kwargs)
            error: Exception | None = None
        except Exception as exc:
            outputs, error = None, exc
        total_ms = (time.perf_counter() - started) * 1000
        latency_ms = total_ms / len(batch)
        metadata = {**metadata, "batch": {"size": len(batch), "latency_ms": total_ms}}
        if error is not None:
            for prompt in batch:
                self._log_error(error, prompt, latency_ms, metadata, session_id)
            raise error
        results: list[Generation] = []
        for index, (prompt, records) in enumerate(zip(batch, outputs, strict=True)):
            results.extend(
                self._log_records(prompt, index, records, latency_ms, metadata, session_id)
            )
        return results

    def _log_records(
        self,
        prompt: Prompt,
        index: int,
        records: list[dict[str, Any]],
        latency_ms: float,
        metadata: dict[str, Any],
        session_id: str | None,
    ) -> list[Generation]:
        prompt_tokens = self.count_prompt_tokens(prompt)
        results: list[Generation] = []
        for sequence, record in enumerate(records):
            text = record["generated_text"]
            completion_tokens = self.count_completion_tokens(text)
            call_metadata = {**metadata, "sequence": sequence} if len(records) > 1 else metadata
            call_id = self.client.log_call(
                prompt,
                text,
                model_version=self.model_version,
                source=self.source,
                latency_ms=latency_ms,
                prompt_tokens=prompt_tokens,
                completion_tokens=completion_tokens,
                metadata=call_metadata,
                session_id=session_id,
            )
            results.append(
                Generation(
                    call_id, index, prompt, text, latency_ms, prompt_tokens, completion_tokens
                )
            )
        return results

    def _log_error(
        self,
        exc: Exception,
        prompt: Prompt,
        latency_ms: float,
        metadata: dict[str, Any],
        session_id: str | None,
    ) -> None:
        """Log a failed generation; a failure to log never hides the generation error."""
        try:
            self.client.log_call(
                prompt,
                None,
                model_version=self.model_version,
                source=self.source,
                latency_ms=latency_ms,
                prompt_tokens=self.count_prompt_tokens(prompt),
                error=f"{type(exc).__name__}: {exc}",
                metadata=metadata,
                session_id=session_id,
            )
        except Exception as log_exc:
            exc.add_note(f"evalboard could not log this failed call: {log_exc!r}")

    def count_prompt_tokens(self, prompt: Prompt) -> int | None:
        """Prompt tokens as the model sees them (chat template applied when there is one)."""
        return count_prompt_tokens(self.tokenizer, prompt)

    def count_completion_tokens(self, text: str) -> int | None:
        """Tokens of the generated text, without special tokens."""
        return count_completion_tokens(self.tokenizer, text)


def count_prompt_tokens(tokenizer: PreTrainedTokenizerBase, prompt: Prompt) -> int | None:
    """Prompt tokens as the model sees them (chat template applied when there is one)."""
    try:
        if isinstance(prompt, str):
            return len(tokenizer(prompt)["input_ids"])
        messages = [dict(m) for m in prompt]
        if getattr(tokenizer, "chat_template", None):
            prefill = messages[-1].get("role") == "assistant"
            ids = tokenizer.apply_chat_template(
                messages,
                add_generation_prompt=not prefill,
                continue_final_message=prefill,
                tokenize=True,
                return_dict=False,
            )
            return len(ids)
        return len(tokenizer(messages_to_text(messages))["input_ids"])
    except Exception:  # a count is optional, the call is not
        return None


def count_completion_tokens(tokenizer: PreTrainedTokenizerBase, text: str) -> int | None:
    """Tokens of the generated text, without special tokens."""
    try:
        return len(tokenizer(text, add_special_tokens=False)["input_ids"])
    except Exception:
        return None


def load_text_generation(model_dir: str | os.PathLike[str], device: str = "cpu") -> Pipeline:
    """A text-generation pipeline from a local model directory (never downloads)."""
    from transformers import AutoModelForCausalLM, pipeline

    directory = _local_dir(model_dir, "model")
    model = AutoModelForCausalLM.from_pretrained(directory, local_files_only=True)
    return pipeline("text-generation", model=model, tokenizer=_load_tokenizer(directory),
                    device=device)


def _load_tokenizer(directory: Path) -> PreTrainedTokenizerBase:
    """A local tokenizer that can pad (eos as padding when it has none), so pipelines batch."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(directory, local_files_only=True)
    if tokenizer.pad_token is None and tokenizer.eos_token is not None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def log_pipeline(
    pipe: Pipeline,
    client: Evalboard,
    model_version: str | None = None,
    *,
    source: str | None = None,
    **defaults: Any,
) -> LoggedPipeline:
    """Wrap a text-generation pipeline; `defaults` are generation kwargs for every call.

    `model_version` (and `source`) default to the client's.
    """
    return LoggedPipeline(pipe, client, model_version, source=source, **defaults)


def from_model(
    model_or_dir: str | os.PathLike[str] | PreTrainedModel,
    tokenizer: str | os.PathLike[str] | PreTrainedTokenizerBase | None = None,
    *,
    client: Evalboard,
    model_version: str | None = None,
    source: str | None = None,
    device: str = "cpu",
    **defaults: Any,
) -> LoggedPipeline:
    """Build a logged text-generation pipeline from a local model directory (or objects).

    `tokenizer` defaults to the model's directory. Only local files are read; a name that is
    not a directory raises FileNotFoundError instead of downloading. The model version
    defaults to the client's, else to the model directory's name.
    """
    from transformers import AutoModelForCausalLM, pipeline

    if isinstance(model_or_dir, str | os.PathLike):
        model_dir = _local_dir(model_or_dir, "model")
        model = AutoModelForCausalLM.from_pretrained(model_dir, local_files_only=True)
    else:
        model = model_or_dir
        model_dir = Path(model.name_or_path) if getattr(model, "name_or_path", "") else None
    if tokenizer is None:
        if model_dir is None or not model_dir.is_dir():
            raise ValueError("pass a tokenizer: the model was not loaded from a local directory")
        tokenizer = model_dir
    if isinstance(tokenizer, str | os.PathLike):
        tokenizer = _load_tokenizer(_local_dir(tokenizer, "tokenizer"))
    pipe = pipeline("text-generation", model=model, tokenizer=tokenizer, device=device)
    version = model_version or client.model_version or (model_dir.name if model_dir else None)
    return LoggedPipeline(pipe, client, version or None, source=source, **defaults)


def _local_dir(path: str | os.PathLike[str], what: str) -> Path:
    directory = Path(path).expanduser()
    if not directory.is_dir():
        raise FileNotFoundError(
            f"{what} directory not found: {directory} (evalboard loads local models only; "
            "save the model with save_pretrained() first)"
        )
    return directory


def _check_kwargs(kwargs: Mapping[str, Any]) -> None:
    reserved = sorted(set(kwargs) & set(_RESERVED_KWARGS))
    if reserved:
        raise TypeError(
            f"LoggedPipeline always returns the new text only; do not pass {', '.join(reserved)}"
        )


def _is_messages(value: Any) -> bool:
    return (
        isinstance(value, Sequence)
        and not isinstance(value, str)
        and len(value) > 0
        and all(isinstance(m, Mapping) and "role" in m for m in value)
    )


def _as_batch(inputs: Any) -> list[Prompt] | None:
    """The items of a batch, or None for a single prompt or chat."""
    if isinstance(inputs, str) or _is_messages(inputs):
        return None
    if isinstance(inputs, Sequence) and all(
        isinstance(item, str) or _is_messages(item) for item in inputs
    ):
        return list(inputs)
    raise TypeError(
        "expected a prompt string, a list of chat messages ({role, content}) or a list of those, "
        f"got {type(inputs).__name__}"
    )


def _pipeline_input(prompt: Prompt) -> str | list[dict[str, Any]]:
    return prompt if isinstance(prompt, str) else [dict(m) for m in prompt]


def _jsonable(value: Any) -> Any:
    """A JSON-safe copy of generation kwargs (objects become their repr)."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_jsonable(v) for v in value]
    to_diff_dict = getattr(value, "to_diff_dict", None)  # transformers.GenerationConfig
    if callable(to_diff_dict):
        return _jsonable(to_diff_dict())
    return repr(value)
