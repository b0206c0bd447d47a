"""kb/services/synonyms.py: seeding from the YAML file, validation, audit rows, optimistic concurrency and
the export that reproduces ``kb/indicators/synonyms.yaml``."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from kb.db import make_session_factory
from kb.errors import EditConflict, PermissionDenied, ValidationFailed
from kb.models import AuditEntry, SynonymGroup
from kb.services.audit import Actor
from kb.services.synonyms import (
    SYNONYMS_PATH, add_group, edit_group, export_synonyms, groups_in_text, list_groups, live_groups, reach_counts,
    read_synonyms_file, restore_group, retire_group, seed_synonyms, split_terms, synonyms_generation,
)

FINANCE = Actor("财政甲", "finance")


def _group_with(session: Session, term: str) -> SynonymGroup:
    return next(group for group in list_groups(session, status="all") if term in group.terms)


def _audit(session: Session, action: str) -> list[AuditEntry]:
    return list(session.scalars(select(AuditEntry).where(AuditEntry.entity_type == "synonym_group",
                                                         AuditEntry.action == action)))


def test_seed_loads_the_yaml_groups_once_with_their_sections(session: Session) -> None:
    assert live_groups(session) is None  # not seeded: search keeps the YAML file
    expected = yaml.safe_load(SYNONYMS_PATH.read_text(encoding="utf-8"))["groups"]
    assert seed_synonyms(session, FINANCE) == len(expected) > 100
    assert seed_synonyms(session, FINANCE) == 0
    session.commit()
    assert live_groups(session) == [[str(term) for term in group] for group in expected]
    assert _group_with(session, "满意率").category == "指标常用度量词"
    assert _group_with(session, "就医").category == "卫生健康"
    assert session.scalar(select(AuditEntry.summary).where(AuditEntry.entity_type == "synonym_groups")) \
        == f"从 synonyms.yaml 导入 {len(expected)} 组检索同义词"


def test_every_shipped_group_can_be_saved_as_it_is(session: Session) -> None:
    """The seed is taken on trust; a term in two of its groups would make finance's every save of either fail."""
    seed_synonyms(session, FINANCE)
    for group in list_groups(session):
        edit_group(session, FINANCE, group.id, list(group.terms), expected_version=group.row_version)


def test_export_of_the_seed_is_the_yaml_file_byte_for_byte(session: Session) -> None:
    text = SYNONYMS_PATH.read_text(encoding="utf-8")
    assert export_synonyms(session) == text  # before seeding: the file's own groups
    seed_synonyms(session, FINANCE)
    session.commit()
    assert export_synonyms(session) == text


def test_export_round_trip_after_edits(session: Session, tmp_path: Path) -> None:
    seed_synonyms(session, FINANCE)
    added = add_group(session, FINANCE, ["修房子", "房屋修缮", "1.5", "a: b"], note="群众说法\n对应规范叫法", category="住建与城市管理")
    retire_group(session, FINANCE, _group_with(session, "满意率").id, reason="测试停用", expected_version=1)
    session.commit()
    exported = tmp_path / "synonyms.yaml"
    exported.write_text(export_synonyms(session), encoding="utf-8")
    text = exported.read_text(encoding="utf-8")
    assert "  - [修房子, 房屋修缮, \"1.5\", \"a: b\"]  # 群众说法 对应规范叫法\n" in text
    assert "满意率" not in text  # retired groups are not exported
    reread = read_synonyms_file(exported)
    assert [group.terms for group in reread.groups] == live_groups(session)
    assert (reread.groups[-1].terms, reread.groups[-1].category) == (added.terms, "住建与城市管理")
    assert reread.header == read_synonyms_file().header


