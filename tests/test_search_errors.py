"""Searches that cannot run as typed get one readable line, on SQLite and PostgreSQL alike:
a NUL, an empty phrase, punctuation alone, an over-long search, malformed advanced syntax."""

from __future__ import annotations

import random
import re

import pytest
from streamlit.testing.v1 import AppTest

from evalboard.store.calls_counts import count_calls
from evalboard.store.calls_pages import list_calls
from evalboard.store.calls_query import CallFilter
from evalboard.store.search import (
    MAX_QUERY_CHARS,
    SearchQueryError,
    SearchSyntaxError,
    check_search,
)
from tests.support.apptest import open_page
from tests.support.calls import add_calls

RAW_ENGINE_WORDS = ("fts5", "syntax error near", "unknown special query", "tsquery", "sqlite")


@pytest.fixture
def calls(engine):
    add_calls(engine, [
        {"input": "please refund my order", "output": "Your refund is on its way"},
        {"input": "how do I write C++ code", "output": "Use a compiler."},
        {"input": "unrelated", "output": "nothing to see"},
    ])
    return engine


def _found(engine, query: str, advanced: bool = False) -> int:
    return count_calls(engine, CallFilter(search=query, advanced_search=advanced))


def _refused(engine, query: str, advanced: bool = False) -> str:
    """The one-line message both the check and the query layer give for a search."""
    with pytest.raises(SearchQueryError) as checked:
        check_search(query, advanced)
    with pytest.raises(SearchQueryError) as queried:
        list_calls(engine, CallFilter(search=query, advanced_search=advanced))
    message = str(checked.value)
    assert str(queried.value) == message and "\n" not in message
    assert not any(word in message.lower() for word in RAW_ENGINE_WORDS), message
    return message


@pytest.mark.parametrize("advanced", [False, True])
def test_a_nul_in_a_search_is_explained(calls, advanced):
    assert "NUL character" in _refused(calls, "refund\x00order", advanced)


@pytest.mark.parametrize("query, advanced", [("...", False), ("?! -- ;", False), (".", True),
                                             ('""', True), ('refund OR "..."', True)])
def test_punctuation_alone_has_no_words_to_search_for(calls, query, advanced):
    assert "no words to search for" in _refused(calls, query, advanced).lower()


def test_punctuation_beside_a_word_is_ignored(calls):
    assert _found(calls, "refund .") == 1
    assert check_search("refund .") is None


def test_an_over_long_search_is_cut_at_a_word_boundary_with_a_note(calls):
    words = ["please", "refund", "my", "order"]
    query = " ".join(words[i % 4] for i in range(300))  # 1,500 characters
    # The old cut at 1,000 characters fell inside a word ("ord" or "plea"...): no call matched.
    assert not query[MAX_QUERY_CHARS - 1].isspace() and not query[MAX_QUERY_CHARS].isspace()
    note = check_search(query)
    assert note is not None and f"{len(query):,} characters" in note
    assert "limited to 1,000 characters" in note
    assert _found(calls, query) == 1


def test_a_single_over_long_word_is_refused(calls):
    assert "single word" in _refused(calls, "x" * (MAX_QUERY_CHARS + 1))


def test_an_over_long_advanced_search_is_refused(calls):
    query = " OR ".join(["refund"] * 200)
    assert "over the limit of 1,000" in _refused(calls, query, advanced=True)


@pytest.mark.parametrize("query, expected", [
    ('alpha AND "unclosed', "Advanced search: unbalanced quote near “\"unclosed”"),
    ("*.", "no words to search for in “*.”"),
    ("refund AND", "ends with AND"),
    ("OR refund", "OR needs a word or phrase before it"),
    ("(refund", "“(” without a matching “)”"),
    ("refund)", "“)” without a matching “(”"),
    ("()", "nothing to search for before “)”"),
    ("refund -order", "unknown operator “-”"),
    ("refund || order", "unknown operator “||”"),
    ("NEAR(refund order)", "unknown operator NEAR"),
    ("(" * 40 + "refund" + ")" * 40, "more than 32 nested parentheses"),
])
def test_advanced_search_errors_are_readable(calls, query, expected):
    message = _refused(calls, query, advanced=True)
    assert message.startswith("Advanced search:") and expected in message
    assert re.search(r"\. [A-Z]", message), message  # the problem, then a hint


def test_advanced_search_runs_the_documented_syntax_alike_on_every_dialect(calls):
    assert _found(calls, "c++", advanced=True) == 1  # FTS5 alone would refuse the bare "+"
    assert _found(calls, 'refund OR "C++"', advanced=True) == 2
    assert _found(calls, "refun* NOT compiler", advanced=True) == 1
    assert _found(calls, '(refund OR compiler) AND "your refund"', advanced=True) == 1
    assert _found(calls, "refund NOT order", advanced=True) == 0


def test_random_advanced_searches_run_or_are_explained(calls):
    pieces = ["refund", "order", "C++", "AND", "OR", "NOT", "(", ")", '"', '""', "*", ".",
              "-", "|", "NEAR", "ref*", "日本語", "'", ":", "\\", "^", "col:umn"]
    rng = random.Random(13)
    ran = refused = 0
    for _ in range(200):
        query = "".join(rng.choice(pieces) + rng.choice(["", " ", " "])
                        for _ in range(rng.randint(1, 8)))
        try:
            check_search(query, advanced=True)
        except SearchSyntaxError:
            _refused(calls, query, advanced=True)
            refused += 1
            continue
        assert _found(calls, query, advanced=True) >= 0, query
        ran += 1
    assert ran > 20 and refused > 20


@pytest.fixture
def browse(calls):
    def run(**params) -> AppTest:
        return open_page("browse", **params)

    return run


def test_browse_shows_the_reason_beside_the_search(browse):
    at = browse(q="...")
    assert not at.exception
    errors = [e.value for e in at.error]
    assert len(errors) == 1 and "No words to search for" in errors[0]
    assert not any("widen the dates" in i.value for i in at.info)
    at = browse(q="*.", adv="true")
    assert not at.exception
    assert [e.value for e in at.error][0].startswith("Advanced search: no words to search for")


def test_browse_notes_a_shortened_search(browse):
    at = browse(q="refund " * 200)
    assert not at.exception and not at.error
    assert any("searches are limited to 1,000 characters" in c.value for c in at.caption)
