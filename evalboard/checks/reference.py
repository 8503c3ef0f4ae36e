"""Reference-overlap checks: how close the output is to the case's reference output(s).

| check       | score                                          | default threshold        |
|-------------|------------------------------------------------|--------------------------|
| rouge       | rouge-score ROUGE-1/2/L/Lsum, best reference   | 0.75 (promptfoo rouge-n) |
| bleu        | sacrebleu sentence BLEU / 100, all references  | 0.5 (promptfoo bleu)     |
| chrf        | sacrebleu sentence chrF(++) / 100              | 0.5                      |
| exact_match | 1 when a normalised reference equals the output| none: passes on a match  |
| token_f1    | SQuAD token F1, best reference                 | 0.75                     |

The numbers are the libraries' own (rouge-score, sacrebleu), called directly: nothing is
downloaded. A case without a (non-blank) reference (and no `value`) is refused when it is
saved; one stored before gives an error result that says so.
"""

from __future__ import annotations

import re
import string
import unicodedata
from collections import Counter
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from evalboard.checks.base import CheckContext, CheckError, CheckOutcome, Param, register
from evalboard.checks.support import clip

if TYPE_CHECKING:
    from rouge_score.scoring import Score
    from sacrebleu.metrics import BLEU, CHRF

ROUGE_VARIANTS = ("rouge1", "rouge2", "rougeL", "rougeLsum")
ROUGE_MEASURES = ("precision", "recall", "fmeasure")
# sacrebleu tokenizers that need nothing beyond sacrebleu itself (spm/flores download models,
# ja-mecab/ko-mecab need extra packages).
BLEU_TOKENIZERS = ("13a", "intl", "zh", "char", "none")

# Scripts written without spaces between words: each character is one token.
UNSPACED_SCRIPTS = (
    "\u0e00-\u0eff"  # Thai, Lao
    "\u1000-\u109f"  # Myanmar
    "\u1780-\u17ff"  # Khmer
    "\u3040-\u30ff"  # Hiragana, Katakana
    "\u3100-\u312f"  # Bopomofo
    "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"  # CJK ideographs
    "\U00020000-\U0002fa1f"
)


# --- shared helpers (also used by the other check modules) ----------------------------------


VALUE_PARAM = Param("texts", doc="the reference text or list of texts, as promptfoo's `value` "
                    "(default: the case's reference outputs)")


def references(context: CheckContext, params: Mapping[str, Any]) -> list[str]:
    """The non-blank references: params["value"] if given, else the case's; CheckError when
    there is none."""
    value = params.get("value")
    if value is None:
        given: Sequence[Any] = context.references
    elif isinstance(value, str):
        given = [value]
    elif isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
        given = value
    else:
        raise CheckError("params.value", "expected a text or a list of texts")
    refs = [r for r in given if isinstance(r, str) and r.strip()]
    if not refs:
        where = "params.value has no text" if value is not None else "the case has none"
        raise CheckError("references", "compares the output with a reference output, and "
                         f"{where}: add a reference output to the case (or give params.value)")
    return refs


def needs_reference(params: Mapping[str, Any], case: CheckContext) -> None:
    """Save-time hook of every reference-based check: the case (or `value`) has a reference."""
    references(case, params)


def of_n(index: int, count: int) -> str:
    """', best: reference 2 of 3' when there are several references, else ''."""
    return f", best: reference {index + 1} of {count}" if count > 1 else ""


@lru_cache(maxsize=1)
def _token_re() -> re.Pattern[str]:
    """Words of letters/digits with their combining marks, or one CJK/Thai/... character."""
    marks, start, prev = [], -2, -2
    for code in range(0x300, 0x20000):
        if unicodedata.category(chr(code)) in ("Mn", "Mc", "Me"):
            if code != prev + 1:
                if start >= 0:
                    marks.append((start, prev))
                start = code
            prev = code
    marks.append((start, prev))
    mark_class = "".join(f"{chr(a)}-{chr(b)}" for a, b in marks)
    return re.compile(rf"[{UNSPACED_SCRIPTS}]|(?:[^\W_{UNSPACED_SCRIPTS}]|[{mark_class}])+")


