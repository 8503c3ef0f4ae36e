"""`gen_ai.evaluation.result` span events become monitor results of `otel: <evaluator>`
monitors, sent with the real OpenTelemetry SDK exporter."""

from __future__ import annotations

import threading

import pytest
from opentelemetry.sdk.trace.export import SpanExportResult
from sqlalchemy import func, select

from evalboard.ingest.otlp_evaluations import evaluation_of, record_evaluations, verdict
from evalboard.monitors.definitions import get_monitor
from evalboard.monitors.results import monitor_suggestions, pass_rates
from evalboard.monitors.worker import run_pass
from evalboard.store.models import Call
from evalboard.store.monitor_models import Monitor, MonitorResult
from tests.support.otlp import export, make_spans, running_receiver

EVALUATION = "gen_ai.evaluation.result"


def evaluation(name: str, label: str | None = None, score: float | None = None,
               explanation: str | None = None) -> tuple[str, dict]:
    attrs = {"gen_ai.evaluation.name": name, "gen_ai.evaluation.score.label": label,
             "gen_ai.evaluation.score.value": score,
             "gen_ai.evaluation.explanation": explanation}
    return EVALUATION, {key: value for key, value in attrs.items() if value is not None}


def llm_span(*events: tuple[str, dict], text: str = "hi") -> dict:
    return {"attributes": {"gen_ai.operation.name": "chat", "gen_ai.request.model": "m",
                           "gen_ai.input.messages": f'[{{"role":"user","parts":[{{"type":'
                                                    f'"text","content":"{text}"}}]}}]'},
            "events": list(events)}


def results(engine) -> list[tuple[str, str, bool, float, str]]:
    with engine.connect() as conn:
        return [tuple(row) for row in conn.execute(
            select(Monitor.name, MonitorResult.check_name, MonitorResult.passed,
                   MonitorResult.score, MonitorResult.reason)
            .join(Monitor, Monitor.id == MonitorResult.monitor_id)
            .order_by(MonitorResult.call_id, Monitor.name))]


def monitors(engine) -> list[tuple[str, bool, list]]:
    with engine.connect() as conn:
        return [tuple(row) for row in conn.execute(
            select(Monitor.name, Monitor.enabled, Monitor.checks).order_by(Monitor.name))]


@pytest.mark.parametrize(("label", "expected"), [
    ("pass", True), ("Passed", True), (" TRUE ", True), ("correct", True), ("yes", True),
    ("fail", False), ("FAILED", False), ("false", False), ("incorrect", False), ("no", False),
    ("relevant", None), ("not_relevant", None), ("", None), (None, None), (1, None)])
def test_only_clear_pass_or_fail_labels_are_verdicts(label, expected):
    assert verdict(label) is expected


def test_an_event_without_a_verdict_or_an_evaluator_is_no_result():
    assert evaluation_of({"name": "relevance", "score": 0.2, "label": "irrelevant"}) is None
    assert evaluation_of({"name": "relevance", "score": 0.2}) is None
    assert evaluation_of({"name": None, "label": "pass"}) is None
    found = evaluation_of({"name": "tone", "label": "fail"})
    assert (found.score, found.reason, found.monitor_name) == (0.0, "fail", "otel: tone")


def test_sdk_events_become_monitor_results_once_despite_a_retry(engine):
    spans = make_spans(
        llm_span(evaluation("relevance", "pass", 0.9, "answers the question"),
                 evaluation("toxicity", "FAIL", explanation="insults the user"),
                 evaluation("tone", "friendly", 4.0, "warm")),
        llm_span(evaluation("relevance", "incorrect", 0.1), text="bye"),
        {"name": "retrieve", "attributes": {"db.system": "qdrant"},
         "events": [evaluation("relevance", "pass", 1.0)]})  # not an LLM span: no call
    with running_receiver(engine) as server:
        assert export(server, spans) == SpanExportResult.SUCCESS
        assert export(server, spans) == SpanExportResult.SUCCESS  # an exporter's retry
    assert results(engine) == [
        ("otel: relevance", "relevance", True, 0.9, "pass: answers the question"),
        ("otel: toxicity", "toxicity", False, 0.0, "FAIL: insults the user"),
        ("otel: relevance", "relevance", False, 0.1, "incorrect")]
    assert monitors(engine) == [("otel: relevance", False, []), ("otel: toxicity", False, [])]
    with engine.connect() as conn:
        call_id, meta = conn.execute(select(Call.id, Call.meta).order_by(Call.id)).first()
    # the metadata copy stays, verdict or not
    assert [e["name"] for e in meta["evaluations"]] == ["relevance", "toxicity", "tone"]
    assert [s.monitor for s in monitor_suggestions(engine, call_id)] == ["otel: toxicity"]
    rates = pass_rates(engine, monitors=["otel: relevance"])
    assert (rates["checked"].sum(), rates["failed"].sum()) == (2, 1)


def test_the_worker_never_runs_an_otel_monitor(engine):
    spans = make_spans(llm_span(evaluation("relevance", "pass", 1.0)))
    with running_receiver(engine) as server:
        assert export(server, spans) == SpanExportResult.SUCCESS
    report = run_pass(engine)
    assert (report.monitors, report.results) == (0, 0)
    assert len(results(engine)) == 1
    view = get_monitor(engine, "otel: relevance")  # listed like any monitor, paused
    assert (view.spec.enabled, view.check_names, view.results, view.failures) == (False, [], 1, 0)


def test_writers_racing_on_a_new_evaluator_make_one_monitor_and_one_result(engine):
    spans = make_spans(llm_span())
    with running_receiver(engine) as server:
        assert export(server, spans) == SpanExportResult.SUCCESS
    with engine.connect() as conn:
        call_id = conn.scalar(select(Call.id))
    rows = [{"meta": {"evaluations": [{"name": "race", "label": "no", "score": 0.0,
                                       "explanation": "wrong"}]}}]
    start, counts, errors = threading.Barrier(4), [], []

    def record() -> None:
        start.wait()
        try:
            counts.append(record_evaluations(engine, rows, [call_id]))
        except Exception as error:  # noqa: BLE001 - the test reports it
            errors.append(error)

    threads = [threading.Thread(target=record) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == [] and sorted(counts) == [0, 0, 0, 1]
    assert monitors(engine) == [("otel: race", False, [])]
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(MonitorResult)) == 1


def test_the_queued_writer_stores_evaluations_too(engine):
    spans = make_spans(llm_span(evaluation("relevance", "yes", 0.8)))
    with running_receiver(engine, ack="queued") as server:
        assert export(server, spans) == SpanExportResult.SUCCESS
    assert results(engine) == [("otel: relevance", "relevance", True, 0.8, "yes")]