@pytest.mark.parametrize(("terms", "message"), [
    (["满意度"], "至少要有两个不同的词（现有“满意度”一个）"),
    (["看毛病", " 看毛病 "], "“看毛病”在组内重复出现"),
    (["看毛病", "", "瞧病"], "第 2 个词为空"),
    (["看毛病", "就医"], "“就医”已在另一个启用的同义词组（第"),
    (["看毛病", "很" * 31], "超过 30 个字"),
])
def test_add_refuses_bad_groups_and_writes_nothing(session: Session, terms: list[str], message: str) -> None:
    seed_synonyms(session, FINANCE)
    session.commit()
    before = synonyms_generation(session)
    with pytest.raises(ValidationFailed) as refused:
        add_group(session, FINANCE, terms)
    session.rollback()
    assert message in str(refused.value)
    assert synonyms_generation(session) == before
    assert _audit(session, "create") == []


def test_overlap_message_names_the_other_group(session: Session) -> None:
    seed_synonyms(session, FINANCE)
    other = _group_with(session, "就医")
    with pytest.raises(ValidationFailed) as refused:
        add_group(session, FINANCE, ["瞧病", "就医"])
    assert f"第 {other.id} 组：看病、就医、就诊" in str(refused.value)


def test_add_seeds_first_so_the_yaml_groups_stay(session: Session) -> None:
    group = add_group(session, FINANCE, ["修房子", "房屋修缮"], note="群众说法")
    session.commit()
    groups = live_groups(session)
    assert ["看病", "就医", "就诊"] in groups and groups[-1] == ["修房子", "房屋修缮"]
    [entry] = _audit(session, "create")
    assert (entry.entity_key, entry.actor, entry.summary) == (str(group.id), "财政甲", "修房子、房屋修缮")
    assert entry.after == {"terms": ["修房子", "房屋修缮"], "category": "", "note": "群众说法", "active": True}


def test_edit_retire_restore_are_audited_and_change_the_generation(session: Session) -> None:
    seed_synonyms(session, FINANCE)
    group = _group_with(session, "就医")
    generation = synonyms_generation(session)
    edit_group(session, FINANCE, group.id, ["看病", "就医", "就诊", "看毛病"], note="口语", expected_version=1)
    assert synonyms_generation(session) > generation
    [update] = _audit(session, "update")
    assert update.before["terms"] == ["看病", "就医", "就诊"] and update.after["terms"][-1] == "看毛病"
    retire_group(session, FINANCE, group.id, reason="扩展过宽", expected_version=2)
    assert ["看病", "就医", "就诊", "看毛病"] not in live_groups(session)
    [retire] = _audit(session, "retire")
    assert retire.after["reason"] == "扩展过宽" and retire.after["active"] is False
    assert list_groups(session, text="看毛病", status="retired") == [group]
    assert list_groups(session, text="看毛病") == []
    restore_group(session, FINANCE, group.id, expected_version=3)
    assert ["看病", "就医", "就诊", "看毛病"] in live_groups(session)
    assert len(_audit(session, "restore")) == 1


def test_retire_needs_a_reason(session: Session) -> None:
    seed_synonyms(session, FINANCE)
    with pytest.raises(ValidationFailed, match="请填写停用理由"):
        retire_group(session, FINANCE, _group_with(session, "就医").id, reason="  ", expected_version=1)


def test_restore_refuses_a_term_now_in_another_active_group(session: Session) -> None:
    seed_synonyms(session, FINANCE)
    group = _group_with(session, "就医")
    retire_group(session, FINANCE, group.id, reason="改写", expected_version=1)
    add_group(session, FINANCE, ["就医", "求医"])
    with pytest.raises(ValidationFailed, match="“就医”已在另一个启用的同义词组"):
        restore_group(session, FINANCE, group.id, expected_version=2)


