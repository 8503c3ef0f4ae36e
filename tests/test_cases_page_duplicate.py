"""Duplicating a case stored before today's save-time rules says why it cannot be copied
(the copy is validated like any save) instead of failing with a traceback."""

from __future__ import annotations

from sqlalchemy import update

from evalboard.cases.draft import CaseDraft
from evalboard.cases.repository import CaseQuery, create_case, list_cases
from evalboard.checks import CheckSpec
from evalboard.store.case_models import CaseVersion
from evalboard.store.engine import write_session
from tests.support.apptest import open_page


def test_duplicating_a_case_the_rules_now_refuse_shows_a_message(engine) -> None:
    case_id = create_case(engine, "s", CaseDraft(name="old", input="q", references=("a",),
                                                 checks=(CheckSpec("rouge"),)))
    with write_session(engine) as session:  # as an older evalboard stored it: no reference
        session.execute(update(CaseVersion).where(CaseVersion.case_id == case_id)
                        .values(references=[]))
    at = open_page("cases", timeout=60, reviewer="ann", case=str(case_id))
    assert not at.exception
    at.button(key="duplicate_case").click().run()
    assert not at.exception
    assert any("cannot be copied" in e.value and "reference" in e.value for e in at.error)
    assert [c.draft.name for c in list_cases(engine, CaseQuery())] == ["old"]
