"""Review queues on the page: the list with everyone's and your progress, a queue's detail,
the form that makes one, and "add to a queue" from Browse or a similar-calls list."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date

import pandas as pd
import streamlit as st
from sqlalchemy import Engine

from evalboard import clock
from evalboard.access.permissions import auth_mode, list_users
from evalboard.monitors.definitions import list_monitors
from evalboard.review.call_marks import reviewer_names
from evalboard.review.labels import list_labels
from evalboard.review.sampling import STRATEGIES, ReviewSessionError, SessionSpec, pick_calls
from evalboard.review.sessions import get_session
from evalboard.store.calls_query import CallFilter, list_model_versions
from evalboard.teams.adjudication import pending_adjudication
from evalboard.teams.queues import (
    BATCH_SIZE,
    QueueError,
    QueueSpec,
    QueueView,
    add_calls,
    close_queue,
    create_queue,
    get_queue,
    list_queues,
    release_batch,
    take_batch,
)
from evalboard.teams.scores import list_score_configs
from evalboard.ui.auth_gate import may
from evalboard.ui.navigation import ADJUDICATE, QUEUES
from evalboard.ui.review_start import switch_to_review
from evalboard.ui.reviewer import current_reviewer

QUEUE_PARAM = "queue"
_MESSAGE = "queues_message"
# how a new queue is filled: the session strategies, and three that list matching calls
FILLS = {key: STRATEGIES[key] for key in ("random", "stratified", "newest", "failing_checks",
                                           "disagreements")}
FILLS |= {"label": "Calls with a label", "monitor": "Calls failing a monitor"}


def _progress_text(view: QueueView) -> str:
    text = f"{view.complete:,} of {view.items:,} calls complete"
    if view.reviewers_per_item > 1:
        text += f" · {view.answers:,} of {view.answers_needed:,} answers " \
            f"({view.reviewers_per_item} per call)"
    return text


def _due_text(view: QueueView, today: date) -> str:
    if view.due_on is None:
        return ""
    state = view.due_state(today)
    return {"overdue": f"overdue since {view.due_on:%Y-%m-%d}",
            "today": "due today"}.get(state, f"due {view.due_on:%Y-%m-%d}")


def work_on(engine: Engine, queue_id: int, reviewer: str) -> None:
    """Open the reviewer's batch of the queue in Review (a new one if they have none)."""
    try:
        session_id = take_batch(engine, queue_id, reviewer, clock.now())
    except QueueError as exc:
        st.session_state[_MESSAGE] = ("warning", str(exc))
        return
    if session_id is None:
        st.session_state[_MESSAGE] = ("info", "Nothing is left for you in this queue: every "
                                      "call has its answers, or is held by others.")
        return
    switch_to_review(session_id)


def _work_button(engine: Engine, view: QueueView, reviewer: str, *, key: str) -> None:
    if not may("review") or not reviewer or view.closed or not view.assigned_to(reviewer):
        return
    if st.button(f"Review {min(view.mine_left, BATCH_SIZE)} now" if view.mine_left else
                 "Nothing left for you", key=key, type="primary", icon=":material/play_arrow:",
                 disabled=view.mine_left == 0,
                 help=f"Takes up to {BATCH_SIZE} calls for you; calls you do not answer "
                      f"within {view.reservation_minutes} minutes go to someone else."):
        work_on(engine, view.id, reviewer)


def _next_batch(engine: Engine, queue_id: int, session_id: int, reviewer: str) -> None:
    release_batch(engine, session_id, clock.now())
    work_on(engine, queue_id, reviewer)


def batch_header(engine: Engine, queue_id: int, session_id: int, reviewer: str) -> None:
    """Above a queue batch in Review: which queue (its page has the progress), and the way
    to the next batch."""
    _show_message()
    view = get_queue(engine, queue_id, clock.now(), reviewer)
    batch = get_session(engine, session_id)
    if view is None or batch is None:
        return
    with st.container(horizontal=True, vertical_alignment="center"):
        st.page_link(QUEUES.path, label=f"Queue: {view.name} ({batch.name.rsplit(' · ', 1)[-1]})",
                     icon=":material/inventory_2:", query_params={QUEUE_PARAM: str(view.id)})
        st.button("Next batch", icon=":material/skip_next:", disabled=view.closed,
                  on_click=_next_batch, args=(engine, view.id, session_id, reviewer),
                  help=f"Takes up to {BATCH_SIZE} more calls of the queue for you; the calls of "
                       "this batch you have not answered go back to the queue.")


def _show_message() -> None:
    message = st.session_state.pop(_MESSAGE, None)
    if message:
        getattr(st, message[0])(message[1])


