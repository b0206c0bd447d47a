"""What a query says besides its words: the departments and indicator categories it names.

Understanding uses data only: category words come from the taxonomy (``时效指标``, ``满意度指标``,
``效益指标`` …) and department words from the departments in the database (``民政``, ``教育局``, ``卫健局``:
see :mod:`kb.intent`). :mod:`kb.searching` turns a query made only of such words into filters.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from kb.intent import find_departments, is_name_word
from kb.models import Department, Indicator
from kb.vocab import taxonomy
from search.analysis import normalize

# What is left of a query once its department and category words are gone that asks for nothing more
# (卫健委的满意度指标, 住建局有哪些指标).
_FILLER = re.compile(r"[\s,，、;；:：。?？的]+|有哪些|哪些|相关|所有|全部|指标")


@dataclass
class Understanding:
    """What a query says besides its words: departments and categories named in it."""

    text: str
    departments: list[str] = field(default_factory=list)
    level1: str | None = None
    level2: str | None = None
    department_names: dict[str, str] = field(default_factory=dict)  # code → name of every department


def _category_words() -> list[tuple[str, str, str]]:
    """``(word, level, value)`` for every category name and alias ending in 指标, longest first."""
    tax = taxonomy()
    words = []
    for level1, level2s in tax.levels.items():
        words.append((level1, "level1", level1))
        words.extend((level2, "level2", level2) for level2 in level2s)
    words += [(alias, "level1", target) for alias, target in tax.level1_aliases.items()]
    words += [(alias, "level2", tax.canonical_level2(target)) for alias, target in tax.level2_aliases.items()]
    return sorted({w for w in words if w[0].endswith("指标")}, key=lambda w: len(w[0]), reverse=True)


def _bare_category(found: Understanding, remaining: str, department_words: list[str]) -> str:
    """A department and a category named without 指标 (民政 质量, 教育 可持续影响, 农委 满意度): the category
    is meant, as with 指标. Only when the category is all that is left: 工程质量 stays words to search."""
    tax = taxonomy()
    bare = remaining
    for word in department_words:  # 教育 可持续影响: 教育 names the department here, whatever else it means
        bare = bare.replace(word, " ")
    bare = _FILLER.sub("", bare)
    if len(bare) < 2:
        return remaining
    level2, level1 = tax.canonical_level2(bare), tax.canonical_level1(bare)
    if any(level2 in level2s for level2s in tax.levels.values()):
        found.level2 = level2
        found.level1 = next(l1 for l1, l2s in tax.levels.items() if level2 in l2s)
    elif level1 in tax.levels:
        found.level1 = level1
    else:
        return remaining
    return ""


def department_rows(session: Session) -> list[tuple[int, str, str, bool]]:
    """``(id, code, name, has indicators)`` of every department: the vocabulary of department words and
    the labels of the department facet, in one query."""
    owners = select(Indicator.department_id).where(Indicator.department_id.is_not(None)).distinct()
    return [tuple(row) for row in
            session.execute(select(Department.id, Department.code, Department.name, Department.id.in_(owners)))]


def understand(session: Session, text: str,
               departments: list[tuple[int, str, str, bool]] | None = None) -> Understanding:
    """Find category and department words in ``text``; the rest is the text to search.

    ``departments``: :func:`department_rows` when the caller has them (read from the database otherwise).
    """
    rest = normalize(text)
    found = Understanding(text=rest)
    for word, level, value in _category_words():
        if word in rest:
            rest = rest.replace(word, " ")
            if getattr(found, level) is None:
                setattr(found, level, value)
    if found.level2 and not found.level1:
        found.level1 = next((l1 for l1, l2s in taxonomy().levels.items() if found.level2 in l2s), None)
    # Only departments that have indicators can be meant (a department with none would empty the results).
    # One query: the names also label the department facet of the results.
    rows = department_rows(session) if departments is None else departments
    found.department_names = {code: name for _, code, name, _ in rows}
    departments = [(code, name) for _, code, name, owns in rows if owns]
    named, words = [], []
    parts = set(re.split(r"[\s,，、;；:：。]+", rest))
    names = dict(departments)
    for word, code in find_departments(rest, departments):
        words.append(word)
        if code not in found.departments:
            found.departments.append(code)
        if word in parts or is_name_word(word, names[code]):
            named.append(word)
    remaining = rest
    for part in named:
        remaining = remaining.replace(part, " ")
    if found.departments and not (found.level1 or found.level2):
        remaining = _bare_category(found, remaining, words)
    if not _FILLER.sub("", remaining) and not (found.level1 or found.level2):
        remaining = rest  # only a department word (民政, 信访): search for it, with the department boosted
    elif not _FILLER.sub("", remaining):
        remaining = ""  # 卫健委的满意度指标: a department and a category, nothing else to match
    # Keep the punctuation: a pasted description's first clause names its project (see search.planner).
    found.text = re.sub(r"\s+", " ", remaining).strip(" ,，、;；:：。")
    return found
