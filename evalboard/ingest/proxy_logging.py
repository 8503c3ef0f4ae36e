"""What the logging proxy stores for one OpenAI-compatible request: a call's fields.

A `CallRecorder` sees the request body, then the upstream's answer as it arrives (a JSON body
or a Server-Sent-Events stream, whose deltas it assembles), and gives the `log_call` fields:
input (chat messages or prompt), output (the first choice's text; its tool calls as JSON text
when it has no text), latency, token counts and metadata (the request's `model`, its other
parameters, time to first token, tool calls, finish reason, response id). Token counts come from
the usage block; when the upstream sends none they are counted with a local tokenizer if one is
given, else estimated as one token per 4 characters (rounded up), and metadata["token_counts"]
says which. Secrets (the Authorization header's value) are scrubbed from every stored field.
"""

from __future__ import annotations

import json
import math
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CHAT, COMPLETIONS = "chat", "completions"
ENDPOINTS = {"/chat/completions": CHAT, "/completions": COMPLETIONS}
_NOT_PARAMETERS = ("messages", "prompt", "model")
_ERROR_TEXT_LIMIT = 2000
REDACTED = "[redacted]"


class TokenCounter:
    """Counts tokens of text the upstream gave no usage for: with a local tokenizer file
    (`tokenizer.json` of the served model, read by the `tokenizers` package) or, without one,
    as ceil(characters / 4)."""

    def __init__(self, tokenizer_file: str | Path | None = None) -> None:
        self._tokenizer: Any = None
        self.method = "estimate"
        if tokenizer_file is not None:
            from tokenizers import Tokenizer

            self._tokenizer = Tokenizer.from_file(str(tokenizer_file))
            self.method = "tokenizer"

    def count(self, text: str) -> int:
        if self._tokenizer is not None:
            return len(self._tokenizer.encode(text, add_special_tokens=False).ids)
        return math.ceil(len(text) / 4)


def scrub(value: Any, secrets: Iterable[str]) -> Any:
    """`value` with every occurrence of a secret replaced (strings inside dicts and lists too)."""
    secrets = [secret for secret in secrets if secret]
    if not secrets:
        return value
    if isinstance(value, str):
        for secret in secrets:
            value = value.replace(secret, REDACTED)
        return value
    if isinstance(value, dict):
        return {key: scrub(item, secrets) for key, item in value.items()}
    if isinstance(value, list):
        return [scrub(item, secrets) for item in value]
    return value


def header_secrets(authorization: str | None, *api_keys: str | None) -> list[str]:
    """The values to keep out of the store: the Authorization header, its token, API keys."""
    found = [value for value in (authorization, *api_keys) if value]
    if authorization and " " in authorization:
        found.append(authorization.split(" ", 1)[1].strip())
    return found


def _message_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # multi-part content: its text parts
        return " ".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return ""


@dataclass
class _Choice:
    """One choice of the answer, as the deltas of a stream (or a whole body) build it."""

    text: list[str] = field(default_factory=list)
    reasoning: list[str] = field(default_factory=list)
    tool_calls: dict[int, dict[str, Any]] = field(default_factory=dict)
    finish_reason: str | None = None

    def add_tool_call_delta(self, delta: dict[str, Any]) -> None:
        call = self.tool_calls.setdefault(int(delta.get("index") or 0), {
            "id": None, "type": "function", "function": {"name": "", "arguments": ""}})
        if delta.get("id"):
            call["id"] = delta["id"]
        if delta.get("type"):
            call["type"] = delta["type"]
        function = delta.get("function") or {}
        call["function"]["name"] += function.get("name") or ""
        call["function"]["arguments"] += function.get("arguments") or ""

    def output(self) -> str:
        text = "".join(self.text)
        if not text and self.tool_calls:
            return json.dumps(self.calls(), ensure_ascii=False)
        return text

    def calls(self) -> list[dict[str, Any]]:
        return [self.tool_calls[index] for index in sorted(self.tool_calls)]