def unicode_tokens(text: str) -> list[str]:
    """Lowercased tokens in any script: words, and single characters of unspaced scripts."""
    return _token_re().findall(text.lower())


class UnicodeTokenizer:
    """A rouge-score tokenizer that keeps non-Latin text (the default one drops it).

    Porter stemming, when asked for, applies to ASCII words longer than 3 characters, as in
    rouge-score's own tokenizer.
    """

    def __init__(self, use_stemmer: bool = False) -> None:
        self._stemmer = None
        if use_stemmer:
            from nltk.stem import porter

            self._stemmer = porter.PorterStemmer()

    def tokenize(self, text: str) -> list[str]:
        tokens = unicode_tokens(text)
        if self._stemmer is not None:
            stem = self._stemmer.stem
            tokens = [stem(t) if len(t) > 3 and t.isascii() else t for t in tokens]
        return tokens


# --- rouge ----------------------------------------------------------------------------------


@lru_cache(maxsize=8)
def _rouge_tokenizer(stemmer: bool, non_latin: bool) -> Any:
    if non_latin:
        return UnicodeTokenizer(stemmer)
    from rouge_score.tokenizers import DefaultTokenizer

    return DefaultTokenizer(stemmer)


@lru_cache(maxsize=32)
def _rouge_scorer(variant: str, stemmer: bool, non_latin: bool) -> Any:
    from rouge_score.rouge_scorer import RougeScorer

    return RougeScorer([variant], tokenizer=_rouge_tokenizer(stemmer, non_latin))


def lcs_length(a: Sequence[str], b: Sequence[str]) -> int:
    """Length of the longest common subsequence of two token lists.

    Bit-parallel (Allison-Dix / Hyyro): one big-integer step per token of the longer list,
    so a megabyte-long output against a short reference takes milliseconds, where the
    dynamic-programming table rouge-score builds for ROUGE-L takes seconds. Same number.
    """
    if len(a) > len(b):
        a, b = b, a
    masks: dict[str, int] = {}
    for i, token in enumerate(a):
        masks[token] = masks.get(token, 0) | (1 << i)
    full = (1 << len(a)) - 1
    v = full
    for token in b:
        match = masks.get(token)
        if match:
            u = v & match
            v = ((v + u) | (v - u)) & full
    return len(a) - v.bit_count()


def rouge_score(reference: str, output: str, variant: str = "rougeL", stemmer: bool = False,
                non_latin: bool = False) -> Score:
    """rouge-score's Score (precision, recall, fmeasure) of `output` against `reference`."""
    if variant != "rougeL":
        return _rouge_scorer(variant, stemmer, non_latin).score(reference, output)[variant]
    from rouge_score import scoring

    tokenize = _rouge_tokenizer(stemmer, non_latin).tokenize
    ref_tokens, out_tokens = tokenize(reference), tokenize(output)
    if not ref_tokens or not out_tokens:
        return scoring.Score(precision=0, recall=0, fmeasure=0)
    lcs = lcs_length(ref_tokens, out_tokens)
    precision, recall = lcs / len(out_tokens), lcs / len(ref_tokens)
    return scoring.Score(precision=precision, recall=recall,
                         fmeasure=scoring.fmeasure(precision, recall))


