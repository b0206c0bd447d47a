"""Schema migrations (Alembic), shipped inside the package so every installation can upgrade.

Revision ``0001`` is the schema of release 0.1.0 (the foundation). Use :func:`upgrade_database`
(``kb db upgrade``, ``kb init``); it also adopts databases created before migrations existed.
"""
from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, inspect

import kb.models
from kb.models import Base

MIGRATIONS_DIR = Path(__file__).resolve().parent
BASELINE = "0001"
#: The tables of revision 0001; an unversioned database holding them is a 0.1.0 installation.
BASELINE_TABLES = frozenset(
    {"departments", "indicator_sets", "indicators", "indicator_basis", "users", "audit_log"}
)


def load_all_models() -> None:
    """Import every module of ``kb.models`` so ``Base.metadata`` knows every table (some are not
    re-exported by ``kb.models``)."""
    for module in pkgutil.iter_modules(kb.models.__path__):
        importlib.import_module(f"kb.models.{module.name}")


load_all_models()


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic configuration over our scripts, bound to ``connection`` when given."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("path_separator", "os")
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    """The newest revision shipped with this release."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at (None: unversioned or empty)."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def upgrade_database(engine: Engine, revision: str = "head") -> tuple[str | None, str | None]:
    """Bring the schema to ``revision``; return (revision before, revision after).

    An empty database is created from the revisions. A database that has tables but no version
    (made by ``create_all`` before migrations existed) is stamped first: at head when it already
    has every table of this release, else at the 0.1.0 baseline, and then upgraded.
    """
    before = current_revision(engine)
    with engine.begin() as connection:
        config = alembic_config(connection)
        if before is None:
            existing = set(inspect(connection).get_table_names())
            if set(Base.metadata.tables) <= existing:
                command.stamp(config, "head")
                _ensure_audit_protection(connection)
            elif BASELINE_TABLES <= existing:
                command.stamp(config, BASELINE)
        command.upgrade(config, revision)
    return before, current_revision(engine)


def _ensure_audit_protection(connection: Connection) -> None:
    from kb.migrations.audit_protection import install_audit_protection

    install_audit_protection(connection)


def schema_differences(engine: Engine) -> list:
    """What differs between the database and the models (empty when in step), as Alembic diffs."""
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True}
        )
        return compare_metadata(context, Base.metadata)


def new_revision(engine: Engine, message: str, rev_id: str) -> None:
    """Autogenerate a revision file from the difference between ``engine``'s schema and the models.

    For developers: run it against a database upgraded to head, then read and test the file.
    """
    with engine.begin() as connection:
        command.revision(alembic_config(connection), message=message, autogenerate=True, rev_id=rev_id)
