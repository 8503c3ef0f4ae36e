"""What a search may be, checked when it is typed: the plain and the advanced query language.

Both dialects run the same language (see `search` for SQLite's FTS5, `pg_search` for
PostgreSQL's tsquery). Plain search takes any text: it is cut at a word boundary past
MAX_QUERY_CHARS (with a note saying so) and must hold at least one word. Advanced search takes
the syntax the README documents (`AND`, `OR`, `NOT`, "phrases", prefix*, parentheses); it is
parsed here into terms and operators, so a malformed query gets one readable SearchSyntaxError
instead of the engine's own message, and each dialect emits a query from the parsed tokens that
its engine always accepts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from evalboard.errors import EvalboardError

MAX_QUERY_CHARS = 1000
MAX_NESTING = 32  # FTS5's parser overflows near 100 levels of parentheses
OPERATORS = frozenset({"AND", "OR", "NOT"})
_SNIPPET_CHARS = 20
_SYNTAX_HINT = ('Quote words with special characters, e.g. "C++", or turn off Advanced to '
                "search for the words as typed.")
_OPERATOR_HINT = "Put AND, OR or NOT between two words or phrases, e.g. refund OR return."
_PAREN_HINT = "Close every “(” with a “)”, with words or phrases inside."
# Operators of other search languages, with the one to use instead.
_FOREIGN_OPERATORS = {"|": "OR", "||": "OR", "&": "AND", "&&": "AND", "+": "AND",
                      "!": "NOT", "-": "NOT", "~": "NOT"}
# A phrase ("..." with "" for a quote inside, optionally followed by *), a parenthesis, or a word.
_TOKEN = re.compile(r'"(?P<phrase>(?:[^"]|"")*)"(?P<star>\*?)|(?P<paren>[()])|(?P<word>[^\s()"]+)')
_LAST_SPACE = re.compile(r"\s(?=\S*\Z)")


class SearchQueryError(EvalboardError, ValueError):
    """A search that cannot run as typed; the message says why and what to type instead."""


class SearchSyntaxError(SearchQueryError):
    """An advanced search that does not follow the advanced search syntax."""


@dataclass(frozen=True)
class Term:
    """A word or a phrase to find (`prefix`: its last word may continue, as in `refun*`)."""

    text: str
    prefix: bool = False


Token = Term | str  # a Term, an operator (AND, OR, NOT) or a parenthesis


@dataclass(frozen=True)
class PreparedSearch:
    """A search checked and ready to run: the text of a plain search (perhaps shortened), the
    tokens of an advanced one (adjacent terms joined by an explicit AND), a note for the user."""

    text: str
    tokens: tuple[Token, ...] | None = None
    note: str | None = None


def has_words(text: str) -> bool:
    """Whether the text holds something the full-text index can find (a letter or a digit)."""
    return any(char.isalnum() for char in text)


@lru_cache(maxsize=256)
def prepare_search(query: str, advanced: bool = False) -> PreparedSearch:
    """Check a search as typed; raise SearchQueryError (SearchSyntaxError for advanced syntax)
    with a one-line explanation when it cannot run."""
    if "\x00" in query:
        raise SearchQueryError("The search contains a NUL character (\\0), which no call holds "
                               "(it is stored as U+FFFD): remove it and search again.")
    if advanced:
        if len(query) > MAX_QUERY_CHARS:
            raise SearchSyntaxError(
                f"Advanced search: the search is {len(query):,} characters long, over the limit "
                f"of {MAX_QUERY_CHARS:,}: shorten it, or turn off Advanced to search for its "
                "first words.")
        return PreparedSearch(query.strip(), tuple(parse_advanced(query)))
    text, note = _shorten(query)
    if not text.strip():
        raise SearchQueryError("No words to search for: the search is empty.")
    if not has_words(text):
        raise SearchQueryError(f"No words to search for: {_snippet(text.strip())} has only "
                               "punctuation or symbols, and search finds words (letters or "
                               "digits).")
    return PreparedSearch(text, note=note)


def _shorten(query: str) -> tuple[str, str | None]:
    """The query cut to MAX_QUERY_CHARS at the end of a word, and a note when it was cut."""
    if len(query) <= MAX_QUERY_CHARS:
        return query, None
    head = query[:MAX_QUERY_CHARS + 1]  # a space just past the limit ends a whole word
    last_space = _LAST_SPACE.search(head)
    kept = head[:last_space.start()].rstrip() if last_space else ""
    if not kept:
        raise SearchQueryError(f"The search is a single word of over {MAX_QUERY_CHARS:,} "
                               "characters: search for a shorter part of it.")
    return kept, (f"Searched for the first {len(kept):,} of {len(query):,} characters, up to "
                  f"the word {_snippet(kept.split()[-1], from_end=True)}: searches are limited "
                  f"to {MAX_QUERY_CHARS:,} characters.")


def _snippet(text: str, from_end: bool = False) -> str:
    """A short quoted excerpt of the query for a message."""
    if len(text) <= _SNIPPET_CHARS:
        return f"“{text}”"
    return f"“…{text[-_SNIPPET_CHARS:]}”" if from_end else f"“{text[:_SNIPPET_CHARS]}…”"


def _syntax_error(problem: str, query: str, position: int | None,
                  hint: str = _SYNTAX_HINT) -> SearchSyntaxError:
    near = "" if position is None else f" near {_snippet(query[position:].strip())}"
    return SearchSyntaxError(f"Advanced search: {problem}{near}. {hint}")


def parse_advanced(query: str) -> list[Token]:
    """The tokens of an advanced query, adjacent terms joined by AND (SearchSyntaxError if it is
    malformed). `a NOT b` means a and not b, as in FTS5."""
    tokens: list[Token] = []
    expect_term, position = True, 0
    open_parens: list[int] = []
    for match in _TOKEN.finditer(query):
        if query[position:match.start()].strip():
            raise _unbalanced_quote(query, position)
        position = match.end()
        word, paren = match["word"], match["paren"]
        if word in OPERATORS:
            if expect_term:
                raise _syntax_error(f"{word} needs a word or phrase before it", query,
                                    match.start(), _OPERATOR_HINT)
            tokens.append(word)
            expect_term = True
            continue
        if paren == ")":
            if not open_parens:
                raise _syntax_error("“)” without a matching “(”", query, match.start(),
                                    _PAREN_HINT)
            if expect_term:
                raise _syntax_error("nothing to search for before “)”", query, match.start(),
                                    _PAREN_HINT)
            open_parens.pop()
            tokens.append(")")
            continue
        if not expect_term:
            tokens.append("AND")  # adjacent terms: all are required
        if paren == "(":
            open_parens.append(match.start())
            if len(open_parens) > MAX_NESTING:
                raise _syntax_error(f"more than {MAX_NESTING} nested parentheses", query,
                                    match.start(), "Use fewer parentheses.")
            tokens.append("(")
        elif word is not None:
            tokens.append(_word_term(query, match.start(), word))
        else:
            tokens.append(_phrase_term(match["phrase"], bool(match["star"])))
        expect_term = paren == "("
    if query[position:].strip():
        raise _unbalanced_quote(query, position)
    if tokens and expect_term:
        last = tokens[-1]
        ending = "“(”" if last == "(" else str(last)
        raise _syntax_error(f"the search ends with {ending}", query, None,
                            "Add a word or phrase after it, or remove it.")
    if open_parens:
        raise _syntax_error("“(” without a matching “)”", query, open_parens[-1], _PAREN_HINT)
    if not tokens:
        raise _syntax_error("no words to search for", query, None, "Type a word or a phrase.")
    return tokens


def _unbalanced_quote(query: str, position: int) -> SearchSyntaxError:
    start = query.index('"', position)
    return _syntax_error("unbalanced quote", query, start,
                         'Close the phrase with a second " (write "" for a quote inside it), '
                         "or turn off Advanced to search for the words as typed.")


def _word_term(query: str, position: int, word: str) -> Term:
    if word == "NEAR" and query[position + len(word):position + len(word) + 1] == "(":
        raise _syntax_error("unknown operator NEAR", query, position,
                            'Use a "phrase" for words side by side, or AND.')
    foreign = word if word in _FOREIGN_OPERATORS else (
        word[0] if word[0] in "-!" and len(word) > 1 and word[1].isalpha() else None)
    if foreign is not None:
        instead = _FOREIGN_OPERATORS[foreign]
        raise _syntax_error(f"unknown operator “{foreign}”", query, position,
                            f"Use {instead} in capitals between words, e.g. refund {instead} "
                            "policy, or quote the word to search for it.")
    prefix = word.endswith("*") and len(word) > 1
    term = Term(word[:-1] if prefix else word, prefix)
    _require_words(term, f"“{term.text}”")
    return term


def _phrase_term(phrase: str, prefix: bool) -> Term:
    term = Term(phrase.replace('""', '"'), prefix)
    _require_words(term, f'the phrase "{phrase}"')
    return term


def _require_words(term: Term, shown: str) -> None:
    if not has_words(term.text):
        raise _syntax_error(f"no words to search for in {shown} (letters or digits)", "",
                            None, 'Quote punctuation together with a word, e.g. "C++", or '
                            "leave it out.")
