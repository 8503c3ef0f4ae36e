"""Review guidelines (Markdown) and other settings kept in the store."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from evalboard.store.engine import write_session
from evalboard.store.review_models import Setting

GUIDELINES_KEY = "review_guidelines"


def get_setting(engine: Engine, key: str, default: Any = None) -> Any:
    with Session(engine) as session:
        setting = session.get(Setting, key)
        return default if setting is None else setting.value


def set_setting(engine: Engine, key: str, value: Any) -> None:
    with write_session(engine) as session:
        setting = session.get(Setting, key)
        if setting is None:
            session.add(Setting(key=key, value=value))
        else:
            setting.value = value


def get_guidelines(engine: Engine) -> str:
    return str(get_setting(engine, GUIDELINES_KEY, ""))


def set_guidelines(engine: Engine, markdown: str) -> None:
    set_setting(engine, GUIDELINES_KEY, markdown)
