"""Where the store lives: one URL for every entry point, and its password kept out of sight."""

from __future__ import annotations

import logging
import os
import re
from urllib.parse import quote, quote_plus

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

DB_URL_ENV = "EVALBOARD_DB_URL"
DEFAULT_DB_URL = "sqlite:///evalboard.db"
HIDDEN = "***"
# user:password@ in a URL SQLAlchemy cannot parse
_CREDENTIALS = re.compile(r"(//[^/:@\s]*):[^@/\s]*@")


def resolve_db_url(url: str | None = None) -> str:
    """Return the store URL: the argument, else $EVALBOARD_DB_URL, else the local SQLite file."""
    return url or os.environ.get(DB_URL_ENV) or DEFAULT_DB_URL


def redact_url(url: str) -> str:
    """The URL as it may be shown or logged: its password replaced by ***."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):
        return _CREDENTIALS.sub(rf"\1:{HIDDEN}@", url)


def _password(url: str) -> str | None:
    try:
        return make_url(url).password
    except (ArgumentError, ValueError):
        found = _CREDENTIALS.search(url)
        return found.group(0)[len(found.group(1)) + 1:-1] if found else None


def redact_text(text: str, *urls: str | None) -> str:
    """`text` with the password of each URL (default: the configured store's) hidden, however
    it is quoted."""
    forms: set[str] = set()
    for url in urls or (resolve_db_url(),):
        password = _password(url) if url else None
        if password:
            forms |= {password, quote(password, safe=""), quote_plus(password)}
    for form in sorted(forms, key=len, reverse=True):  # a longer password before its prefix
        if len(form) >= 3:
            text = text.replace(form, HIDDEN)
    return text


class RedactingFilter(logging.Filter):
    """Hides store passwords (of `urls`, default: the configured store's, read per record) in
    every record it sees, message and traceback."""

    def __init__(self, *urls: str | None) -> None:
        super().__init__()
        self.urls = urls

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = redact_text(record.getMessage(), *self.urls), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact_text(record.exc_text, *self.urls)
        return True