def queue_list(engine: Engine, reviewer: str) -> None:
    """Open queues, those assigned to the reviewer first, each with its progress."""
    _show_message()
    today = clock.now().date()
    views = list_queues(engine, clock.now(), reviewer or None)
    if not views:
        st.info("No queues yet. A queue is a set of calls that several people review: make "
                "one below, or from Browse's “Add to a queue”.", icon=":material/inventory_2:")
        return
    views.sort(key=lambda v: (not (reviewer and v.assigned_to(reviewer)), -v.id))
    for view in views:
        with st.container(border=True):
            head, progress, action = st.columns([3, 3, 2], vertical_alignment="center")
            who = ", ".join(view.assignees) if view.assignees else "everyone"
            head.markdown(f"**{view.name}**  \n" + " · ".join(
                part for part in (f"for {who}", _due_text(view, today),
                                  f"score: {view.score_config}" if view.score_config else "")
                if part))
            head.page_link(QUEUES.path, label="Details", query_params={QUEUE_PARAM: str(view.id)},
                           icon=":material/info:")
            progress.progress(view.complete / view.items if view.items else 0.0,
                              text=_progress_text(view))
            if reviewer and view.assigned_to(reviewer):
                progress.caption(f"You: {view.mine_done:,} answered · {view.mine_left:,} left "
                                 "for you")
            with action:
                _work_button(engine, view, reviewer, key=f"work_queue_{view.id}")


def your_queues(engine: Engine, reviewer: str) -> None:
    """Home's list: the open queues assigned to the reviewer with calls left for them, what
    is due, and a button into each."""
    if not reviewer or not may("review"):
        return
    today = clock.now().date()
    mine = [view for view in list_queues(engine, clock.now(), reviewer, mine_only=True)
            if view.mine_left]
    if not mine:
        return
    st.subheader("Your queues")
    for view in mine:
        cols = st.columns([4, 3, 2], vertical_alignment="center")
        due = _due_text(view, today)
        cols[0].page_link(QUEUES.path, label=view.name, icon=":material/inventory_2:",
                          query_params={QUEUE_PARAM: str(view.id)})
        cols[1].markdown(f"**{view.mine_left:,}** left for you"
                         + (f" · :red[{due}]" if view.due_state(today) else
                            f" · {due}" if due else ""))
        with cols[2]:
            _work_button(engine, view, reviewer, key=f"home_queue_{view.id}")


def queue_detail(engine: Engine, queue_id: int, reviewer: str) -> None:
    """One queue: its settings, progress per reviewer, and what to do next."""
    _show_message()
    view = get_queue(engine, queue_id, clock.now(), reviewer or None)
    if view is None:
        st.warning(f"There is no queue {queue_id}.")
        return
    st.subheader(view.name)
    today = clock.now().date()
    facts = [f"made by {view.created_by} on {view.created_at:%Y-%m-%d}",
             f"for {', '.join(view.assignees) if view.assignees else 'everyone'}",
             f"{view.reviewers_per_item} reviewer{'s' if view.reviewers_per_item > 1 else ''} "
             "per call", f"reservations last {view.reservation_minutes} min"]
    if view.due_on:
        facts.append(_due_text(view, today))
    if view.score_config:
        facts.append(f"score: {view.score_config}")
    if view.closed:
        facts.append("closed")
    st.caption(" · ".join(facts))
    st.progress(view.complete / view.items if view.items else 0.0, text=_progress_text(view))
    cols = st.columns(4)
    cols[0].metric("Calls", f"{view.items:,}")
    cols[1].metric("Complete", f"{view.complete:,}")
    cols[2].metric("Answers left", f"{view.remaining:,}")
    cols[3].metric("Held now", f"{view.reserved:,}",
                   help="Calls reserved for a reviewer who is working on them.")
    if reviewer and view.assigned_to(reviewer):
        st.markdown(f"**You** answered {view.mine_done:,}; {view.mine_left:,} left for you.")
    _work_button(engine, view, reviewer, key=f"work_queue_detail_{view.id}")
    if view.per_reviewer:
        st.markdown("**Progress per reviewer**")
        st.dataframe(pd.DataFrame([{"reviewer": name, "answered": done, "skipped": skipped}
                                   for name, done, skipped in view.per_reviewer]),
                     hide_index=True)
    if view.reviewers_per_item > 1:
        pending = pending_adjudication(engine, queue_id=view.id)
        st.markdown(f"**Disagreements to adjudicate: {len(pending)}**")
        if pending and may("adjudicate"):
            st.page_link(ADJUDICATE.path, label="Adjudicate them",
                         query_params={QUEUE_PARAM: str(view.id)}, icon=":material/gavel:")
    if not view.closed and may("admin") and st.button(
            "Close this queue", icon=":material/lock:",
            help="Stops handing out its calls; every answer given stays."):
        close_queue(engine, view.id, clock.now())
        st.rerun()
    st.page_link(QUEUES.path, label="All queues", icon=":material/arrow_back:")


def _assignable(engine: Engine) -> list[str]:
    """Who a queue can be assigned to: accounts that may review, else known reviewers."""
    if auth_mode() != "off":
        return [name for name, role, disabled in list_users(engine)
                if not disabled and role in ("reviewer", "admin")]
    return reviewer_names(engine)


