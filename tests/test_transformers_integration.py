"""The transformers integration, on a tiny random GPT-2 built locally (nothing is downloaded)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import evalboard
from evalboard.client.connection import Evalboard
from evalboard.integrations.transformers import LoggedPipeline, from_model, log_pipeline
from evalboard.store.calls_query import CallFilter, get_call, iter_calls
from evalboard.store.models import Call
from evalboard.store.records import messages_to_text

os.environ["HF_HUB_OFFLINE"] = "1"  # before transformers is imported: any download would fail

WORDS = ["the", "a", "cat", "dog", "sat", "on", "mat", "ran", "fast", "slow", "red", "blue"]
WORDS += ["big", "small", "hello", "world", "how", "are", "you"]
SPECIAL = ["<|endoftext|>", "[UNK]", "<|user|>", "<|assistant|>", "<|end|>"]
CHAT_TEMPLATE = (
    "{% for m in messages %}<|{{ m['role'] }}|> {{ m['content'] }} <|end|> {% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)
GREEDY = {"max_new_tokens": 5, "do_sample": False}
CHAT = [
    {"role": "system", "content": "you are a cat"},
    {"role": "user", "content": "hello how are you"},
]


@pytest.fixture(autouse=True)
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")


def build_tokenizer(chat_template: str | None = CHAT_TEMPLATE) -> Any:
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {token: i for i, token in enumerate(SPECIAL + WORDS)}
    backend = Tokenizer(models.WordLevel(vocab=vocab, unk_token="[UNK]"))
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend,
        eos_token="<|endoftext|>",
        pad_token="<|endoftext|>",
        unk_token="[UNK]",
        additional_special_tokens=SPECIAL[2:],
    )
    tokenizer.chat_template = chat_template
    return tokenizer


@pytest.fixture
def model_dir(tmp_path: Path) -> Path:
    """A random 2-layer GPT-2 and a word-level tokenizer with a chat template, on disk."""
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    tokenizer = build_tokenizer()
    torch.manual_seed(0)
    config = GPT2Config(
        n_layer=2,
        n_head=2,
        n_embd=32,
        n_positions=64,
        vocab_size=len(tokenizer),
        bos_token_id=tokenizer.eos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    directory = tmp_path / "tiny-gpt2-v1"
    GPT2LMHeadModel(config).save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


@pytest.fixture
def client(tmp_path: Path) -> Iterator[Evalboard]:
    with evalboard.connect(f"sqlite:///{tmp_path / 'e.db'}", mode="sync") as board:
        yield board


@pytest.fixture
def logged(model_dir: Path, client: Evalboard) -> LoggedPipeline:
    return from_model(model_dir, client=client, model_version="tiny-v1", **GREEDY)


def all_calls(board: Evalboard) -> list[dict[str, Any]]:
    return list(iter_calls(board.engine, CallFilter()))


def stored(board: Evalboard, call_id: int) -> Call:
    call = get_call(board.engine, call_id)
    assert call is not None
    return call


def completion_tokens(tokenizer: Any, text: str) -> int:
    return len(tokenizer(text, add_special_tokens=False)["input_ids"])


def test_prompt_is_logged_with_version_latency_and_token_counts(
    logged: LoggedPipeline, client: Evalboard
) -> None:
    text = logged("the cat sat")

    assert isinstance(text, str) and text.strip()
    assert not text.startswith("the cat sat")  # new text only
    [row] = all_calls(client)
    call = stored(client, row["id"])
    assert call.model_version.name == "tiny-v1"
    assert call.source == "production"
    assert call.input_text == "the cat sat" and call.input_messages is None
    assert call.output == text
    assert call.error is None
    assert call.latency_ms is not None and call.latency_ms > 0
    tokenizer = logged.tokenizer
    assert call.prompt_tokens == len(tokenizer("the cat sat")["input_ids"]) == 3
    assert call.completion_tokens == completion_tokens(tokenizer, text)
    assert 0 < call.completion_tokens <= GREEDY["max_new_tokens"]
    assert call.total_tokens == call.prompt_tokens + call.completion_tokens
    assert call.meta == {"generation": GREEDY}


def test_call_kwargs_override_defaults_and_land_in_metadata(
    logged: LoggedPipeline, client: Evalboard
) -> None:
    [generation] = logged.generate(
        "a dog ran", max_new_tokens=2, metadata={"ticket": "T-1"}, session_id="s-1"
    )

    call = stored(client, generation.call_id)
    assert call.output == generation.text
    assert call.completion_tokens == generation.completion_tokens <= 2
    assert call.meta == {"ticket": "T-1", "generation": {"max_new_tokens": 2, "do_sample": False}}
    assert call.session_id == "s-1"


def test_chat_input_is_stored_as_messages_with_chat_template_tokens(
    logged: LoggedPipeline, client: Evalboard
) -> None:
    tokenizer = logged.tokenizer
    # a random tiny model repeats its last token; keep it off the special tokens
    text = logged(CHAT, suppress_tokens=tokenizer.all_special_ids)

    [row] = all_calls(client)
    call = stored(client, row["id"])
    assert call.input_messages == CHAT
    assert call.input_text == messages_to_text(CHAT)
    assert call.output == text and text.strip()
    templated = tokenizer.apply_chat_template(
        CHAT, add_generation_prompt=True, tokenize=True, return_dict=False
    )
    assert call.prompt_tokens == len(templated)
    assert call.prompt_tokens != len(tokenizer(messages_to_text(CHAT))["input_ids"])
    assert call.completion_tokens == completion_tokens(tokenizer, text)
    assert call.meta["generation"]["suppress_tokens"] == tokenizer.all_special_ids


def test_chat_without_template_counts_flattened_text_and_logs_the_error(
    model_dir: Path, client: Evalboard
) -> None:
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(model_dir, local_files_only=True)
    tokenizer = build_tokenizer(chat_template=None)
    logged = from_model(model, tokenizer, client=client, model_version="no-template", **GREEDY)

    with pytest.raises(ValueError, match="chat template"):
        logged(CHAT)

    [row] = all_calls(client)
    assert row["model_version"] == "no-template"
    assert row["input"] == CHAT
    assert row["error"].startswith("ValueError:")
    assert row["output"] is None
    assert row["prompt_tokens"] == len(tokenizer(messages_to_text(CHAT))["input_ids"])


def test_batch_logs_one_call_per_item(logged: LoggedPipeline, client: Evalboard) -> None:
    prompts: list[Any] = ["the cat", "a dog ran", CHAT]

    texts = logged(prompts)

    assert isinstance(texts, list) and len(texts) == 3
    assert all(isinstance(text, str) for text in texts)
    rows = all_calls(client)
    assert [row["input"] for row in rows] == prompts
    assert [row["output"] for row in rows] == texts
    for row, prompt in zip(rows, prompts, strict=True):
        assert row["latency_ms"] > 0
        assert row["prompt_tokens"] == logged.count_prompt_tokens(prompt)
        assert row["completion_tokens"] == completion_tokens(logged.tokenizer, row["output"])
        assert "batch" not in row["metadata"]  # timed one by one
    assert logged([]) == []
    assert len(all_calls(client)) == 3


def test_pipeline_batching_splits_the_batch_latency(
    logged: LoggedPipeline, client: Evalboard
) -> None:
    texts = logged(["the cat", "a dog ran", "hello world"], batch_size=2)

    rows = all_calls(client)
    assert [row["output"] for row in rows] == texts
    total = rows[0]["metadata"]["batch"]["latency_ms"]
    for row in rows:
        assert row["metadata"]["batch"] == {"size": 3, "latency_ms": total}
        assert row["latency_ms"] == pytest.approx(total / 3)
        assert row["metadata"]["generation"]["batch_size"] == 2


def test_several_sequences_per_prompt_are_several_calls(
    logged: LoggedPipeline, client: Evalboard
) -> None:
    texts = logged("the cat", num_beams=2, num_return_sequences=2)

    assert isinstance(texts, list) and len(texts) == 2
    rows = all_calls(client)
    assert [row["output"] for row in rows] == texts
    assert [row["metadata"]["sequence"] for row in rows] == [0, 1]
    assert {row["prompt_tokens"] for row in rows} == {2}


def test_bad_generation_kwarg_is_logged_as_error_and_raised(
    logged: LoggedPipeline, client: Evalboard
) -> None:
    with pytest.raises(ValueError, match="not_a_generation_kwarg"):
        logged("the cat sat", not_a_generation_kwarg=1)

    [row] = all_calls(client)
    assert row["input"] == "the cat sat"
    assert row["output"] is None
    assert row["error"].startswith("ValueError:") and "not_a_generation_kwarg" in row["error"]
    assert row["model_version"] == "tiny-v1"
    assert row["prompt_tokens"] == 3 and row["completion_tokens"] is None
    assert row["metadata"]["generation"]["not_a_generation_kwarg"] == 1


def test_failing_generation_in_a_pipeline_batch_logs_every_item(
    logged: LoggedPipeline, client: Evalboard, monkeypatch: pytest.MonkeyPatch
) -> None:
    def out_of_memory(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("CUDA out of memory (simulated)")

    monkeypatch.setattr(logged.pipe.model, "generate", out_of_memory)

    with pytest.raises(RuntimeError, match="simulated"):
        logged(["the cat", "a dog"], batch_size=2)

    rows = all_calls(client)
    assert [row["input"] for row in rows] == ["the cat", "a dog"]
    assert {row["error"] for row in rows} == {"RuntimeError: CUDA out of memory (simulated)"}
    assert all(row["latency_ms"] is not None for row in rows)


def test_reserved_kwargs_are_refused_before_anything_is_logged(
    logged: LoggedPipeline, client: Evalboard
) -> None:
    with pytest.raises(TypeError, match="return_full_text"):
        logged("the cat", return_full_text=True)
    with pytest.raises(TypeError, match="prompt string"):
        logged(42)  # type: ignore[arg-type]
    assert all_calls(client) == []


def test_batch_mode_client_writes_on_flush(model_dir: Path, tmp_path: Path) -> None:
    from transformers import pipeline

    board = evalboard.connect(
        f"sqlite:///{tmp_path / 'e.db'}",
        mode="batch",
        model_version="client-default",
        dead_letter=tmp_path / "unwritten.jsonl",
    )
    try:
        pipe = pipeline("text-generation", model=str(model_dir), device="cpu")
        logged = log_pipeline(pipe, board, **GREEDY)
        generations = logged.generate(["the cat", "hello world"])
        board.flush()
        rows = all_calls(board)
    finally:
        board.close()

    assert [row["id"] for row in rows] == [g.call_id for g in generations]
    assert [row["output"] for row in rows] == [g.text for g in generations]
    assert {row["model_version"] for row in rows} == {"client-default"}
    assert not (tmp_path / "unwritten.jsonl").exists()


def test_from_model_defaults_the_version_to_the_directory_name(
    model_dir: Path, client: Evalboard
) -> None:
    logged = from_model(model_dir, client=client, **GREEDY)

    [generation] = logged.generate("the cat")

    assert stored(client, generation.call_id).model_version.name == "tiny-gpt2-v1"
    assert logged.pipe.device.type == "cpu"


def test_from_model_never_downloads(client: Evalboard, tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="local models only"):
        from_model("gpt2", client=client)
    with pytest.raises(FileNotFoundError):
        from_model(tmp_path / "missing", client=client)


def test_importing_the_integration_does_not_import_transformers() -> None:
    code = (
        "import sys, evalboard, evalboard.integrations.transformers; "
        "print(sorted(m for m in ('transformers', 'torch', 'streamlit') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "[]"
