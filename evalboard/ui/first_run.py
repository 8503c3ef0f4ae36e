"""The screen of an empty store: load the demo, or start logging your own calls."""

from __future__ import annotations

import streamlit as st
from sqlalchemy import Engine

from evalboard.demo.builder import load_demo
from evalboard.ui.auth_gate import may
from evalboard.ui.store import clear_cached_reads, store_url

LOGGING_SNIPPET = """import evalboard

eb = evalboard.connect()  # {url}

eb.log_call(
    input="Who was Julius Caesar?",
    output="A Roman general and statesman ...",
    model_version="support-bot-v1",
    latency_ms=412,
)

# or time every generation automatically
@eb.trace(model_version="support-bot-v1")
def generate(prompt: str) -> str:
    ...
"""

IMPORT_SNIPPET = (
    "evalboard import logs.jsonl --map input=instruction --map output=response "
    "--model-version support-bot-v1"
)


def first_run(engine: Engine) -> None:
    """Welcome screen with a one-click demo and copyable snippets."""
    st.title("Welcome to evalboard")
    st.markdown(
        "This store has no calls yet. evalboard shows every inference call of every model "
        "version, so you can **look at your data** every day, label failures with the "
        "keyboard, and turn them into test cases."
    )
    demo, own = st.columns(2, gap="large")
    with demo:
        st.subheader("Explore with demo data")
        st.markdown(
            "A few weeks of a fine-tuned support assistant: five model versions, each "
            "with its own planted failure modes."
        )
        calls = st.number_input(
            "Calls to generate", min_value=100, max_value=200_000, value=3000, step=500
        )
        if not may("admin"):
            st.caption("An admin can load the demo.")
        elif st.button("Load the demo", type="primary", icon=":material/rocket_launch:"):
            bar = st.progress(0.0, text="Generating calls…")
            summary = load_demo(
                engine,
                calls=int(calls),
                progress=lambda done, total: bar.progress(
                    done / total, text=f"{done:,} of {total:,} calls"
                ),
            )
            clear_cached_reads()
            st.success(f"Loaded {summary.inserted:,} calls.")
            st.rerun()
    with own:
        st.subheader("Log your own calls")
        st.code(LOGGING_SNIPPET.format(url=store_url()), language="python")
        st.markdown("Or import logs written by another tool:")
        st.code(IMPORT_SNIPPET, language="bash")