def test_a_stale_version_is_a_conflict_naming_what_changed(engine: Engine, session: Session) -> None:
    seed_synonyms(session, FINANCE)
    session.commit()
    group_id = _group_with(session, "就医").id
    other = make_session_factory(engine)()
    try:  # two people opened the group at version 1; the other saves first
        edit_group(other, Actor("财政乙", "finance"), group_id, ["看病", "就医"], note="删去就诊", expected_version=1)
        other.commit()
    finally:
        other.close()
    session.rollback()  # the next request reads afresh
    with pytest.raises(EditConflict) as conflict:
        edit_group(session, FINANCE, group_id, ["看病", "就医", "就诊", "瞧病"], expected_version=1)
    message = str(conflict.value)
    assert "同义词组“看病、就医” 已被他人修改" in message and "第 1 版，当前为第 2 版" in message
    assert "同义词、说明" in message and "您的修改没有保存" in message
    session.rollback()
    assert _group_with(session, "就医").terms == ["看病", "就医"]


def test_a_save_racing_past_the_version_check_is_refused_by_the_row_version(engine: Engine, session: Session) -> None:
    seed_synonyms(session, FINANCE)
    session.commit()
    group = _group_with(session, "就医")  # read at version 1, inside this transaction
    other = make_session_factory(engine)()
    try:
        edit_group(other, Actor("财政乙", "finance"), group.id, ["看病", "就医"], expected_version=1)
        other.commit()
    finally:
        other.close()
    with pytest.raises(StaleDataError):  # webapp/errors.py answers 409
        edit_group(session, FINANCE, group.id, ["看病", "就医", "就诊", "瞧病"], expected_version=1)
    session.rollback()
    assert _group_with(session, "就医").terms == ["看病", "就医"]


def test_department_and_expert_may_not_edit(session: Session) -> None:
    seed_synonyms(session, FINANCE)
    for actor in (Actor("科员", "department", department_id=1), Actor("专家", "expert")):
        with pytest.raises(PermissionDenied, match="只有财政部门"):
            add_group(session, actor, ["修房子", "房屋修缮"])


def test_reach_counts_indicators_mentioning_a_term(seeded: Session) -> None:
    seed_synonyms(seeded, FINANCE)
    group = _group_with(seeded, "高血压")
    unknown = add_group(seeded, FINANCE, ["不存在的词甲", "不存在的词乙"])
    counts = reach_counts(seeded, [group, unknown])
    assert counts[unknown.id] == 0 and counts[group.id] >= 1


def test_split_terms_accepts_the_usual_separators() -> None:
    assert split_terms("满意度、满意率，满意程度, 满意  度;好评；口碑\n赞") == [
        "满意度", "满意率", "满意程度", "满意", "度", "好评", "口碑", "赞"]


def test_two_officers_adding_the_same_term_at_once_cannot_both_succeed(engine: Engine, session: Session) -> None:
    """The second check waits for the first change to end, then sees its term (no two active groups share one)."""
    import threading

    seed_synonyms(session, FINANCE)
    session.commit()
    factory = make_session_factory(engine)
    outcome: dict[str, object] = {}
    with factory() as first:
        add_group(first, FINANCE, ["修房子", "房屋修缮"])

        def second_officer() -> None:
            with factory() as second:
                try:
                    add_group(second, FINANCE, ["翻修房子", "修房子"])
                    second.commit()
                    outcome["second"] = "saved"
                except ValidationFailed as error:
                    second.rollback()
                    outcome["second"] = error.problems[0].message

        thread = threading.Thread(target=second_officer)
        thread.start()
        thread.join(0.5)
        assert thread.is_alive(), "the second change must wait while the first is open"
        first.commit()
    thread.join(20)
    assert "另一个启用的同义词组" in str(outcome["second"])
    assert sum("修房子" in group for group in live_groups(session)) == 1


def test_groups_in_text_count_a_one_character_term_only_standing_alone(session: Session) -> None:
    seed_synonyms(session, FINANCE)
    labels = {group.label for group in groups_in_text(session, "学生满意率 看病")}
    assert "看病、就医、就诊" in labels and not any("占比" in label for label in labels)  # 率 inside 满意率
    assert any("占比" in group.label for group in groups_in_text(session, "达标 率"))
