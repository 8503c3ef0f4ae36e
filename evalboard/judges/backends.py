"""Where a judge's prompt goes: a local transformers checkpoint or an OpenAI-compatible server.

A backend is described by plain data kept with the judge version (`BackendSpec`): its kind and
parameters, never an API key; the key is read at run time from the environment variable named
in `api_key_env`. `complete(prompt)` asks once; retries with backoff belong to the caller
(evalboard.judges.judging), which also retries answers that hold no verdict.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from functools import lru_cache
from typing import Any, Protocol
from urllib.parse import urlparse

from evalboard.judges.errors import JudgeBackendError, JudgeError

KINDS = ("openai", "transformers")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
NO_KEY = "not-needed"  # local servers (vLLM, llama.cpp, Ollama) take any key


@dataclass(frozen=True)
class BackendSpec:
    """A backend's kind and parameters, as stored with a judge version."""

    kind: str
    base_url: str = ""  # openai: the server's base URL, e.g. http://127.0.0.1:8000/v1
    model: str = ""  # openai: the model name the server knows
    model_dir: str = ""  # transformers: a local checkpoint directory
    api_key_env: str = ""  # openai: the NAME of the environment variable with the key
    temperature: float = 0.0
    max_tokens: int = 256
    timeout_s: float = 60.0
    max_retries: int = 2
    backoff_s: float = 0.5  # the first wait before a retry; doubles each time

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @staticmethod
    def from_dict(data: Mapping[str, Any]) -> BackendSpec:
        """A validated spec from plain data; JudgeError naming the bad field."""
        if not isinstance(data, Mapping):
            raise JudgeError("backend: expected an object with a 'kind'")
        if any(k in data for k in ("api_key", "key", "token")):
            raise JudgeError("backend: a key is never stored; put it in an environment "
                             "variable and name that variable in api_key_env")
        known = {f.name for f in fields(BackendSpec)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise JudgeError(f"backend.{unknown[0]}: unknown parameter (known: "
                             f"{', '.join(sorted(known))})")
        try:
            spec = BackendSpec(**dict(data))
        except TypeError as exc:
            raise JudgeError(f"backend: {exc}") from None
        spec.validate()
        return spec

    def validate(self) -> None:
        if self.kind not in KINDS:
            raise JudgeError(f"backend.kind: expected one of {', '.join(KINDS)}, "
                             f"got {self.kind!r}")
        if self.kind == "openai":
            url = urlparse(self.base_url)
            if url.scheme not in ("http", "https") or not url.netloc:
                raise JudgeError("backend.base_url: an OpenAI-compatible server's URL, e.g. "
                                 f"http://127.0.0.1:8000/v1; got {self.base_url!r}")
            if not self.model.strip():
                raise JudgeError("backend.model: the model name the server serves")
        if self.kind == "transformers" and not self.model_dir.strip():
            raise JudgeError("backend.model_dir: a local checkpoint directory")
        if self.api_key_env and not _ENV_NAME.match(self.api_key_env):
            raise JudgeError("backend.api_key_env: the NAME of an environment variable "
                             f"(letters, digits, _), got {self.api_key_env!r}")
        _number("temperature", self.temperature, 0, 2)
        _number("max_tokens", self.max_tokens, 1, 8192, whole=True)
        _number("timeout_s", self.timeout_s, 0.1, 600)
        _number("max_retries", self.max_retries, 0, 10, whole=True)
        _number("backoff_s", self.backoff_s, 0, 60)

    def describe(self) -> str:
        """One line for lists: where the prompt goes."""
        if self.kind == "openai":
            return f"{self.model} at {self.base_url}"
        return f"local checkpoint {self.model_dir}"


def _number(name: str, value: Any, low: float, high: float, whole: bool = False) -> None:
    ok_type = isinstance(value, int) if whole else isinstance(value, int | float)
    if isinstance(value, bool) or not ok_type or not low <= value <= high:
        kind = "a whole number" if whole else "a number"
        raise JudgeError(f"backend.{name}: {kind} from {low:g} to {high:g}, got {value!r}")


class Backend(Protocol):
    def complete(self, prompt: str) -> str:
        """The model's answer to `prompt`; TransientBackendError when asking again may help."""
        ...


class TransientBackendError(JudgeBackendError):
    """A failure worth a retry: connection refused or reset, timeout, 429, 5xx."""


def api_key(spec: BackendSpec) -> str:
    """The key from the environment variable the spec names (a local server needs none)."""
    if not spec.api_key_env:
        return NO_KEY
    value = os.environ.get(spec.api_key_env)
    if not value:
        raise JudgeBackendError(f"the judge's key is read from ${spec.api_key_env}, which is "
                                "not set")
    return value


@lru_cache(maxsize=16)
def _openai_client(base_url: str, key: str, timeout_s: float) -> Any:
    import openai

    return openai.OpenAI(base_url=base_url, api_key=key, timeout=timeout_s, max_retries=0)


class OpenAIBackend:
    """Any OpenAI-compatible chat completions endpoint, through the `openai` client."""

    def __init__(self, spec: BackendSpec) -> None:
        self.spec = spec

    def complete(self, prompt: str) -> str:
        import openai

        spec = self.spec
        client = _openai_client(spec.base_url, api_key(spec), spec.timeout_s)
        try:
            answer = client.chat.completions.create(
                model=spec.model, messages=[{"role": "user", "content": prompt}],
                temperature=spec.temperature, max_tokens=spec.max_tokens)
        except (openai.APIConnectionError, openai.RateLimitError,
                openai.InternalServerError) as exc:  # APITimeoutError is a connection error
            raise TransientBackendError(f"{spec.base_url}: {type(exc).__name__}: "
                                        f"{_first_line(exc)}") from None
        except openai.APIStatusError as exc:
            raise JudgeBackendError(f"{spec.base_url} refused the request "
                                    f"(HTTP {exc.status_code}): {_first_line(exc)}") from None
        except openai.APIError as exc:  # an answer that is not a completion
            raise TransientBackendError(f"{spec.base_url}: {_first_line(exc)}") from None
        choices = getattr(answer, "choices", None) or []
        if not choices or choices[0].message is None:
            raise TransientBackendError(f"{spec.base_url} answered without a choice")
        return choices[0].message.content or ""


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:300] if text else type(exc).__name__