class _Decoder:
    """Undoes a Content-Encoding (gzip or zlib) for the recorder's copy of the body."""

    def __init__(self, encoding: str | None) -> None:
        encoding = (encoding or "identity").strip().lower()
        self._inflate = zlib.decompressobj(47) if encoding in ("gzip", "deflate") else None

    def __call__(self, data: bytes) -> bytes:
        return self._inflate.decompress(data) if self._inflate is not None else data


class CallRecorder:
    """Turns one proxied request and its answer into the fields of a logged call."""

    def __init__(self, kind: str, path: str, body: bytes, started: float,
                 secrets: Iterable[str] = ()) -> None:
        self.kind = kind
        self.path = path
        self.started = started
        self.secrets = list(secrets)
        self.request: dict[str, Any] = {}
        self._raw_request = ""
        try:
            parsed = json.loads(body or b"{}")
            if isinstance(parsed, dict):
                self.request = parsed
            else:
                self._raw_request = body.decode("utf-8", "replace")
        except ValueError:
            self._raw_request = body.decode("utf-8", "replace")
        self.stream = bool(self.request.get("stream"))
        self.status: int | None = None
        self.first_token_at: float | None = None
        self._decode = _Decoder(None)
        self._event_stream = False
        self._body = bytearray()
        self._pending_line = b""
        self._choices: dict[int, _Choice] = {}
        self._usage: dict[str, Any] | None = None
        self._response: dict[str, Any] = {}
        self._chunks = 0

    def response_started(self, status: int, content_type: str | None,
                         content_encoding: str | None) -> None:
        self.status = status
        self._event_stream = "text/event-stream" in (content_type or "")
        self._decode = _Decoder(content_encoding)

    def feed(self, data: bytes, now: float) -> None:
        """A piece of the upstream's body, as it arrived at `now` (perf_counter seconds)."""
        self._chunks += 1
        data = self._decode(data)
        if not self._event_stream or (self.status or 0) >= 400:
            self._body += data
            return
        lines = (self._pending_line + data).split(b"\n")
        self._pending_line = lines.pop()
        for line in lines:
            self._event_line(line.strip(), now)

    def _event_line(self, line: bytes, now: float) -> None:
        if not line.startswith(b"data:"):
            return
        payload = line[5:].strip()
        if not payload or payload == b"[DONE]":
            return
        try:
            chunk = json.loads(payload)
        except ValueError:
            return
        carried = isinstance(chunk, dict) and self._add_answer(chunk, delta=True)
        if carried and self.first_token_at is None:
            self.first_token_at = now

    def _add_answer(self, answer: dict[str, Any], *, delta: bool) -> bool:
        """Add a stream chunk (or a whole body); True when it carried generated content."""
        for key in ("id", "model", "system_fingerprint"):
            if answer.get(key) and key not in self._response:
                self._response[key] = answer[key]
        if isinstance(answer.get("usage"), dict):
            self._usage = answer["usage"]
        content = False
        for item in answer.get("choices") or []:
            if not isinstance(item, dict):
                continue
            choice = self._choices.setdefault(int(item.get("index") or 0), _Choice())
            choice.finish_reason = item.get("finish_reason") or choice.finish_reason
            message = item.get("delta" if delta else "message") or {}
            text = item.get("text") if self.kind == COMPLETIONS else message.get("content")
            if text:
                choice.text.append(text if isinstance(text, str) else _message_text(text))
                content = True
            reasoning = message.get("reasoning_content") or message.get("reasoning")
            if isinstance(reasoning, str) and reasoning:
                choice.reasoning.append(reasoning)
                content = True
            for call in message.get("tool_calls") or []:
                if isinstance(call, dict):
                    if delta:
                        choice.add_tool_call_delta(call)
                    else:
                        choice.tool_calls[len(choice.tool_calls)] = call
                    content = True
        return content

    def input(self) -> str | list[dict[str, Any]]:
        if self.kind == CHAT and isinstance(self.request.get("messages"), list):
            return self.request["messages"]
        prompt = self.request.get("prompt")
        if isinstance(prompt, str):
            return prompt
        if isinstance(prompt, list) and len(prompt) == 1 and isinstance(prompt[0], str):
            return prompt[0]
        if prompt is not None:
            return json.dumps(prompt, ensure_ascii=False)
        return self._raw_request or json.dumps(self.request, ensure_ascii=False)

    def _input_text(self) -> str:
        request_input = self.input()
        if isinstance(request_input, str):
            return request_input
        return "\n".join(_message_text(message.get("content")) for message in request_input
                         if isinstance(message, dict))

    def _upstream_error(self) -> str:
        text = bytes(self._body).decode("utf-8", "replace")
        message = text
        try:
            parsed = json.loads(text)
            detail = parsed.get("error", parsed) if isinstance(parsed, dict) else parsed
            if isinstance(detail, dict):
                message = str(detail.get("message") or detail.get("detail") or text)
            elif isinstance(detail, str):
                message = detail
        except ValueError:
            pass
        return f"upstream answered {self.status}: {message[:_ERROR_TEXT_LIMIT]}"

    def fields(self, now: float, counter: TokenCounter, error: str | None = None
               ) -> dict[str, Any]:
        """The `log_call` keyword arguments for this exchange, finished at `now` (`error`:
        what went wrong on the proxy's side, e.g. the client left mid-stream)."""
        if self.status is not None and self.status < 400 and not self._event_stream:
            try:
                answer = json.loads(bytes(self._body) or b"{}")
            except ValueError:
                answer = None
            if isinstance(answer, dict):
                self._add_answer(answer, delta=False)
            elif error is None:
                error = "the upstream's answer is not a JSON object"
        errors = [error] if error else []
        if self.status is not None and self.status >= 400:
            errors.insert(0, self._upstream_error())
        first = self._choices.get(min(self._choices)) if self._choices else None
        metadata = self._metadata(now, first)
        prompt_tokens, completion_tokens = self._token_counts(counter, metadata)
        call = {
            "input": self.input(),
            "output": first.output() if first is not None else None,
            "latency_ms": (now - self.started) * 1000,
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "error": "; ".join(errors) or None,
            "metadata": metadata,
        }
        return scrub(call, self.secrets)

    def _metadata(self, now: float, first: _Choice | None) -> dict[str, Any]:
        metadata: dict[str, Any] = {"endpoint": self.path, "model": self.request.get("model")}
        parameters = {k: v for k, v in self.request.items() if k not in _NOT_PARAMETERS}
        if parameters:
            metadata["parameters"] = parameters
        if self.status is not None:
            metadata["status"] = self.status
        if self._response.get("model") and self._response["model"] != metadata["model"]:
            metadata["response_model"] = self._response["model"]
        if self._response.get("id"):
            metadata["response_id"] = self._response["id"]
        if self.first_token_at is not None:
            metadata["ttft_ms"] = round((self.first_token_at - self.started) * 1000, 3)
        if first is not None:
            if first.finish_reason:
                metadata["finish_reason"] = first.finish_reason
            if first.tool_calls:
                metadata["tool_calls"] = first.calls()
            if first.reasoning:
                metadata["reasoning"] = "".join(first.reasoning)
        others = [self._choices[i].output() for i in sorted(self._choices)[1:]]
        if others:
            metadata["other_choices"] = others
        return metadata

    def _token_counts(self, counter: TokenCounter, metadata: dict[str, Any]
                      ) -> tuple[int | None, int | None]:
        usage = self._usage or {}
        prompt, completion = usage.get("prompt_tokens"), usage.get("completion_tokens")
        if isinstance(prompt, int) and isinstance(completion, int):
            metadata["token_counts"] = "usage"
            return prompt, completion
        if self.status is None or self.status >= 400:
            return None, None
        if not isinstance(prompt, int):
            prompt = counter.count(self._input_text())
        if not isinstance(completion, int):
            text = "".join("".join(c.text) + "".join(c.reasoning) for c in self._choices.values())
            completion = counter.count(text)
        metadata["token_counts"] = counter.method
        return prompt, completion
