"""Agreement › Judges against people: κ, precision, recall, F1, the confusion matrix and the
disagreements (one click to review them) per judge; a bounded run over the labelled calls with
a progress bar; Align with κ before and after side by side."""

from __future__ import annotations

import pandas as pd
import streamlit as st
from sqlalchemy import Engine

from evalboard.errors import EvalboardError
from evalboard.judges.align import AlignReport, align, align_runs
from evalboard.judges.alignment import Alignment, alignment
from evalboard.judges.repository import get_version_by_id, list_judges
from evalboard.judges.review_queue import review_disagreements
from evalboard.judges.running import pending_calls, run_on_labelled
from evalboard.ui.navigation import REVIEW
from evalboard.ui.reviewer import current_reviewer
from evalboard.ui.store import clear_cached_reads, engine_for, store_url

RUN_BATCH = 20  # calls judged per click: the page answers within a backend's 20 calls
# Align from the page judges at most the pool once and the held-out calls twice (before and
# after): 300 backend calls; `evalboard judge align` takes up to 200 + 2 x 200.
ALIGN_POOL, ALIGN_HELD_OUT = 100, 100


def _fmt(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"


def _summary_row(measured: Alignment) -> dict[str, object]:
    m = measured.confusion
    return {"judge": measured.version.ref, "label": measured.version.label or "(verdict)",
            "calls": measured.calls, "Cohen's κ": _fmt(measured.kappa),
            "precision": _fmt(m.precision), "recall": _fmt(m.recall), "F1": _fmt(m.f1),
            "trust": "trusted" if measured.trusted else "not trusted",
            "errors": measured.errors}


def _confusion(measured: Alignment) -> pd.DataFrame:
    m = measured.confusion
    return pd.DataFrame({"people: fail": [m.tp, m.fn], "people: pass": [m.fp, m.tn]},
                        index=["judge: fail", "judge: pass"])


@st.cache_data(ttl=60, show_spinner=False)
def _pending(url: str, version_id: int) -> int:
    """How many labelled calls the version has not answered (a scan of the judgements:
    cached, cleared by every write)."""
    engine = engine_for(url)
    return len(pending_calls(engine, get_version_by_id(engine, version_id)))


def _run_button(engine: Engine, measured: Alignment) -> None:
    version = measured.version
    pending = _pending(store_url(), version.id)
    if not st.button(f"Run {version.ref} on the next {min(pending, RUN_BATCH)} labelled calls",
                     key=f"judge_run_{version.name}", disabled=pending == 0,
                     help=f"{pending} human-labelled calls have no answer of this version "
                          "yet; answers are cached, so a rerun costs nothing."):
        return
    bar = st.progress(0.0, text=f"Judging with {version.ref}…")
    try:
        report = run_on_labelled(engine, version, limit=RUN_BATCH, progress=lambda done, total:
                                 bar.progress(done / total, text=f"{done} of {total} calls"))
    except EvalboardError as exc:
        st.error(str(exc))
        return
    clear_cached_reads()
    st.session_state[f"judge_ran_{version.name}"] = (
        f"Judged {report.judged} calls ({report.cached} from the cache, {report.errors} "
        f"errors); {report.remaining} left." + (f" First error: {report.first_error}"
                                                if report.first_error else ""))
    st.rerun()


def _disagreements(engine: Engine, measured: Alignment) -> None:
    differ = measured.disagreements
    if not differ:
        return
    st.markdown(f"**{len(differ)} calls where {measured.version.ref} and people disagree**")
    st.dataframe(pd.DataFrame([
        {"call": f"/browse?call={d.call_id}", "judge": d.judge, "people": d.human,
         "judge's reason": d.reason} for d in differ]), hide_index=True, width="stretch",
        column_config={"call": st.column_config.LinkColumn(
            "call", display_text=r"\?call=(\d+)", help="Open the call in Browse")})
    reviewer = current_reviewer()
    key = f"judge_review_{measured.version.name}"
    if st.button(f"Review these {len(differ)} calls", key=key, disabled=not reviewer,
                 help=None if reviewer else "Enter your name under Reviewer in the sidebar"):
        try:
            st.session_state[f"{key}_session"] = review_disagreements(
                engine, reviewer, measured.version.ref, [d.call_id for d in differ])
        except EvalboardError as exc:
            st.error(str(exc))
    session_id = st.session_state.get(f"{key}_session")
    if session_id is not None:
        st.page_link(REVIEW.path, label=f"Open the review session of these calls (#{session_id})",
                     query_params={"session": str(session_id)}, icon=":material/rate_review:")


def _show_align(report: AlignReport) -> None:
    before, after = st.columns(2)
    before.metric(f"Before: {report.before.version.ref}", _fmt(report.before.kappa),
                  help="Cohen's κ on the held-out calls")
    delta = None if report.before.kappa is None or report.after.kappa is None \
        else round(report.after.kappa - report.before.kappa, 2)
    after.metric(f"After: {report.after.version.ref}", _fmt(report.after.kappa), delta=delta)
    st.caption(f"{len(report.example_call_ids)} few-shot examples from the labelled calls, "
               f"evaluated on {len(report.held_out_call_ids)} held-out calls never used as "
               f"examples; {report.backend_calls} backend calls.")


def _align_form(engine: Engine, measured: Alignment) -> None:
    version = measured.version
    key = f"judge_align_{version.name}"
    with st.form(key, border=False):
        left, middle, right = st.columns(3)
        examples = left.number_input("Examples", 1, 50, 8, key=f"{key}_examples")
        seed = middle.number_input("Seed", 0, 10**6, 0, key=f"{key}_seed")
        share = right.slider("Held out", 0.2, 0.8, 0.5, 0.1, key=f"{key}_share")
        go = st.form_submit_button(f"Align {version.ref}",
                                   help="A new version with few-shot examples from the "
                                        "human-labelled calls (disagreements first)")
    if go:
        try:
            with st.spinner(f"Aligning {version.ref}…"):
                report = align(engine, version, seed=int(seed), examples=int(examples),
                               held_out_share=float(share), max_held_out=ALIGN_HELD_OUT,
                               max_pool=ALIGN_POOL)
        except EvalboardError as exc:
            st.error(str(exc))
        else:
            clear_cached_reads()
            _show_align(report)
    runs = align_runs(engine, version.name)
    if runs:
        st.dataframe(pd.DataFrame([
            {"from": r.from_version.ref, "to": r.to_version.ref, "κ before": _fmt(r.kappa_before),
             "κ after": _fmt(r.kappa_after), "examples": r.examples, "held out": r.held_out,
             "seed": r.seed} for r in runs]), hide_index=True, width="stretch")


def judge_alignment_section(engine: Engine) -> None:
    st.subheader("Judges against people")
    judges = list_judges(engine)
    if not judges:
        st.caption("No judges yet: create one per label in Settings › Judges.")
        return
    st.caption("Each judge's newest version against the people's answers on the calls both "
               "judged (\"fail\" is the positive class). Below κ 0.6 a judge is not trusted: "
               "its results are suggestions only.")
    report = [alignment(engine, s.newest) for s in judges]
    st.dataframe(pd.DataFrame([_summary_row(m) for m in report]), hide_index=True,
                 width="stretch")
    name = st.selectbox("Judge", [m.version.name for m in report], key="judge_alignment_pick")
    measured = next(m for m in report if m.version.name == name)
    st.markdown(f"**{measured.version.ref}** · {measured.trust_text}")
    notice = st.session_state.pop(f"judge_ran_{name}", None)
    if notice:
        st.info(notice)
    _run_button(engine, measured)
    if measured.calls:
        st.dataframe(_confusion(measured), width="content")
    _disagreements(engine, measured)
    with st.expander("Align: few-shot examples from the labelled calls"):
        _align_form(engine, measured)
