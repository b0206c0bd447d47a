"""不是同义词: finance turns down a guessed expansion (audited, one active row per pair, allowed again by
version); what search reads is the live pairs and a generation that changes with every change."""
from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from kb.errors import EditConflict, PermissionDenied, ValidationFailed
from kb.models import AuditEntry, RejectedGuess
from kb.services.audit import Actor
from kb.services.rejected_guesses import (
    allow_guess, list_rejections, live_rejections, reject_guess, rejections_generation,
)

FINANCE = Actor("财政甲", "finance")


def test_a_rejection_is_live_audited_and_changes_the_generation(session: Session) -> None:
    before = rejections_generation(session)
    guess = reject_guess(session, FINANCE, "打针", " 护理 ", reason="打针不是护理服务")
    session.commit()
    assert live_rejections(session) == [("打针", "护理")]
    assert rejections_generation(session) != before
    entry = session.scalar(select(AuditEntry).where(AuditEntry.entity_type == "rejected_guess"))
    assert (entry.actor, entry.action, entry.after["term"], entry.summary) == ("财政甲", "create", "护理", "排除检索猜测 打针→护理")
    assert [g.id for g in list_rejections(session)] == [guess.id]


def test_allowing_again_keeps_the_row_and_rejecting_again_reuses_it(session: Session) -> None:
    guess = reject_guess(session, FINANCE, "宝宝", "产妇")
    session.commit()
    generation = rejections_generation(session)
    allow_guess(session, FINANCE, guess.id, expected_version=guess.row_version)
    session.commit()
    assert live_rejections(session) == [] and list_rejections(session) == []
    assert rejections_generation(session) != generation
    again = reject_guess(session, FINANCE, "宝宝", "产妇", reason="再次排除")
    session.commit()
    assert again.id == guess.id and session.scalar(select(RejectedGuess.reason)) == "再次排除"
    assert [e.action for e in session.scalars(select(AuditEntry).where(AuditEntry.entity_type == "rejected_guess")
                                              .order_by(AuditEntry.id))] == ["create", "update", "update"]


def test_bad_or_repeated_rejections_are_refused_in_chinese_and_write_nothing(session: Session) -> None:
    reject_guess(session, FINANCE, "打针", "护理")
    session.commit()
    for source, term, words in (("打针", "护理", "已经排除过了"), ("", "护理", "输入的词为空"), ("打针", "打针", "相同"),
                                ("打针", "护" * 31, "超过 30 个字")):
        with pytest.raises(ValidationFailed) as refused:
            reject_guess(session, FINANCE, source, term)
        assert words in refused.value.problems[0].message
        session.rollback()
    assert session.scalar(select(RejectedGuess.id).where(RejectedGuess.term != "护理")) is None


def test_a_stale_allow_is_a_conflict(session: Session) -> None:
    guess = reject_guess(session, FINANCE, "打针", "护理")
    session.commit()
    with pytest.raises(EditConflict):
        allow_guess(session, FINANCE, guess.id, expected_version=guess.row_version - 1)
    assert live_rejections(session) == [("打针", "护理")]


@pytest.mark.parametrize("role", ["department", "expert"])
def test_only_the_library_keepers_reject(session: Session, role: str) -> None:
    with pytest.raises(PermissionDenied):
        reject_guess(session, Actor("某人", role), "打针", "护理")