def _fill_spec(engine: Engine, fill: str, size: int, versions: Sequence[str],
               label: str | None, monitor: str | None) -> SessionSpec:
    base = CallFilter(model_versions=tuple(versions))
    if fill == "label":
        if not label:
            raise QueueError("choose the label whose calls fill the queue")
        return SessionSpec(size=size, strategy="as_displayed",
                           call_filter=CallFilter(model_versions=tuple(versions), labels=(label,)))
    if fill == "monitor":
        ids = {m.name: m.id for m in list_monitors(engine)}
        if monitor not in ids:
            raise QueueError("choose the monitor whose failing calls fill the queue")
        return SessionSpec(size=size, strategy="as_displayed", call_filter=CallFilter(
            model_versions=tuple(versions), failing_monitors=(ids[monitor],)))
    return SessionSpec(size=size, strategy=fill, call_filter=base)


def new_queue_form(engine: Engine, reviewer: str) -> None:
    """Make a queue: which calls, how many reviewers per call, for whom, by when."""
    if not may("review") or not reviewer:
        return
    with st.expander("New queue", icon=":material/add:"), st.form("new_queue"):
        name = st.text_input("Name", placeholder="e.g. Refund answers, week 48")
        left, right = st.columns(2)
        fill = left.radio("Fill it with", list(FILLS), format_func=FILLS.get)
        label = left.selectbox("Label (for “Calls with a label”)",
                               [lab.name for lab in list_labels(engine)], index=None)
        monitor = left.selectbox("Monitor (for “Calls failing a monitor”)",
                                 [m.name for m in list_monitors(engine)], index=None)
        size = right.number_input("How many calls", min_value=1, max_value=10_000, value=50)
        versions = right.multiselect("Model versions",
                                     [v.name for v in list_model_versions(engine)],
                                     placeholder="All versions")
        per_item = right.number_input("Reviewers per call", min_value=1, max_value=10, value=1,
                                      help="1 splits the work; 2 or more overlap for "
                                           "agreement, and their disagreements are adjudicated.")
        assignees = right.multiselect("Assigned to", _assignable(engine),
                                      accept_new_options=True, placeholder="Everyone")
        due = right.date_input("Due", value=None, format="YYYY-MM-DD")
        minutes = right.number_input("Reservation (minutes)", min_value=1, max_value=1440,
                                     value=30, help="A call taken and not answered within "
                                                    "this time goes back to the queue.")
        configs = [c.name for c in list_score_configs(engine)]
        score = right.selectbox("Score (optional)", configs, index=None,
                                help="An answer type beyond the verdict; Settings defines "
                                     "them.", disabled=not configs)
        submitted = st.form_submit_button("Create queue", type="primary",
                                          icon=":material/add:")
    if not submitted:
        return
    try:
        spec = QueueSpec(name=name, pick=_fill_spec(engine, str(fill), int(size), versions,
                                                    label, monitor),
                         reviewers_per_item=int(per_item), assignees=tuple(assignees),
                         due_on=due, reservation_minutes=int(minutes), score_config=score)
        queue_id = create_queue(engine, spec, reviewer)
    except (QueueError, ReviewSessionError) as exc:
        st.warning(f"Not created: {exc}")
        return
    st.session_state[_MESSAGE] = ("success", f"Queue “{' '.join(name.split())}” created.")
    st.query_params[QUEUE_PARAM] = str(queue_id)
    st.rerun()


def add_to_queue(engine: Engine, count: int, call_ids: Callable[[], Sequence[int]], *,
                 key: str, what: str) -> None:
    """A popover that adds `count` calls (listed by `call_ids` only when asked) to an open
    queue: Browse's current list, a call's similar calls."""
    reviewer = current_reviewer()
    if not may("review") or not reviewer or not count:
        return
    with st.popover("Add to a queue", icon=":material/playlist_add:",
                    help=f"Adds {what} to a queue that several people review."):
        queues = {v.name: v.id for v in list_queues(engine, clock.now())}
        if not queues:
            st.caption("No open queue yet: make one on the Queues page.")
            st.page_link(QUEUES.path, label="Queues", icon=":material/inventory_2:")
            return
        chosen = st.selectbox("Queue", list(queues), key=f"{key}_queue")
        if st.button(f"Add {what}", key=f"{key}_add", type="primary"):
            ids = list(call_ids())
            try:
                added = add_calls(engine, queues[chosen], ids)
            except QueueError as exc:
                st.warning(str(exc))
                return
            st.success(f"Added {added:,} calls to “{chosen}” "
                       f"({len(ids) - added:,} were in it already).")


QUEUE_FROM_BROWSE = 500


def add_listed_to_queue(engine: Engine, call_filter: CallFilter, sort_key: str,
                        count: int) -> None:
    """On Browse: add the first calls of this list, as shown, to a review queue."""
    size = min(count, QUEUE_FROM_BROWSE)
    spec = SessionSpec(size=max(size, 1), strategy="as_displayed", call_filter=call_filter,
                       sort_key=sort_key)
    add_to_queue(engine, size, lambda: pick_calls(engine, spec), key="browse_to_queue",
                 what=f"the first {size:,} calls of this list" if count > size else
                 f"these {size:,} calls")
