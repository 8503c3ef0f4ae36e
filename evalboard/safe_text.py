"""Make untrusted model output safe to show as Markdown: no HTML, no scripts, no remote loads."""

from __future__ import annotations

import re

_SAFE_SCHEMES = ("http://", "https://", "mailto:", "#")
_IMAGE = re.compile(r"!\[([^\]\n]*)\]\(([^)\n]*)\)")
_LINK = re.compile(r"(?<!!)\[([^\]\n]*)\]\(([^)\n]*)\)")
_REFERENCE = re.compile(r"^(\s{0,3}\[[^\]\n]+\]:\s*)(\S+)(.*)$", re.MULTILINE)
_INVISIBLE = re.compile("[\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]")


def _safe_target(target: str) -> str:
    cleaned = _INVISIBLE.sub("", target).strip().strip("<>")
    return cleaned if cleaned.lower().startswith(_SAFE_SCHEMES) else "#unsafe-link-removed"


def safe_markdown(text: str) -> str:
    """Markdown that renders the model's text without letting it act.

    HTML is escaped (shown as text), images become text (no request leaves the browser),
    and link targets other than http(s)/mailto are replaced.
    """
    escaped = text.replace("&", "&amp;").replace("<", "&lt;")
    escaped = _IMAGE.sub(lambda m: f"[image: {m.group(1) or 'untitled'}] `{m.group(2)}`", escaped)
    escaped = _LINK.sub(lambda m: f"[{m.group(1)}]({_safe_target(m.group(2))})", escaped)
    return _REFERENCE.sub(lambda m: m.group(1) + _safe_target(m.group(2)) + m.group(3), escaped)


def show_invisible(text: str) -> str:
    """Mark zero-width and direction-override characters so a reviewer can see them."""
    return _INVISIBLE.sub(lambda m: f"<U+{ord(m.group(0)):04X}>", text)
