"""Chat messages of a span in each dialect, as evalboard (OpenAI-style) chat messages.

A message is `{"role", "content"}` plus `tool_calls` (`[{"id", "type": "function",
"function": {"name", "arguments"}}]`) and `tool_call_id` when the span carries them.
"""

from __future__ import annotations

import json
from typing import Any

from evalboard.ingest.otlp_attributes import indexed, json_value

Message = dict[str, Any]


def _tool_call(call_id: Any, name: Any, arguments: Any) -> dict[str, Any]:
    if not isinstance(arguments, str):
        arguments = json.dumps(arguments if arguments is not None else {})
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}


def _message(role: Any, content: Any, tool_calls: list[dict[str, Any]],
             tool_call_id: Any = None) -> Message:
    message: Message = {"role": str(role or "user"), "content": content}
    if tool_calls:
        message["tool_calls"] = tool_calls
    if tool_call_id is not None:
        message["tool_call_id"] = tool_call_id
    return message


# --- GenAI semantic conventions, new style: gen_ai.input.messages / gen_ai.output.messages ---

def _from_parts(raw: Any) -> Message | None:
    if not isinstance(raw, dict):
        return None
    texts: list[str] = []
    tool_calls: list[dict[str, Any]] = []
    tool_call_id = None
    for part in raw.get("parts") or []:
        if not isinstance(part, dict):
            continue
        kind = part.get("type")
        if kind == "text":
            texts.append(str(part.get("content", "")))
        elif kind == "tool_call":
            tool_calls.append(_tool_call(part.get("id"), part.get("name"), part.get("arguments")))
        elif kind == "tool_call_response":
            tool_call_id = part.get("id")
            response = part.get("response")
            texts.append(response if isinstance(response, str) else json.dumps(response))
    return _message(raw.get("role"), "\n".join(texts), tool_calls, tool_call_id)


def semconv_messages(value: Any) -> list[Message] | None:
    """`gen_ai.input.messages` / `gen_ai.output.messages` (JSON text or a list of objects)."""
    raw = json_value(value)
    if not isinstance(raw, list):
        return None
    messages = [m for m in (_from_parts(item) for item in raw) if m is not None]
    return messages or None


def system_instructions(value: Any) -> Message | None:
    """`gen_ai.system_instructions` (a list of parts) as one system message."""
    raw = json_value(value)
    if isinstance(raw, str):
        return _message("system", raw, [])
    if isinstance(raw, list):
        return _from_parts({"role": "system", "parts": raw})
    return None


# --- GenAI semantic conventions, older style: gen_ai.prompt.N.* / gen_ai.completion.N.* ---

def _flat_tool_calls(fields: dict[str, Any], prefix: str, name_key: str, args_key: str,
                     id_key: str) -> list[dict[str, Any]]:
    return [_tool_call(item.get(id_key), item.get(name_key), item.get(args_key))
            for item in indexed(fields, prefix)]


def indexed_messages(attrs: dict[str, Any], prefix: str) -> list[Message] | None:
    """`gen_ai.prompt.N.role/content/tool_calls.M.{id,name,arguments}/tool_call_id`."""
    messages = [
        _message(fields.get("role"), fields.get("content", ""),
                 _flat_tool_calls(fields, "tool_calls.", "name", "arguments", "id"),
                 fields.get("tool_call_id"))
        for fields in indexed(attrs, prefix)
    ]
    return messages or None


# --- GenAI semantic conventions, event style: gen_ai.*.message / gen_ai.choice span events ---

_EVENT_ROLES = {"gen_ai.system.message": "system", "gen_ai.user.message": "user",
                "gen_ai.assistant.message": "assistant", "gen_ai.tool.message": "tool"}


def _event_message(role: Any, fields: dict[str, Any]) -> Message:
    calls = json_value(fields.get("tool_calls")) or []
    tool_calls = [
        _tool_call(call.get("id"), (call.get("function") or {}).get("name"),
                   (call.get("function") or {}).get("arguments"))
        for call in calls if isinstance(call, dict)
    ]
    return _message(fields.get("role", role), fields.get("content", ""), tool_calls,
                    fields.get("id") if role == "tool" else None)


def event_messages(events: list[tuple[str, dict[str, Any]]]) -> tuple[list[Message] | None,
                                                                       list[Message] | None]:
    """Input messages from `gen_ai.{system,user,assistant,tool}.message` events and output
    messages from `gen_ai.choice` events (`message` JSON or flat `content`)."""
    inputs = [_event_message(_EVENT_ROLES[name], fields)
              for name, fields in events if name in _EVENT_ROLES]
    outputs: list[Message] = []
    for name, fields in events:
        if name == "gen_ai.choice":
            message = json_value(fields.get("message"))
            body = message if isinstance(message, dict) else fields
            outputs.append(_event_message("assistant", body))
    return inputs or None, outputs or None


# --- OpenInference: llm.input_messages.N.message.* / llm.output_messages.N.message.* ---

def _openinference_content(fields: dict[str, Any]) -> Any:
    if "message.content" in fields:
        return fields["message.content"]
    parts = indexed(fields, "message.contents.")
    return "\n".join(str(part.get("message_content.text", "")) for part in parts)


def openinference_messages(attrs: dict[str, Any], prefix: str) -> list[Message] | None:
    messages = [
        _message(fields.get("message.role"), _openinference_content(fields),
                 _flat_tool_calls(fields, "message.tool_calls.", "tool_call.function.name",
                                  "tool_call.function.arguments", "tool_call.id"),
                 fields.get("message.tool_call_id"))
        for fields in indexed(attrs, prefix)
    ]
    return messages or None


def output_of(messages: list[Message]) -> Any:
    """The call's output: the text of a plain answer, else the message(s) as they are."""
    if len(messages) == 1 and not messages[0].get("tool_calls"):
        return messages[0].get("content")
    return messages[0] if len(messages) == 1 else messages
