"""Who may do what: ONE predicate per action, used by services, views, the API and templates alike.

Services call these and raise the domain error (``PermissionDenied``, with a Chinese reason) when
one says no; views and templates call the same ones to decide which buttons to show, so a page never
offers what the service would refuse. Nothing else in the project compares roles.

The roles (:class:`kb.vocab.Role`) and what each may do:

- **department** (预算部门): reads everything; edits its own department's indicators while its set is
  a draft; submits and (re)confirms its own set, answers review comments on it, starts its next
  version; proposes changes to common indicators; drafts and submits its own performance goals;
  imports for its own department; fills in its own projects of an open monitoring round (运行监控).
- **finance** (财政): reads everything; edits every indicator and the common indicators at any time;
  confirms sets, assigns experts, comments, returns; decides change requests; drafts goals with a
  department, reviews and decides goals; imports for any department or the whole library; opens,
  closes and follows up monitoring rounds, changes the light rules, and may fill in for a department;
  maintains the search synonym groups.
- **expert** (专家): reads everything; comments on, certifies or returns the sets it is assigned to;
  reviews submitted goals.
- **admin** (管理员): administers accounts and department records. It keeps the library-maintenance
  rights of finance (editing indicators and common indicators, importing) because the permission
  matrix has always granted them (a county bureau often has one IT person fixing data); with
  三员分立 (``SEPARATION_OF_DUTIES``) on, the web layer takes these business writes away. An admin
  **never acts in a review workflow**: it does not submit, confirm, certify, return or start sets,
  assign experts, comment, decide change requests, nor draft, review or decide performance goals —
  those decisions carry a department's or finance's signature. It may read all of them. With
  三员分立 on it keeps only the system administrator's duties (accounts and department records).
- **sysadmin / secadmin / auditadmin** (系统管理员 / 安全管理员 / 审计管理员, 等保 8.1.5): the three
  administrators of 三员分立, with disjoint duties and no business rights (SEC-3Y-1..3): the system
  administrator runs accounts (create, role, department, disable, reset password, end sessions) and
  department records; the security administrator sees the security settings and unlocks accounts;
  the audit administrator reads the audit log, read-only. With ``SEPARATION_OF_DUTIES`` off the
  all-round ``admin`` does all three as well; with it on, only the dedicated role does each.
  Nobody changes their own role (whatever the setting).

The duty predicates (``can_manage_accounts``, ``can_manage_security``, ``can_read_audit``) take the
deployment's ``separation`` switch as an argument: predicates never read configuration.

Predicates take the :class:`~kb.services.audit.Actor` (anything with ``role``, ``user_id`` and
``department_id``) and the object; they answer for the actor's role and ownership and, where the
rule depends on it, the object's state. They never touch the database: callers pass what they load
(an expert's assignment, for instance).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from kb.models.goal import GoalStatus
from kb.vocab import Role, SetStatus

if TYPE_CHECKING:
    from kb.models import ChangeRequest, Department, Indicator, IndicatorSet, MonitoringRound, PerformanceGoal


class HasRole(Protocol):
    role: Role | None
    user_id: int | None
    department_id: int | None


# The library keepers: finance, and the administrator as its maintenance stand-in (see above).
LIBRARY_KEEPERS = frozenset({Role.FINANCE, Role.ADMIN})
# Who reads every department's change requests, goals and sets as a whole (not only their own).
OVERSEERS = frozenset({Role.FINANCE, Role.EXPERT, Role.ADMIN})
# The roles a goal review may come from; an admin never reviews (see above).
GOAL_REVIEWERS = frozenset({Role.FINANCE, Role.EXPERT})
REVIEWABLE_SET_STATES = (SetStatus.SUBMITTED, SetStatus.CONFIRMED)
ADMINISTRATORS = frozenset({Role.ADMIN, Role.SYSTEM_ADMIN, Role.SECURITY_ADMIN, Role.AUDIT_ADMIN})


def role_of(actor: Any) -> Role | None:
    """The actor's role as the enum (``None`` for an anonymous actor, who may do nothing)."""
    return Role(actor.role) if actor.role else None


def is_department(actor: HasRole) -> bool:
    return role_of(actor) is Role.DEPARTMENT


def is_finance(actor: HasRole) -> bool:
    """Finance proper (not the administrator)."""
    return role_of(actor) is Role.FINANCE


def is_expert(actor: HasRole) -> bool:
    return role_of(actor) is Role.EXPERT


def is_admin(actor: HasRole) -> bool:
    """Any administrator: the all-round ``admin`` or one of the three of 三员分立."""
    return role_of(actor) in ADMINISTRATORS


def is_own_department(actor: HasRole, department_id: int | None) -> bool:
    """A department user acting for its own department."""
    return is_department(actor) and department_id is not None and actor.department_id == department_id


# --- accounts ----------------------------------------------------------------------------------

