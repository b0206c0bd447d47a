"""不是同义词: expansions the engine guessed (通用同义词库, 词义相近, 字面相近, 含该字的词) that finance turned down
on 检索分析 (打针 → 护理), and allowing one again. Audited like the synonym groups, and live the same way:
:mod:`kb.live_synonyms` swaps them into the backend with the groups, so search stops (or resumes) relating the
two words in every process within seconds, without a restart.
"""
from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kb.db import serialize_writers
from kb.errors import EditConflict, NotFound, Problem, ValidationFailed
from kb.models.base import utcnow
from kb.models.synonym_group import RejectedGuess
from kb.services.audit import Actor, record_change
from kb.services.synonyms import MAX_NOTE_LENGTH, MAX_TERM_LENGTH, SYNONYM_LOCK, require_keeper
from search.analysis import normalize

ENTITY = "rejected_guess"


def _audit_form(guess: RejectedGuess) -> dict:
    return {"source": guess.source, "term": guess.term, "reason": guess.reason, "active": guess.active}


def get_rejection(session: Session, rejection_id: int) -> RejectedGuess:
    guess = session.get(RejectedGuess, rejection_id)
    if guess is None:
        raise NotFound(f"没有编号为 {rejection_id} 的排除记录，请从同义词页重新打开。")
    return guess


def list_rejections(session: Session) -> list[RejectedGuess]:
    """The guesses turned down and still in force, newest first."""
    return list(session.scalars(select(RejectedGuess).where(RejectedGuess.active.is_(True))
                                .order_by(RejectedGuess.updated_at.desc(), RejectedGuess.id.desc())))


def live_rejections(session: Session) -> list[tuple[str, str]]:
    """``(typed word, term)`` pairs search must not expand (RankedBackend.set_synonyms)."""
    return [tuple(row) for row in session.execute(
        select(RejectedGuess.source, RejectedGuess.term).where(RejectedGuess.active.is_(True)))]


def rejections_generation(session: Session) -> tuple[int, int]:
    """Changes with every rejection and every allowing again (rows are kept, each change raises a version)."""
    count, total = session.execute(
        select(func.count(RejectedGuess.id), func.coalesce(func.sum(RejectedGuess.row_version), 0))).one()
    return int(count), int(total)


def reject_guess(session: Session, actor: Actor, source: str, term: str, *, reason: str = "") -> RejectedGuess:
    """Search stops relating ``source`` to ``term`` (as the 检索分析 page showed the guess); audited.
    Rejecting a pair allowed again earlier reuses its row."""
    require_keeper(actor)
    serialize_writers(session, SYNONYM_LOCK)
    source, term, reason = normalize(source or "").strip(), normalize(term or "").strip(), (reason or "").strip()
    problems = []
    for value, label, field in ((source, "输入的词", "source"), (term, "指标库中的词", "term")):
        if not value:
            problems.append(Problem(f"{label}为空：请从检索分析的“处理”页点“不是同义词”。", "排除猜测", "", field))
        elif len(value) > MAX_TERM_LENGTH:
            problems.append(Problem(f"{label}“{value}”超过 {MAX_TERM_LENGTH} 个字。", "排除猜测", "", field))
    if len(reason) > MAX_NOTE_LENGTH:
        problems.append(Problem(f"理由超过 {MAX_NOTE_LENGTH} 个字，请精简。", "排除猜测", "", "reason"))
    if source and source == term:
        problems.append(Problem("输入的词和指标库中的词相同，无需排除。", "排除猜测", "", "term"))
    existing = session.scalar(select(RejectedGuess).where(RejectedGuess.source == source, RejectedGuess.term == term))
    if existing is not None and existing.active:
        problems.append(Problem(f"“{source}→{term}”已经排除过了（{existing.updated_by}）。", "排除猜测", "", "term"))
    if problems:
        raise ValidationFailed(problems)
    before = _audit_form(existing) if existing is not None else None
    guess = existing or RejectedGuess(source=source, term=term)
    guess.reason, guess.active = reason, True
    guess.touch(actor.username, utcnow())
    session.add(guess)
    session.flush()
    record_change(session, actor, "create" if before is None else "update", ENTITY, str(guess.id), before=before,
                  after=_audit_form(guess), summary=f"排除检索猜测 {guess.label}")
    return guess


def allow_guess(session: Session, actor: Actor, rejection_id: int, *, expected_version: int) -> RejectedGuess:
    """Search may relate the two words again; audited. A stale ``expected_version`` is a conflict."""
    require_keeper(actor)
    guess = get_rejection(session, rejection_id)
    if guess.row_version != expected_version:
        raise EditConflict(entity=f"排除记录“{guess.label}”", expected_version=expected_version,
                           current_version=guess.row_version)
    before = _audit_form(guess)
    guess.active = False
    guess.touch(actor.username, utcnow())
    session.flush()
    record_change(session, actor, "update", ENTITY, str(guess.id), before=before, after=_audit_form(guess),
                  summary=f"恢复检索猜测 {guess.label}")
    return guess


__all__ = ["ENTITY", "allow_guess", "get_rejection", "list_rejections", "live_rejections",
           "reject_guess", "rejections_generation"]
