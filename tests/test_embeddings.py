"""Embeddings and "find similar calls": the real MiniLM (loaded once per module), offline."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from typing import Any

import numpy as np
import pytest
from sqlalchemy import Engine, delete, select

from evalboard.similarity.embeddings import (
    DIM,
    MODEL_NAME,
    Embedder,
    count_missing,
    embed_calls,
    embed_missing,
    from_blobs,
    get_embedder,
    input_for_embedding,
)
from evalboard.similarity.similar import Field, SimilarityIndex, combine, get_index, most_similar
from evalboard.store.engine import write_connection
from evalboard.store.ids import IdPool
from evalboard.store.models import Call
from evalboard.store.records import normalize_call
from evalboard.store.review_models import CallEmbedding
from evalboard.store.writes import write_calls
from tests.support.calls import add_calls, make_rows
from tests.support.marks import sqlite_only

os.environ["HF_HUB_OFFLINE"] = "1"  # before transformers is imported: any download would fail

REFUNDS = [
    "How do I get a refund for my order?",
    "I want my money back for the broken blender I bought.",
    "Can you return the payment for my cancelled purchase?",
]
WEATHER = "Will it rain in Paris tomorrow afternoon?"
SYSTEM_PROMPT = (
    "You are the support assistant of an online shop. Be polite and brief, never promise "
    "anything the policy does not allow, and answer in the customer's language. " * 8
)
SCALE_N = 100_000


@pytest.fixture(autouse=True)
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")


@pytest.fixture(scope="module")
def embedder() -> Embedder:
    return get_embedder()


def call_ids(engine: Engine) -> list[int]:
    with engine.connect() as conn:
        return list(conn.scalars(select(Call.id).order_by(Call.id)))


def stored_rows(engine: Engine) -> list[Any]:
    with engine.connect() as conn:
        return conn.execute(select(CallEmbedding).order_by(CallEmbedding.call_id)).all()


def random_unit(n: int, seed: int) -> np.ndarray:
    m = np.random.default_rng(seed).random((n, DIM), dtype=np.float32) - 0.5
    return m / np.linalg.norm(m, axis=1, keepdims=True)


def insert_vectors(engine: Engine, inputs: np.ndarray, outputs: np.ndarray) -> None:
    """Calls 1..n with the given vectors stored straight into call_embeddings (no model)."""
    n = len(inputs)
    with write_connection(engine) as conn:
        conn.exec_driver_sql(
            "INSERT INTO model_versions (id, name, created_at) VALUES (1, 'v1', '2026-01-01')"
        )
        conn.exec_driver_sql(
            "WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < ?) "
            "INSERT INTO calls (id, created_at, model_version_id, source, input_text) "
            "SELECT i, '2026-01-01', 1, 'eval', '' FROM s",
            (n,),
        )
        conn.exec_driver_sql(
            "INSERT INTO call_embeddings (call_id, model, input_vector, output_vector, created_at)"
            " VALUES (?, ?, ?, ?, '2026-01-01')",
            [(i + 1, MODEL_NAME, inputs[i].tobytes(), outputs[i].tobytes()) for i in range(n)],
        )


def expected_top(matrix: np.ndarray, query_id: int, k: int) -> list[int]:
    scores = matrix @ matrix[query_id - 1]
    order = [int(i) + 1 for i in np.argsort(-scores, kind="stable")]
    return [c for c in order if c != query_id][:k]


# -- the model -----------------------------------------------------------------------------


def test_vectors_are_384d_normalised_and_empty_text_is_zero(embedder: Embedder) -> None:
    long_text = "refund " * 5000
    vectors = embedder.embed(["hello world", "", None, "   ", long_text, REFUNDS[0]])
    assert vectors.shape == (6, DIM) and vectors.dtype == np.float32
    norms = np.linalg.norm(vectors, axis=1)
    np.testing.assert_allclose(norms[[0, 4, 5]], 1.0, atol=1e-5)
    assert not vectors[1:4].any()
    # Padding inside a batch does not change a text's vector.
    np.testing.assert_allclose(embedder.embed([REFUNDS[0]])[0], vectors[5], atol=1e-5)


def chat(question: str) -> list[dict[str, str]]:
    return [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": question}]


def test_a_chat_input_is_embedded_by_its_last_user_turn() -> None:
    messages = [*chat("first question"), {"role": "assistant", "content": "an answer"},
                {"role": "user", "content": "second question"}]
    assert input_for_embedding("the transcript", messages) == "second question"
    assert input_for_embedding("a prompt", None) == "a prompt"
    assert input_for_embedding("only system", messages[:1]) == "only system"


def test_similar_texts_rank_above_unrelated_ones(engine: Engine, embedder: Embedder) -> None:
    # The chats share a long system prompt: only their questions may decide.
    inputs = [REFUNDS[0], chat(REFUNDS[1]), REFUNDS[2], chat(WEATHER)]
    add_calls(engine, [{"input": i, "output": "ok"} for i in inputs])
    assert embed_missing(engine, embedder=embedder) == 4
    ids = call_ids(engine)
    index = SimilarityIndex("input", embedder=embedder)
    result = index.most_similar(engine, ids[0], k=3)
    assert sorted(c for c, _ in result[:2]) == ids[1:3]
    assert result[-1][0] == ids[3]
    assert result[1][1] > result[2][1] + 0.2


# -- embedding the store -------------------------------------------------------------------


def test_embed_missing_embeds_only_new_calls(engine: Engine, embedder: Embedder) -> None:
    add_calls(engine, make_rows(5))
    batches: list[int] = []
    assert embed_missing(engine, batch_size=2, progress=batches.append, embedder=embedder) == 5
    assert batches == [2, 2, 1]
    assert embed_missing(engine, embedder=embedder) == 0
    add_calls(engine, [{"input": "a new prompt", "output": None}])
    assert count_missing(engine) == 1
    assert embed_missing(engine, embedder=embedder) == 1
    rows = stored_rows(engine)
    assert [r.call_id for r in rows] == call_ids(engine)
    assert {r.model for r in rows} == {MODEL_NAME}
    assert all(len(r.input_vector) == len(r.output_vector) == DIM * 4 for r in rows)
    expected = embedder.embed(["prompt number 0", "answer number 0"])
    np.testing.assert_allclose(from_blobs([rows[0].input_vector, rows[0].output_vector]),
                               expected, atol=1e-5)
    assert not from_blobs([rows[-1].output_vector]).any()  # no output: the zero vector


def test_a_killed_run_keeps_its_batches_and_the_next_one_resumes(
    engine: Engine, embedder: Embedder
) -> None:
    add_calls(engine, make_rows(7))

    def die_after_first_batch(_: int) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        embed_missing(engine, batch_size=3, progress=die_after_first_batch, embedder=embedder)
    assert count_missing(engine) == 4
    assert embed_missing(engine, batch_size=3, limit=2, embedder=embedder) == 2
    assert embed_missing(engine, batch_size=3, embedder=embedder) == 2
    assert count_missing(engine) == 0


def test_embed_calls_embeds_just_the_named_calls(engine: Engine, embedder: Embedder) -> None:
    add_calls(engine, make_rows(4))
    ids = call_ids(engine)
    assert embed_calls(engine, [ids[1], ids[3], 999_999], embedder=embedder) == 2
    assert embed_calls(engine, [ids[1]], embedder=embedder) == 0
    assert [r.call_id for r in stored_rows(engine)] == [ids[1], ids[3]]


# -- the index -----------------------------------------------------------------------------


@sqlite_only
def test_most_similar_excludes_the_query_call_and_respects_k(engine: Engine) -> None:
    vectors = random_unit(50, seed=1)
    insert_vectors(engine, vectors, vectors)
    index = SimilarityIndex("output")
    result = index.most_similar(engine, 7, k=5)
    assert len(result) == 5 and 7 not in [c for c, _ in result]
    assert [c for c, _ in result] == expected_top(vectors, 7, 5)
    assert [s for _, s in result] == sorted((s for _, s in result), reverse=True)
    with_self = index.most_similar(engine, 7, k=5, exclude_same_call=False)
    assert with_self[0][0] == 7 and with_self[0][1] == pytest.approx(1.0, abs=1e-5)
    assert len(index.most_similar(engine, 7, k=500)) == 49
    with pytest.raises(ValueError):
        index.most_similar(engine, 7, k=0)
    with pytest.raises(LookupError):
        index.most_similar(engine, 123_456)


def test_both_is_the_renormalised_mean_and_an_empty_side_counts_for_nothing() -> None:
    inputs, outputs = random_unit(3, seed=2), random_unit(3, seed=3)
    outputs[2] = 0
    both = combine(inputs, outputs)
    expected = (inputs[0] + outputs[0]) / np.linalg.norm(inputs[0] + outputs[0])
    np.testing.assert_allclose(both[0], expected, atol=1e-6)
    np.testing.assert_allclose(both[2], inputs[2], atol=1e-6)
    assert not combine(np.zeros((1, DIM), np.float32), np.zeros((1, DIM), np.float32)).any()


def test_the_index_picks_up_calls_embedded_after_it_was_built(
    engine: Engine, embedder: Embedder
) -> None:
    early, late = IdPool(engine, block_size=10), IdPool(engine, block_size=10)
    late.take()  # `late` holds ids 1-10; `early` will get ids 11-20

    def write(pool: IdPool, inputs: list[str]) -> None:
        write_calls(engine, [normalize_call(input=t, output=t) for t in inputs], pool)

    write(early, REFUNDS[:2])
    embed_missing(engine, embedder=embedder)
    index = SimilarityIndex("both", embedder=embedder)
    assert index.refresh(engine) == 2 and index.max_call_id == 12

    write(early, [REFUNDS[2]])  # a higher id: read by the cheap tail query
    write(late, [WEATHER])  # a lower id, written later: found by the count check
    embed_missing(engine, embedder=embedder)
    assert index.refresh(engine) == 1 and len(index) == 3
    assert index.refresh(engine, full=True) == 1 and len(index) == 4
    result = [c for c, _ in index.most_similar(engine, 11, k=3)]
    assert sorted(result[:2]) == [12, 13] and result[2] == 2

    with write_connection(engine) as conn:
        conn.execute(delete(Call).where(Call.id == 13))
    index.refresh(engine, full=True)
    assert len(index) == 3 and 13 not in [c for c, _ in index.most_similar(engine, 11)]


def test_an_unembedded_query_call_is_embedded_on_demand(
    engine: Engine, embedder: Embedder
) -> None:
    add_calls(engine, [{"input": "q", "output": text} for text in REFUNDS[:2]])
    embed_missing(engine, embedder=embedder)
    index = SimilarityIndex("output", embedder=embedder)
    index.refresh(engine)
    add_calls(engine, [{"input": "q", "output": REFUNDS[2]}])
    new_id = call_ids(engine)[-1]
    assert count_missing(engine) == 1
    result = index.most_similar(engine, new_id, k=5)
    assert count_missing(engine) == 0
    assert sorted(c for c, _ in result) == call_ids(engine)[:2]
    assert new_id in [c for c, _ in index.most_similar(engine, call_ids(engine)[0])]


@sqlite_only
def test_most_similar_shares_one_index_per_engine_and_field(engine: Engine) -> None:
    inputs, outputs = random_unit(30, seed=4), random_unit(30, seed=5)
    insert_vectors(engine, inputs, outputs)
    assert most_similar(engine, 3, k=4) == get_index(engine).most_similar(engine, 3, k=4)
    assert get_index(engine) is get_index(engine, "output")
    assert get_index(engine, "input") is not get_index(engine, "output")
    cases: list[tuple[Field, np.ndarray]] = [
        ("output", outputs), ("input", inputs), ("both", combine(inputs, outputs))
    ]
    for field, vectors in cases:
        found = most_similar(engine, 3, k=4, field=field)
        assert [c for c, _ in found] == expected_top(vectors, 3, 4), field


@sqlite_only
def test_search_at_100k_calls_matches_numpy(engine: Engine) -> None:
    outputs = random_unit(SCALE_N, seed=5)
    insert_vectors(engine, outputs[::-1], outputs)
    index = SimilarityIndex("output")
    assert index.refresh(engine) == SCALE_N
    for query_id in (1, 4242, SCALE_N):
        result = index.most_similar(engine, query_id, k=10)
        assert [c for c, _ in result] == expected_top(outputs, query_id, 10)
        scores = outputs @ outputs[query_id - 1]
        np.testing.assert_allclose([s for _, s in result],
                                   [scores[c - 1] for c, _ in result], atol=1e-5)


# -- light imports and the command ---------------------------------------------------------


def test_importing_evalboard_does_not_import_torch() -> None:
    code = (
        "import sys, evalboard, evalboard.similarity.embeddings, evalboard.similarity.similar\n"
        "import evalboard.cli.main\n"
        "assert 'torch' not in sys.modules and 'transformers' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


@pytest.mark.skipif(shutil.which("evalboard") is None, reason="evalboard is not installed")
def test_embed_command(engine: Engine, db_url: str, embedder: Embedder) -> None:
    add_calls(engine, make_rows(5))
    embed_calls(engine, call_ids(engine)[:2], embedder=embedder)
    done = subprocess.run(
        [shutil.which("evalboard") or "evalboard", "embed", "--db", db_url,
         "--batch-size", "1", "--limit", "2"],
        capture_output=True, text=True, timeout=120,
        env={**os.environ, "EVALBOARD_DB_URL": "sqlite:///nowhere/else.db"},
    )
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    assert done.stdout.strip() == "embedded 2 calls; 2 already had embeddings"
    assert count_missing(engine) == 1