def _duty(actor: HasRole, dedicated: Role, separation: bool) -> bool:
    """The dedicated 三员 role always; the all-round admin too while 三员分立 is off."""
    role = role_of(actor)
    return role is dedicated or (role is Role.ADMIN and not separation)


def can_manage_accounts(actor: HasRole, separation: bool = False) -> bool:
    """Accounts (create, change role or department, disable, reset password, end sessions) and
    department records: the system administrator, and the all-round admin (also under 三员分立,
    where it is the system administrator of an installation that started with one admin)."""
    return role_of(actor) in (Role.SYSTEM_ADMIN, Role.ADMIN)


def can_administer(actor: HasRole) -> bool:
    """The older name of :func:`can_manage_accounts` (services of department records use it)."""
    return can_manage_accounts(actor)


def can_manage_security(actor: HasRole, separation: bool = False) -> bool:
    """The security settings page and unlocking accounts: the security administrator."""
    return _duty(actor, Role.SECURITY_ADMIN, separation)


def can_read_audit(actor: HasRole, separation: bool = False) -> bool:
    """The audit log, read-only (nobody may change it): the audit administrator."""
    return _duty(actor, Role.AUDIT_ADMIN, separation)


def can_change_role(actor: HasRole, user_id: int, separation: bool = False) -> bool:
    """Give an account another role: an account manager, never for their own account."""
    return can_manage_accounts(actor, separation) and actor.user_id != user_id


# --- the library -------------------------------------------------------------------------------

def can_keep_library(actor: HasRole) -> bool:
    """Edit any indicator and the common indicators, import for any department or the whole library."""
    return role_of(actor) in LIBRARY_KEEPERS


def _draft_or_none(department: Department | None) -> bool:
    current = department.current_set if department is not None else None
    return current is None or current.status == SetStatus.DRAFT


def can_add_indicator(actor: HasRole, department: Department | None) -> bool:
    """Add to ``department`` (None: the common indicators): keepers always, a department to its own draft."""
    if can_keep_library(actor):
        return True
    return department is not None and is_own_department(actor, department.id) and _draft_or_none(department)


def can_edit_indicator(actor: HasRole, indicator: Indicator) -> bool:
    """Keepers edit everything; a department edits its own indicators while its set is a draft."""
    if can_keep_library(actor):
        return True
    return (indicator.department_id is not None and is_own_department(actor, indicator.department_id)
            and _draft_or_none(indicator.department))


def can_import(actor: HasRole, department_id: int | None) -> bool:
    """Import a filled template for one department (``None``: several departments or common ones)."""
    return can_keep_library(actor) or (department_id is not None and is_own_department(actor, department_id))


def can_choose_import_department(actor: HasRole) -> bool:
    """Whether the import and export forms offer every department (else only the user's own)."""
    return can_keep_library(actor)


def can_import_anything(actor: HasRole) -> bool:
    """Whether the import page offers an upload at all."""
    return can_keep_library(actor) or (is_department(actor) and actor.department_id is not None)


# --- the indicator-set workflow ----------------------------------------------------------------
# Role and ownership only; the services add the state checks (with their own messages).

def can_submit_set(actor: HasRole, indicator_set: IndicatorSet) -> bool:
    return is_own_department(actor, indicator_set.department_id)


def can_confirm_set(actor: HasRole, indicator_set: IndicatorSet) -> bool:
    """双方确认: the set's own department and finance."""
    return is_finance(actor) or is_own_department(actor, indicator_set.department_id)


def can_certify_set(actor: HasRole, assigned: bool) -> bool:
    """An expert assigned to the set's open review (``assigned``, as the caller looked it up)."""
    return is_expert(actor) and assigned


def can_return_set(actor: HasRole, assigned: bool) -> bool:
    """Finance, or an expert assigned to the set's open review."""
    return is_finance(actor) or (is_expert(actor) and assigned)


def can_start_set(actor: HasRole, department: Department) -> bool:
    """Start a department's first set or its next version: finance or the department itself."""
    return is_finance(actor) or is_own_department(actor, department.id)


def can_assign_experts(actor: HasRole, indicator_set: IndicatorSet | None = None) -> bool:
    """Finance invites experts, once the set has been submitted (``None``: whether the role may at all)."""
    return is_finance(actor) and (indicator_set is None or indicator_set.status in REVIEWABLE_SET_STATES)


def can_comment_set(actor: HasRole, indicator_set: IndicatorSet, assigned: bool) -> bool:
    """Finance and the assigned experts comment while the set is under review."""
    return indicator_set.status in REVIEWABLE_SET_STATES and can_return_set(actor, assigned)


def can_answer_comments(actor: HasRole, indicator_set: IndicatorSet) -> bool:
    """The set's own department answers the reviewers' comments."""
    return is_own_department(actor, indicator_set.department_id)


# --- common-indicator change requests ----------------------------------------------------------

def can_request_change(actor: HasRole) -> bool:
    """Departments propose; finance edits common indicators directly."""
    return is_department(actor) and actor.department_id is not None


