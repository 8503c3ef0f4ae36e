"""Generators turn case inputs into outputs: any Python callable, or a local transformers model.

(The third way to get outputs, replay of logged calls, needs no generator: see runner.)
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from evalboard.errors import EvalboardError

Prompt = str | Sequence[Mapping[str, Any]]


@dataclass(frozen=True)
class Generated:
    """One output, or the error that replaced it."""

    output: str | None
    latency_ms: float
    error: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None


class Generator(Protocol):
    kind: str
    batch_size: int

    def config(self) -> dict[str, Any]: ...

    def generate(self, prompts: Sequence[Prompt]) -> list[Generated]: ...


class GeneratorError(EvalboardError, ValueError):
    """A generator that cannot be set up: a callable that does not import, a bad reference."""


def _error(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def load_callable(reference: str) -> Callable[[Prompt], Any]:
    """`module:function` -> the function (GeneratorError with a readable reason)."""
    module_name, _, attribute = reference.partition(":")
    if not module_name or not attribute:
        raise GeneratorError(f"expected module:function, got {reference!r}")
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:  # noqa: BLE001 - any failure to import is the user's to fix
        raise GeneratorError(
            f"cannot import {module_name!r}: {type(exc).__name__}: {exc}") from None
    function = getattr(module, attribute, None)
    if not callable(function):
        raise GeneratorError(f"{module_name} has no function {attribute!r}")
    return function


class CallableGenerator:
    """Any Python function (prompt or messages) -> text: how API-hosted models are evaluated."""

    kind = "callable"
    batch_size = 1

    def __init__(self, function: Callable[[Prompt], Any] | str) -> None:
        self.reference = function if isinstance(function, str) else \
            f"{function.__module__}:{getattr(function, '__qualname__', repr(function))}"
        self.function = load_callable(function) if isinstance(function, str) else function

    def config(self) -> dict[str, Any]:
        return {"callable": self.reference}

    def generate(self, prompts: Sequence[Prompt]) -> list[Generated]:
        results = []
        for prompt in prompts:
            started = time.perf_counter()
            try:
                output = self.function(prompt)
            except Exception as exc:  # noqa: BLE001 - one case's error is that case's result
                results.append(Generated(None, (time.perf_counter() - started) * 1000,
                                         _error(exc)))
                continue
            text = output if isinstance(output, str) or output is None else str(output)
            results.append(Generated(text, (time.perf_counter() - started) * 1000))
        return results


class TransformersGenerator:
    """A local text-generation model directory; chat template when the tokenizer has one."""

    kind = "transformers"

    def __init__(self, model_dir: str, *, batch_size: int = 4,
                 generation: Mapping[str, Any] | None = None, device: str = "cpu") -> None:
        from evalboard.integrations.transformers import load_text_generation

        self.model_dir = str(model_dir)
        self.batch_size = max(1, batch_size)
        self.generation = {"max_new_tokens": 64, "do_sample": False, **(generation or {})}
        self.pipe = load_text_generation(model_dir, device=device)
        self.uses_chat_template = bool(getattr(self.pipe.tokenizer, "chat_template", None))

    def config(self) -> dict[str, Any]:
        return {"model": self.model_dir, "generation": self.generation,
                "batch_size": self.batch_size, "chat_template": self.uses_chat_template}

    def _as_pipeline_input(self, prompt: Prompt) -> str | list[dict[str, Any]]:
        if isinstance(prompt, str):
            return [{"role": "user", "content": prompt}] if self.uses_chat_template else prompt
        messages = [dict(m) for m in prompt]
        if self.uses_chat_template:
            return messages
        from evalboard.store.records import messages_to_text

        return messages_to_text(messages) + "\nassistant:"

    def generate(self, prompts: Sequence[Prompt]) -> list[Generated]:
        from evalboard.integrations.transformers import (
            count_completion_tokens,
            count_prompt_tokens,
        )

        started = time.perf_counter()
        try:
            outputs = self.pipe([self._as_pipeline_input(p) for p in prompts],
                                batch_size=self.batch_size, return_full_text=False,
                                **self.generation)
        except Exception as exc:  # noqa: BLE001 - the batch's error is each case's result
            if len(prompts) > 1:  # find the culprit: retry one by one
                return [item for p in prompts for item in self.generate([p])]
            return [Generated(None, (time.perf_counter() - started) * 1000, _error(exc))]
        latency = (time.perf_counter() - started) * 1000 / max(1, len(prompts))
        tokenizer = self.pipe.tokenizer
        results = []
        for prompt, records in zip(prompts, outputs, strict=True):
            text = records[0]["generated_text"]
            results.append(Generated(
                text, latency, None,
                count_prompt_tokens(tokenizer, self._as_pipeline_input(prompt)),
                count_completion_tokens(tokenizer, text)))
        return results
