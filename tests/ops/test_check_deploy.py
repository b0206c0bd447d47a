"""``kb check-deploy``: each unsafe setting is reported (exit 1); the documented setup is clean."""
from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, insert

from kb.migrations import upgrade_database
from kb.models import User
from kb.services.users import hash_password, verify_password
from webapp.cli import main
from webapp.commands.deploy_checks import ADVICE, UNSAFE, Deployment, run_checks
from webapp.config import DEFAULTS

DOCUMENTED = dict(
    DEFAULTS,
    SECRET_KEY="9f1c0d2e" * 8,
    SESSION_COOKIE_SECURE=True,
    SESSION_COOKIE_HTTPONLY=True,
    SESSION_COOKIE_SAMESITE="Lax",
    MAX_CONTENT_LENGTH=10 * 1024 * 1024,
    SEPARATION_OF_DUTIES=True,
)


@pytest.fixture
def deployment(engine: Engine, tmp_path: Path) -> Deployment:
    upgrade_database(engine)
    config = dict(DOCUMENTED, KB_DATA_DIR=str(tmp_path), SEARCH_INDEX_DIR=str(tmp_path / "index"))
    return Deployment(config=config, engine=engine, mounts="", hash_sample=lambda: hash_password("x"),
                      verify_password=verify_password)


def codes(deployment: Deployment, level: str = UNSAFE) -> set[str]:
    return {finding.code for finding in run_checks(deployment) if finding.level == level}


def test_documented_setup_is_clean(deployment: Deployment) -> None:
    assert run_checks(deployment) == []


@pytest.mark.parametrize(("setting", "value", "code"), [
    ("DEBUG", True, "debug"),
    ("TESTING", True, "debug"),
    ("SECRET_KEY", "test-secret", "secret"),
    ("SECRET_KEY", "short-but-random-3f9a", "secret"),
    ("SESSION_COOKIE_SECURE", False, "cookie-secure"),
    ("SESSION_COOKIE_HTTPONLY", False, "cookie-httponly"),
    ("PASSWORD_MIN_LENGTH", 6, "password-length"),
    ("LOGIN_MAX_FAILURES", 0, "lockout"),
    ("SESSION_IDLE_MINUTES", 120, "idle-timeout"),
    ("AUDIT_RETENTION_DAYS", 180, "audit-retention"),
    ("MAX_CONTENT_LENGTH", None, "upload-limit"),
])
def test_unsafe_setting_is_reported(deployment: Deployment, setting: str, value, code: str) -> None:
    deployment.config[setting] = value
    assert code in codes(deployment)


@pytest.mark.parametrize(("setting", "value", "code"), [
    ("PASSWORD_MAX_AGE_DAYS", 0, "password-rotation"),
    ("LOGIN_MAX_FAILURES", 10, "lockout"),
    ("SEPARATION_OF_DUTIES", False, "three-admins"),
    ("MAX_CONTENT_LENGTH", 50 * 1024 * 1024, "upload-limit"),
])
def test_weaker_choices_are_advice_only(deployment: Deployment, setting: str, value, code: str) -> None:
    deployment.config[setting] = value
    assert code in codes(deployment, ADVICE) and codes(deployment) == set()


def test_plain_http_is_advice_when_declared(deployment: Deployment) -> None:
    deployment.config["SESSION_COOKIE_SECURE"] = False
    deployment.behind_tls = False
    assert codes(deployment) == set() and "tls" in codes(deployment, ADVICE)


@pytest.mark.parametrize("sample", [
    "$argon2id$v=19$m=8192,t=1,p=1$c2FsdA$aGFzaA",  # below the ASVS table
    "scrypt:32768:8:1$salt$hash",  # werkzeug's default: not argon2id, too weak for p=1
    "$pbkdf2-sha256$1000$salt$hash",
])
def test_weak_password_hashing_is_reported(deployment: Deployment, sample: str) -> None:
    deployment.hash_sample = lambda: sample
    assert "hashing" in codes(deployment)


def test_missing_audit_triggers_are_reported(deployment: Deployment, engine: Engine) -> None:
    from kb.migrations.audit_protection import remove_audit_protection

    with engine.begin() as connection:
        remove_audit_protection(connection)
    assert "audit-protection" in codes(deployment)


def test_schema_behind_the_program_is_reported(deployment: Deployment, engine: Engine) -> None:
    with engine.begin() as connection:
        connection.exec_driver_sql("UPDATE alembic_version SET version_num = '0001'")
    assert "schema" in codes(deployment)


def test_sqlite_on_a_network_share_is_reported(deployment: Deployment, engine: Engine) -> None:
    if engine.dialect.name != "sqlite":
        deployment.mounts = f"server:/export {deployment.config['SEARCH_INDEX_DIR']} nfs4 rw 0 0"
        assert "index-network" in codes(deployment)
        return
    folder = Path(engine.url.database).resolve().parent
    deployment.mounts = f"/dev/vda / ext4 rw 0 0\n//fileserver/kb {folder} cifs rw 0 0"
    assert "sqlite-network" in codes(deployment)


def test_default_account_with_trivial_password_is_reported(deployment: Deployment, engine: Engine) -> None:
    with engine.begin() as connection:
        connection.execute(insert(User).values(username="admin", role="admin", password_hash=hash_password("admin"),
                                               display_name="", is_active=True, failed_logins=0, session_epoch=0))
    assert "default-account" in codes(deployment)


def test_secret_file_readable_by_others_is_reported(deployment: Deployment, tmp_path: Path) -> None:
    secret = tmp_path / "secret_key"
    secret.write_text("x" * 64, encoding="utf-8")
    secret.chmod(0o644)
    assert "secret-file" in codes(deployment)


def test_command_exits_1_on_unsafe_and_0_on_documented_setup(runner, monkeypatch) -> None:
    assert runner.invoke(main, ["db", "upgrade"]).exit_code == 0
    monkeypatch.setenv("KB_SECRET_KEY", "0c5e" * 16)
    unsafe = runner.invoke(main, ["check-deploy"])
    assert unsafe.exit_code == 1 and "SESSION_COOKIE_SECURE" in unsafe.output
    for key, value in {"SESSION_COOKIE_SECURE": "true", "MAX_CONTENT_LENGTH": "10485760", "SEPARATION_OF_DUTIES": "true"}.items():
        monkeypatch.setenv(key, value)
    clean = runner.invoke(main, ["check-deploy"])
    assert clean.exit_code == 0, clean.output
    assert "部署检查通过" in clean.output


def test_a_machine_that_cannot_run_the_sentence_model_is_told_so(deployment: Deployment, monkeypatch) -> None:
    import webapp.commands.deploy_checks as checks

    monkeypatch.setattr(checks, "unavailable", lambda: "本机处理器不支持 AVX2 指令")
    assert "search-meaning" in codes(deployment, ADVICE) and not codes(deployment)
    deployment.config["SEARCH_MEANING"] = False  # switched off on purpose: nothing to say
    assert run_checks(deployment) == []