def can_view_change(actor: HasRole, request: ChangeRequest) -> bool:
    """Finance and the administrator see every request; a department sees its own department's."""
    return role_of(actor) in LIBRARY_KEEPERS or is_own_department(actor, request.department_id)


def can_list_changes(actor: HasRole) -> bool:
    return role_of(actor) in LIBRARY_KEEPERS or is_department(actor)


def can_decide_change(actor: HasRole) -> bool:
    return is_finance(actor)


def can_withdraw_change(actor: HasRole, request: ChangeRequest) -> bool:
    return is_own_department(actor, request.department_id)


# --- performance goals -------------------------------------------------------------------------

def can_view_goal(actor: HasRole, goal: PerformanceGoal) -> bool:
    """Finance, experts and administrators see every goal; a department sees its own."""
    return role_of(actor) in OVERSEERS or is_own_department(actor, goal.project.department_id)


def can_draft_goal(actor: HasRole, department: Department | None = None) -> bool:
    """Start a goal for ``department`` (``None``: whether the role drafts at all): its department or finance."""
    if department is None:
        return is_finance(actor) or is_department(actor)
    return is_finance(actor) or is_own_department(actor, department.id)


def can_edit_goal(actor: HasRole, goal: PerformanceGoal) -> bool:
    """The department (or finance helping it) edits while the goal is a draft or returned."""
    return goal.status.is_editable and (is_finance(actor) or is_own_department(actor, goal.project.department_id))


def can_review_goal(actor: HasRole, goal: PerformanceGoal | None = None) -> bool:
    """Finance and experts review submitted goals (``None``: whether the role reviews at all)."""
    return role_of(actor) in GOAL_REVIEWERS and (goal is None or goal.status == GoalStatus.SUBMITTED)


def can_decide_goal(actor: HasRole, goal: PerformanceGoal | None = None) -> bool:
    """Finance returns or approves a submitted goal."""
    return is_finance(actor) and (goal is None or goal.status == GoalStatus.SUBMITTED)


# --- monitoring (运行监控) ----------------------------------------------------------------------
# Finance runs the rounds; each department fills in its own projects (finance may help, as with goals).

def can_manage_monitoring(actor: HasRole) -> bool:
    """Open and close rounds, start a follow-up round for the warned projects."""
    return is_finance(actor)


def can_change_monitoring_rules(actor: HasRole) -> bool:
    """Change the light rules (a new, audited version used by rounds opened afterwards)."""
    return is_finance(actor)


def can_edit_synonyms(actor: HasRole) -> bool:
    """Maintain the search synonym groups (add, edit, retire; audited): the library keepers."""
    return role_of(actor) in LIBRARY_KEEPERS


def can_view_monitoring(actor: HasRole, department_id: int | None = None) -> bool:
    """Overseers read every department's monitoring; a department its own (``None``: whether at all)."""
    if role_of(actor) in OVERSEERS:
        return True
    # A department account without a department sees nothing (never "no filter", i.e. everything).
    return (is_department(actor) and actor.department_id is not None
            and (department_id is None or actor.department_id == department_id))


def can_fill_monitoring(actor: HasRole, monitoring_round: MonitoringRound, department_id: int) -> bool:
    """Fill in a project of an open round: its own department, or finance helping it."""
    return monitoring_round.is_open and (is_finance(actor) or is_own_department(actor, department_id))


# --- self-evaluation (自评) and spot checks (抽查复核) -------------------------------------------

def can_submit_selfeval(actor: HasRole, department_id: int | None) -> bool:
    """Fill or upload a 自评表 for a department: the department itself, or finance for any department."""
    return is_finance(actor) or (department_id is not None and is_own_department(actor, department_id))


def can_view_selfeval(actor: HasRole, department_id: int) -> bool:
    """Finance, experts and administrators read every self-evaluation; a department reads its own."""
    return role_of(actor) in OVERSEERS or is_own_department(actor, department_id)


def can_bulk_import_selfevals(actor: HasRole) -> bool:
    """Upload many departments' 自评表 at once (the bureau collects them): finance."""
    return is_finance(actor)


def can_spot_check(actor: HasRole) -> bool:
    """Draw the sample, record re-checked scores and problems: finance (the reviewer of 自评)."""
    return is_finance(actor)


# --- search insights (检索分析) --------------------------------------------------------------------

def can_view_search_insights(actor: HasRole) -> bool:
    """The query-log report (zero-hit, few-hit, never-opened queries): finance, and the administrator
    as the library's maintenance stand-in. It shows queries and departments, never persons."""
    return role_of(actor) in LIBRARY_KEEPERS


def sees_only_own_department(actor: HasRole) -> bool:
    """Lists (goals, imports, inbox) narrowed to the user's department."""
    return is_department(actor)


# Every predicate a template may call (``webapp`` exposes them through a context processor).
PREDICATES = {name: value for name, value in list(globals().items())
              if name.startswith(("can_", "is_", "sees_")) and callable(value)}