@register(
    "rouge",
    category="reference",
    params={
        "value": VALUE_PARAM,
        "variant": Param("str", default="rougeL", choices=ROUGE_VARIANTS,
                         doc="rouge1, rouge2, rougeL or rougeLsum (sentences split on newlines)"),
        "measure": Param("str", default="fmeasure", choices=ROUGE_MEASURES,
                         doc="precision, recall or fmeasure"),
        "stemmer": Param("bool", default=False, doc="Porter-stem English words first"),
        "non_latin": Param("bool", default=False,
                           doc="keep non-Latin text (rouge-score's tokenizer drops it): words "
                               "of any script, one token per CJK/Thai character"),
    },
    default_threshold=0.75,
    validate_case=needs_reference,
)
def rouge(output: str, params: Mapping[str, Any], context: CheckContext) -> CheckOutcome:
    """ROUGE (rouge-score) of the output against the best-matching reference."""
    variant, measure = params["variant"], params["measure"]
    refs = references(context, params)
    scores = [getattr(rouge_score(ref, output, variant, bool(params.get("stemmer")),
                                  bool(params.get("non_latin"))), measure) for ref in refs]
    best = max(range(len(refs)), key=scores.__getitem__)
    reason = f"{variant} {measure}{of_n(best, len(refs))}"
    if not output.strip():
        reason = f"empty output; {reason}"
    elif scores[best] == 0 and not params.get("non_latin") and not all(
            _rouge_tokenizer(False, False).tokenize(text) for text in (output, refs[best])):
        reason += "; rouge-score's tokenizer keeps only a-z and 0-9: set non_latin: true"
    return CheckOutcome(scores[best] > 0, scores[best], reason)


# --- bleu, chrf -----------------------------------------------------------------------------


@lru_cache(maxsize=16)
def _bleu(lowercase: bool, tokenize: str) -> BLEU:
    from sacrebleu.metrics import BLEU

    # The same settings as sacrebleu.sentence_bleu, kept between calls.
    return BLEU(lowercase=lowercase, tokenize=tokenize, effective_order=True)


@lru_cache(maxsize=16)
def _chrf(word_order: int, lowercase: bool) -> CHRF:
    from sacrebleu.metrics import CHRF

    return CHRF(word_order=word_order, lowercase=lowercase)


@register(
    "bleu",
    category="reference",
    params={
        "value": VALUE_PARAM,
        "lowercase": Param("bool", default=True,
                           doc="compare case-insensitively (as promptfoo's bleu does)"),
        "tokenize": Param("str", default="13a", choices=BLEU_TOKENIZERS,
                          doc="sacrebleu tokenizer: 13a, intl, zh, char or none"),
    },
    default_threshold=0.5,
    validate_case=needs_reference,
)
def bleu(output: str, params: Mapping[str, Any], context: CheckContext) -> CheckOutcome:
    """Sentence BLEU (sacrebleu, exp smoothing) against all references at once, scaled to 0-1."""
    tokenize = params["tokenize"]
    refs = references(context, params)
    result = _bleu(bool(params.get("lowercase")), tokenize).sentence_score(output, refs)
    refs_note = f" against {len(refs)} references" if len(refs) > 1 else ""
    return CheckOutcome(result.score > 0, result.score / 100,
                        f"BLEU {result.score:.1f}{refs_note}")


@register(
    "chrf",
    category="reference",
    params={
        "value": VALUE_PARAM,
        "word_order": Param("int", default=0, choices=(0, 1, 2),
                            doc="0 for chrF, 2 for chrF++ (word bigrams)"),
        "lowercase": Param("bool", default=False, doc="compare case-insensitively"),
    },
    default_threshold=0.5,
    validate_case=needs_reference,
)
def chrf(output: str, params: Mapping[str, Any], context: CheckContext) -> CheckOutcome:
    """Sentence chrF / chrF++ (sacrebleu) against the references, scaled to 0-1."""
    word_order = params["word_order"]
    refs = references(context, params)
    result = _chrf(word_order, bool(params.get("lowercase"))).sentence_score(output, refs)
    name = "chrF++" if word_order else "chrF"
    refs_note = f" against the best of {len(refs)} references" if len(refs) > 1 else ""
    return CheckOutcome(result.score > 0, result.score / 100,
                        f"{name} {result.score:.1f}{refs_note}")


