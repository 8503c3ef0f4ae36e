"""Output-quality checks: garbled text and the language of the output.

- `garbled` passes when the output is NOT garbled. It looks for degenerate repetition
  (repeated word 4-grams, repeated lines, a short unit looping), U+FFFD replacement and
  control characters, mojibake ("Ã©", "â€™": UTF-8 read as Latin-1/cp1252), leaked special
  tokens ("<|eot_id|>", "[/INST]") and runaway length. The score starts at 1; repetition
  costs its repeated share, every other kind of problem 0.5.
- `language` passes when langdetect (seeded, so deterministic) finds the expected language;
  the score is langdetect's probability for it.
"""

from __future__ import annotations

import os
import re
import unicodedata
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from evalboard.checks.base import CheckContext, CheckError, CheckOutcome, Param, register
from evalboard.checks.reference import UNSPACED_SCRIPTS, unicode_tokens

# Special tokens of common chat templates; `<|...|>` covers the Llama 3, ChatML, GPT, Phi
# families.
_SPECIAL = re.compile(
    r"<\|[A-Za-z0-9_:.\- ]{1,40}\|>|\[/?INST\]|<</?SYS>>|</s>|<(?:start|end)_of_turn>"
    r"|<(?:eos|bos|pad|unk)>|\[(?:PAD|CLS|SEP|MASK|UNK)\]"
)
# UTF-8 bytes shown as cp1252/Latin-1: a lead byte (Ã, Â for U+0080-U+00FF; â for U+2000-
# U+2FFF as in â€™; ï»¿ for the BOM) followed by what continuation bytes 0x80-0xBF become.
_CONTINUATION = "\u0080-\u00bf\u0152\u0153\u0160\u0161\u0178\u017d\u017e\u0192\u02c6\u02dc" \
    "\u2013\u2014\u2018-\u201a\u201c-\u201e\u2020-\u2022\u2026\u2030\u2039\u203a\u20ac\u2122"
_MOJIBAKE = re.compile(rf"[\u00c2\u00c3][{_CONTINUATION}]|\u00e2[{_CONTINUATION}]{{2}}"
                       r"|\u00ef\u00bb\u00bf")
# A unit of 1 to 10 characters repeated 30 times or more in a row ("hahaha...", "a a a ...").
_LOOP = re.compile(r"(.{1,10}?)\1{29,}", re.DOTALL)
_ALLOWED_CONTROLS = frozenset("\n\r\t")
NGRAM = 4
MIN_NGRAMS = 20  # fewer n-grams than this say nothing about repetition
MIN_LINES = 4
MIN_LINE_CHARS = 10  # shorter lines ("}", "---", "- yes") repeat legitimately


def _bad_characters(text: str) -> tuple[int, int]:
    """(U+FFFD replacement characters, control/private-use/surrogate characters).

    Unassigned code points are not counted: emoji newer than Python's Unicode tables are.
    """
    bad = {ch for ch in set(text) if ch not in _ALLOWED_CONTROLS
           and unicodedata.category(ch) in ("Cc", "Cs", "Co")}
    control = sum(text.count(ch) for ch in bad)
    return text.count("\ufffd"), control


def ngram_repetition(tokens: list[str], n: int = NGRAM) -> float:
    """Share of the n-grams that repeat an earlier one (0 when there are too few)."""
    total = len(tokens) - n + 1
    if total < MIN_NGRAMS:
        return 0.0
    unique = len({tuple(tokens[i : i + n]) for i in range(total)})
    return 1 - unique / total


def line_repetition(text: str) -> float:
    """Share of the substantial lines that repeat an earlier one."""
    lines = [line.strip() for line in text.splitlines()]
    lines = [line for line in lines if len(line) >= MIN_LINE_CHARS]
    if len(lines) < MIN_LINES:
        return 0.0
    return 1 - len(set(lines)) / len(lines)


def _loop(text: str) -> str | None:
    """The first short unit (with a letter or digit) that loops 30+ times, if any."""
    for match in _LOOP.finditer(text):
        if any(ch.isalnum() for ch in match.group(1)):
            return match.group(1)
    return None


def garbled_problems(text: str, max_chars: int, max_repetition: float,
                     extra_tokens: tuple[str, ...] = ()) -> tuple[list[str], float]:
    """What looks garbled in `text` (short descriptions) and the score in [0, 1]."""
    problems: list[str] = []
    penalty = 0.0
    repeated = max(ngram_repetition(unicode_tokens(text)), line_repetition(text))
    if repeated > max_repetition:
        problems.append(f"{repeated:.0%} repeated")
        penalty += repeated
    unit = _loop(text)
    if unit is not None:
        problems.append(f"{unit!r} looping")
        penalty += 0.5
    replacement, control = _bad_characters(text)
    if replacement or control:
        found = [f"{replacement} U+FFFD"] if replacement else []
        found += [f"{control} control/private-use"] if control else []
        problems.append(" and ".join(found) + " characters")
        penalty += 0.5
    mojibake = _MOJIBAKE.findall(text)
    if mojibake:
        problems.append(f"mojibake {', '.join(dict.fromkeys(mojibake[:5]))}")
        penalty += 0.5
    tokens = _SPECIAL.findall(text) + [t for t in extra_tokens if t and t in text]
    if tokens:
        problems.append(f"special tokens {', '.join(dict.fromkeys(tokens[:5]))}")
        penalty += 0.5
    if max_chars and len(text) > max_chars:
        problems.append(f"{len(text):,} characters (max {max_chars:,})")
        penalty += 0.5
    return problems, max(0.0, 1.0 - penalty)


