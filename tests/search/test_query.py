"""The query language, parsed without any engine."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from threadloom import InvalidRecord, InvalidType
from threadloom.search import Term, fold, matches, parse, tokens
from threadloom.search.query import MAX_TERMS


def test_words_phrases_prefixes_exclusions_and_or() -> None:
    q = parse('lock "migration step" mig* -flaky OR wal')
    assert q.groups == (
        (Term(("lock",)),),
        (Term(("migration", "step")),),
        (Term(("mig",), prefix=True),),
        (Term(("wal",)),),
    )
    assert q.excluded == (Term(("flaky",)),)
    q = parse('lock -"flaky test" -hang')
    assert q.excluded == (Term(("flaky", "test")), Term(("hang",)))


def test_or_binds_tighter_than_and_and_dangling_or_is_ignored() -> None:
    assert parse("a b OR c").groups == ((Term(("a",)),), (Term(("b",)), Term(("c",))))
    assert parse("OR a OR").groups == ((Term(("a",)),),)
    assert parse("a or b").groups == ((Term(("a",)),), (Term(("or",)),), (Term(("b",)),))


def test_words_normalize_as_the_index_does() -> None:
    assert parse("Résumé").groups == ((Term(("resume",)),),)
    assert parse("snake_case_name").groups == ((Term(("snake", "case", "name")),),)
    assert parse("src/store.py").groups == ((Term(("src", "store", "py")),),)
    assert parse("東京").groups == ((Term(("東", "京")),),)
    assert fold("STRASSE") == fold("Straße") == "strasse"
    assert tokens("getHTTPResponse x_y") == ["gethttpresponse", "x", "y"]


def test_unclosed_quote_runs_to_the_end() -> None:
    assert parse('"migration lock').groups == ((Term(("migration", "lock")),),)


@pytest.mark.parametrize("text", ["", "   ", '"', "*", "-", "-lock", '-"a b"', "::", "\x00"])
def test_nothing_to_search_for_is_invalid(text: str) -> None:
    with pytest.raises(InvalidRecord, match="no word to search for"):
        parse(text)


def test_limits_and_types() -> None:
    with pytest.raises(InvalidRecord, match="terms"):
        parse(" ".join(f"w{i}" for i in range(MAX_TERMS + 1)))
    with pytest.raises(InvalidRecord, match="characters"):
        parse("a" * 10_001)
    with pytest.raises(InvalidType):
        parse(b"lock")  # type: ignore[arg-type]


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_any_text_parses_or_is_refused_clearly(text: str) -> None:
    try:
        q = parse(text)
    except InvalidRecord:
        return
    assert q.groups
    for term in q.terms:
        assert term.tokens and all(t.isalnum() for t in term.tokens)


def test_reference_match() -> None:
    doc = [["the", "migration", "lock", "hangs"], ["run", "tests"]]
    assert matches(parse('"migration lock"'), doc)
    assert not matches(parse('"lock migration"'), doc)
    assert matches(parse("hang*"), doc)
    assert not matches(parse("lock -tests"), doc)
    assert matches(parse("nothing OR tests"), doc)