# --- exact_match, token_f1 ------------------------------------------------------------------

_ARTICLES = re.compile(r"\b(?:a|an|the)\b", re.IGNORECASE)


class _PunctuationTable(dict[int, int | None]):
    """str.translate table deleting ASCII and Unicode punctuation, filled as characters come."""

    _ascii = frozenset(map(ord, string.punctuation))

    def __missing__(self, code: int) -> int | None:
        drop = code in self._ascii or unicodedata.category(chr(code)).startswith("P")
        self[code] = None if drop else code
        return self[code]


_PUNCTUATION = _PunctuationTable()

NORMALISE_PARAMS = {
    "lowercase": Param("bool", default=True, doc="ignore case"),
    "strip_punctuation": Param("bool", default=True,
                               doc="drop punctuation (ASCII and Unicode), as SQuAD does"),
    "strip_articles": Param("bool", default=True, doc="drop the English articles a, an, the"),
    "collapse_whitespace": Param("bool", default=True,
                                 doc="trim and turn every run of whitespace into one space"),
}


def normalise(text: str, params: Mapping[str, Any]) -> str:
    """SQuAD-style answer normalisation; each step can be turned off in `params`."""
    if params.get("lowercase", True):
        text = text.lower()
    if params.get("strip_punctuation", True):
        text = text.translate(_PUNCTUATION)
    if params.get("strip_articles", True):
        text = _ARTICLES.sub(" ", text)
    if params.get("collapse_whitespace", True):
        text = " ".join(text.split())
    return text


@register("exact_match", category="reference", validate_case=needs_reference,
          params={"value": VALUE_PARAM, **NORMALISE_PARAMS})
def exact_match(output: str, params: Mapping[str, Any], context: CheckContext) -> CheckOutcome:
    """The output equals a reference after normalisation (SQuAD style by default)."""
    refs = references(context, params)
    got = normalise(output, params)
    for index, ref in enumerate(refs):
        if normalise(ref, params) == got:
            which = f" {index + 1} of {len(refs)}" if len(refs) > 1 else ""
            return CheckOutcome(True, 1.0, f"matches the reference{which}")
    expected = normalise(refs[0], params)
    others = f" (and {len(refs) - 1} other references)" if len(refs) > 1 else ""
    return CheckOutcome(False, 0.0, f"{clip(got)} differs from {clip(expected)}{others}")


def token_f1_score(output_tokens: Sequence[str], reference_tokens: Sequence[str]) -> float:
    """SQuAD token F1: harmonic mean of token precision and recall (bags of tokens)."""
    if not output_tokens or not reference_tokens:
        return float(list(output_tokens) == list(reference_tokens))
    same = sum((Counter(output_tokens) & Counter(reference_tokens)).values())
    if same == 0:
        return 0.0
    precision, recall = same / len(output_tokens), same / len(reference_tokens)
    return 2 * precision * recall / (precision + recall)


@register(
    "token_f1",
    category="reference",
    params={
        "value": VALUE_PARAM,
        **NORMALISE_PARAMS,
        "non_latin": Param("bool", default=False,
                           doc="split words of any script and each CJK/Thai character "
                               "(default: split on whitespace, as SQuAD does)"),
    },
    default_threshold=0.75,
    validate_case=needs_reference,
)
def token_f1(output: str, params: Mapping[str, Any], context: CheckContext) -> CheckOutcome:
    """SQuAD-style token F1 against the best-matching reference."""
    split = unicode_tokens if params.get("non_latin") else str.split
    refs = references(context, params)
    out_tokens = split(normalise(output, params))
    scores = [token_f1_score(out_tokens, split(normalise(ref, params))) for ref in refs]
    best = max(range(len(refs)), key=scores.__getitem__)
    return CheckOutcome(scores[best] > 0, scores[best], f"token F1{of_n(best, len(refs))}")
