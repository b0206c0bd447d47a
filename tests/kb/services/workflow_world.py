"""A small county for workflow tests: two departments, one user per role, helpers to reach a state."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy.orm import Session

from kb.models import Department, IndicatorSet, User
from kb.services.audit import Actor
from kb.services.reviews import assign_experts
from kb.services.workflow import certify_set, confirm_set, start_next_version, submit_set
from kb.vocab import Role, SetStatus


@dataclass
class World:
    session: Session
    own: Department
    other: Department
    actors: dict[str, Actor]
    users: dict[str, User]

    @property
    def current(self) -> IndicatorSet:
        self.session.refresh(self.own)
        return self.own.current_set

    def a(self, name: str) -> Actor:
        return self.actors[name]

    def due(self) -> dt.date:
        return dt.date.today() + dt.timedelta(days=7)

    def submitted(self, experts=("expert",)) -> IndicatorSet:
        indicator_set = self.current
        submit_set(self.session, self.a("department"), indicator_set)
        if experts:
            assign_experts(self.session, self.a("finance"), indicator_set,
                           [self.users[name].id for name in experts], self.due())
        self.session.flush()
        return indicator_set

    def confirmed(self, experts=("expert",)) -> IndicatorSet:
        indicator_set = self.submitted(experts)
        confirm_set(self.session, self.a("finance"), indicator_set)
        return indicator_set

    def certified(self, experts=("expert",)) -> IndicatorSet:
        indicator_set = self.confirmed(experts)
        for name in experts:
            certify_set(self.session, self.a(name), indicator_set)
        return indicator_set

    def superseded(self) -> IndicatorSet:
        first = self.certified()
        start_next_version(self.session, self.a("department"), self.own)
        self.certified()
        return first

    def reach(self, status: str) -> IndicatorSet:
        if status == "draft":
            return self.current
        return getattr(self, status)()


def build_world(session: Session, make_department, make_indicator) -> World:
    own = make_department("901", "测试教育局")
    other = make_department("902", "测试卫健局")
    make_indicator(own, code="T-001", name="学生资助覆盖率")
    make_indicator(own, code="T-002", name="教师培训人次", nature="定量", operator="≥", target="300", unit="人次")
    make_indicator(other, code="T-101", name="疫苗接种率")
    specs = {
        "department": (Role.DEPARTMENT, own), "other_department": (Role.DEPARTMENT, other),
        "finance": (Role.FINANCE, None), "expert": (Role.EXPERT, None), "expert2": (Role.EXPERT, None),
        "expert3": (Role.EXPERT, None), "outsider_expert": (Role.EXPERT, None), "admin": (Role.ADMIN, None),
    }
    users = {}
    for name, (role, department) in specs.items():
        user = User(username=name, display_name=name, role=role, department=department, password_hash="x")
        session.add(user)
        users[name] = user
    session.flush()
    actors = {name: Actor.of(user) for name, user in users.items()}
    session.commit()
    return World(session, own, other, actors, users)
