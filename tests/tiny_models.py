"""Tiny local models for tests: a random GPT-2 on disk, and plain callables (nothing downloads).

`save_tiny_gpt2(directory)` writes a 2-layer random GPT-2 with a word-level tokenizer (and a
chat template) that loads with `local_files_only=True`. The callables below are stand-ins
for a model behind an API, importable as `tests.tiny_models:<name>` (the Runs page form and
`evalboard run --callable` take such a reference).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # before transformers is imported
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

WORDS = ["the", "a", "cat", "dog", "sat", "on", "mat", "ran", "fast", "slow", "red", "blue",
         "big", "small", "hello", "world", "how", "are", "you"]
SPECIAL = ["<|endoftext|>", "[UNK]", "<|user|>", "<|assistant|>", "<|end|>"]
CHAT_TEMPLATE = (
    "{% for m in messages %}<|{{ m['role'] }}|> {{ m['content'] }} <|end|> {% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)


def build_tokenizer(chat_template: str | None = CHAT_TEMPLATE) -> Any:
    """A word-level tokenizer over WORDS (unknown words become [UNK])."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {token: i for i, token in enumerate(SPECIAL + WORDS)}
    backend = Tokenizer(models.WordLevel(vocab=vocab, unk_token="[UNK]"))
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend, eos_token="<|endoftext|>", pad_token="<|endoftext|>",
        unk_token="[UNK]", additional_special_tokens=SPECIAL[2:])
    tokenizer.chat_template = chat_template
    return tokenizer


def save_tiny_gpt2(directory: Path, *, chat_template: str | None = CHAT_TEMPLATE,
                   seed: int = 0) -> Path:
    """A random 2-layer GPT-2 and its tokenizer saved in `directory`; returns it."""
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    tokenizer = build_tokenizer(chat_template)
    torch.manual_seed(seed)
    config = GPT2Config(
        n_layer=2, n_head=2, n_embd=32, n_positions=128, vocab_size=len(tokenizer),
        bos_token_id=tokenizer.eos_token_id, eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id)
    GPT2LMHeadModel(config).save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


# ---------------------------------------------------------------- callables


def echo_model(prompt: Any) -> str:
    """Answers with the prompt (the last message's content for chat input)."""
    if isinstance(prompt, str):
        return f"echo: {prompt}"
    return f"echo: {prompt[-1]['content']}"