@register(
    "garbled",
    category="quality",
    params={
        "max_chars": Param("int", default=20000, minimum=0,
                           doc="longer outputs count as runaway generation (0: no limit)"),
        "max_repetition": Param("float", default=0.5, minimum=0, maximum=1,
                                doc="share of repeated word 4-grams or lines above which the "
                                    "output is repetitive"),
        "special_tokens": Param("list[str]",
                                doc="more strings that must not leak, e.g. ['<s>', '###']"),
    },
)
def garbled(output: str, params: Mapping[str, Any], context: CheckContext) -> CheckOutcome:
    """Passes when the output is not garbled: no loops, mojibake, bad characters or leaks."""
    if not output.strip():
        return CheckOutcome(True, 1.0, "empty output: nothing garbled")
    max_repetition = float(params.get("max_repetition", 0.5))
    problems, score = garbled_problems(output, int(params.get("max_chars") or 0),
                                       max_repetition, tuple(params.get("special_tokens") or ()))
    if not problems:
        return CheckOutcome(True, 1.0, "not garbled")
    return CheckOutcome(False, score, "garbled: " + "; ".join(problems))


# --- language -------------------------------------------------------------------------------

DETECT_CHARS = 10000  # langdetect reads no more than this anyway
# A character of these scripts (and Hangul) says as much as a few letters of an alphabet.
_DENSE = re.compile(f"[{UNSPACED_SCRIPTS}\uac00-\ud7af]")
DENSE_WEIGHT = 3


@lru_cache(maxsize=1)
def _language_factory() -> Any:
    """A langdetect factory of our own: profiles loaded once, seed 0 so results repeat.

    Seeding this instance (rather than the global DetectorFactory.seed) leaves other users
    of langdetect alone; every detector it creates has its own seeded random generator.
    """
    from langdetect.detector_factory import PROFILES_DIRECTORY, DetectorFactory

    factory = DetectorFactory()
    factory.load_profile(PROFILES_DIRECTORY)
    factory.set_seed(0)
    return factory


def detect_languages(text: str) -> list[tuple[str, float]]:
    """(language code, probability) pairs, most likely first, by seeded langdetect."""
    detector = _language_factory().create()
    detector.append(text[:DETECT_CHARS])
    return [(lang.lang, lang.prob) for lang in detector.get_probabilities()]


def _primary(code: str) -> str:
    return code.lower().replace("_", "-").split("-")[0]


@lru_cache(maxsize=1)
def detectable_languages() -> tuple[str, ...]:
    """The primary language codes langdetect has profiles for (read from its files)."""
    from langdetect.detector_factory import PROFILES_DIRECTORY

    return tuple(sorted({_primary(name) for name in os.listdir(PROFILES_DIRECTORY)}))


def _validate_language(params: Mapping[str, Any]) -> None:
    expected = params["expected"].strip()
    if _primary(expected) not in detectable_languages():
        raise CheckError("params.expected", f"langdetect cannot detect {expected!r}, so the "
                         f"check could never pass; known: {', '.join(detectable_languages())}")


@register(
    "language",
    category="quality",
    validate=_validate_language,
    params={
        "expected": Param("str", required=True,
                          doc="ISO 639-1 code like en, fr, ja (zh matches zh-cn and zh-tw)"),
        "min_chars": Param("int", default=10, minimum=0,
                           doc="fewer letters than this are too few to tell the language "
                               "(a CJK, kana or Hangul character counts as 3)"),
    },
)
def language(output: str, params: Mapping[str, Any], context: CheckContext) -> CheckOutcome:
    """The output is written in the expected language (langdetect, seeded)."""
    expected = str(params.get("expected") or "").strip()
    if not expected:
        raise CheckError("params.expected", "needs a language code like en or fr")
    sample = output[:DETECT_CHARS]
    letters = sum(1 for ch in sample if ch.isalpha())
    letters += (DENSE_WEIGHT - 1) * len(_DENSE.findall(sample))
    if not output.strip():
        return CheckOutcome(False, 0.0, "empty output: no language to detect")
    if letters < int(params.get("min_chars", 10)):
        return CheckOutcome(False, 0.0, f"too short to tell the language ({letters} letters; "
                            f"min_chars is {params.get('min_chars', 10)})")
    from langdetect.lang_detect_exception import LangDetectException

    try:
        found = detect_languages(output)
    except LangDetectException as exc:
        return CheckOutcome(False, 0.0, f"no language detected ({exc})")
    if not found:
        return CheckOutcome(False, 0.0, "no language detected")
    want = _primary(expected)
    probability = sum(p for code, p in found if _primary(code) == want)
    top = found[0][0]
    if _primary(top) == want:
        return CheckOutcome(True, probability, f"detected {top} ({found[0][1]:.2f})")
    return CheckOutcome(False, probability,
                        f"detected {top} ({found[0][1]:.2f}), expected {expected}")
