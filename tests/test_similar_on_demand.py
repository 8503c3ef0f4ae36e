"""Similar calls computed on demand from the call dialog (the real MiniLM, offline)."""

from __future__ import annotations

import os

import pytest
from sqlalchemy import select

from evalboard.similarity import similar
from evalboard.similarity.embeddings import get_embedder
from evalboard.similarity.similar import embed_on_demand, get_index, most_similar, readiness
from evalboard.store.review_models import CallEmbedding
from tests.support.apptest import open_page
from tests.support.calls import T0, add_calls

os.environ["HF_HUB_OFFLINE"] = "1"

REFUNDS = ["Your refund for the order is on its way.", "We sent the money back for the order.",
           "The payment for your cancelled purchase was returned."]


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")


@pytest.fixture(scope="module")
def embedder():
    return get_embedder()


def _store(engine) -> dict[int, int]:
    """Calls number 1-6 of v1 (three about refunds, three about weather), 7-8 of v2; returns
    {number: call id}."""
    weather = ["It will rain in Paris tomorrow.", "Sunny skies all week in Rome.",
               "Snow is expected in Oslo tonight."]
    rows = [{"input": f"q{i}", "output": text, "model_version": "v1",
             "created_at": T0.replace(minute=i)} for i, text in enumerate(REFUNDS + weather)]
    rows += [{"input": "q", "output": "Refund sent.", "model_version": "v2",
              "created_at": T0.replace(minute=10 + i)} for i in range(2)]
    return dict(enumerate(add_calls(engine, rows).ids, start=1))


def _embedded(engine, call: dict[int, int]) -> list[int]:
    """The numbers of the embedded calls."""
    number = {call_id: n for n, call_id in call.items()}
    with engine.connect() as conn:
        return sorted(number[c] for c in conn.scalars(select(CallEmbedding.call_id)))


def test_embeds_the_call_and_the_newest_of_its_version_when_few_are_embedded(engine,
                                                                            embedder):
    call = _store(engine)
    assert readiness(engine, call[1]) == similar.SimilarityReadiness(False, 0)
    assert embed_on_demand(engine, call[1], neighbours=3, embedder=embedder) == 3
    assert _embedded(engine, call) == [1, 4, 5, 6]  # v1's newest three; nothing of v2
    state = readiness(engine, call[1])
    assert state.embedded and state.others == 3 and state.ready
    assert embed_on_demand(engine, call[2], neighbours=3, embedder=embedder) == 0  # enough
    assert _embedded(engine, call) == [1, 2, 4, 5, 6]
    with pytest.raises(LookupError):
        embed_on_demand(engine, 999, embedder=embedder)


def test_an_index_loaded_before_sees_calls_embedded_below_its_ids(engine, embedder):
    call = _store(engine)
    embed_on_demand(engine, call[8], neighbours=1, embedder=embedder)  # 8 and 7 (v2)
    assert [c for c, _ in get_index(engine).most_similar(engine, call[8])] == [call[7]]
    embed_on_demand(engine, call[1], neighbours=8, embedder=embedder)  # below the loaded ids
    nearest = {c for c, _ in most_similar(engine, call[1], k=2)}
    assert nearest <= {call[2], call[3], call[7], call[8]}  # refunds, not the weather


def test_the_dialog_offers_the_computation_then_lists_neighbours(engine, embedder):
    call = _store(engine)
    at = open_page("browse", call=str(call[1]), timeout=120)
    texts = " ".join(c.value for c in at.caption)
    assert "no other call has one" in texts
    assert "Embeds this call and the newest 200 calls of its model version" in texts
    button = next(b for b in at.button if b.label == "Compute similar calls")
    button.click().run()
    assert not at.exception
    table = next(df.value for df in at.dataframe if "similarity" in df.value.columns)
    assert set(table["call"]) == {call[n] for n in (2, 3, 4, 5, 6)}  # v1 (fewer than 200)
    assert set(list(table["call"])[:2]) == {call[2], call[3]}  # the refunds first
    at.run()  # the list stays open: the call is embedded now, its toggle on
    assert at.toggle(key=f"similar_{call[1]}").value is True
    assert any("similarity" in df.value.columns for df in at.dataframe)