@lru_cache(maxsize=4)
def _local_model(model_dir: str) -> tuple[Any, Any, threading.Lock]:
    from evalboard.integrations.transformers import load_text_generation

    try:
        pipe = load_text_generation(model_dir)
    except (OSError, ValueError) as exc:
        raise JudgeBackendError(f"cannot load the judge's checkpoint {model_dir}: "
                                f"{_first_line(exc)}") from None
    return pipe.model, pipe.tokenizer, threading.Lock()


class TransformersBackend:
    """A local causal-LM checkpoint directory, loaded once per process with
    `local_files_only=True` (nothing is downloaded). The prompt goes through the tokenizer's
    chat template when it has one; its start is cut when it does not fit the model."""

    def __init__(self, spec: BackendSpec) -> None:
        self.spec = spec

    def complete(self, prompt: str) -> str:
        import torch

        model, tokenizer, lock = _local_model(self.spec.model_dir)
        if getattr(tokenizer, "chat_template", None):
            text = tokenizer.apply_chat_template([{"role": "user", "content": prompt}],
                                                 tokenize=False, add_generation_prompt=True)
        else:
            text = prompt
        ids = tokenizer(text, return_tensors="pt", add_special_tokens=False)["input_ids"]
        limit = getattr(model.config, "max_position_embeddings", None) or \
            getattr(model.config, "n_positions", None) or 2048
        new_tokens = min(self.spec.max_tokens, max(1, limit // 2))
        ids = ids[:, -(limit - new_tokens):]
        sampling = self.spec.temperature > 0
        with lock, torch.no_grad():
            generated = model.generate(
                ids, attention_mask=torch.ones_like(ids), max_new_tokens=new_tokens,
                do_sample=sampling, temperature=self.spec.temperature if sampling else None,
                top_p=None, top_k=None, pad_token_id=tokenizer.pad_token_id)
        return tokenizer.decode(generated[0, ids.shape[1]:], skip_special_tokens=True)


def backend_for(spec: BackendSpec) -> Backend:
    """The backend a spec describes."""
    return OpenAIBackend(spec) if spec.kind == "openai" else TransformersBackend(spec)
