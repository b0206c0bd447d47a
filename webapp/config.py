"""Configuration, read in one place: defaults → environment → the test mapping."""
from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

DEFAULTS: dict[str, Any] = {
    "KB_DATA_DIR": "./instance",
    "DATABASE_URL": None,  # default: sqlite:///$KB_DATA_DIR/kb.sqlite3
    "KB_SECRET_KEY": None,  # default: generated once and kept in the data directory
    "SEARCH_BACKEND": "search.whoosh_backend.WhooshBackend",  # search.null.NullBackend: no search
    "SEARCH_INDEX_DIR": None,  # default: $KB_DATA_DIR/index
    "SEARCH_REPAIR_ON_START": True,
    # Rank by the meaning of the whole query too (search/meaning.py: a sentence model run on the CPU, ~10–30 ms a
    # query that its words alone do not answer; indexing encodes each new indicator text once). false: words only.
    "SEARCH_MEANING": True,  # kb serve: rebuild a missing/damaged/stale index, apply queued updates
    "MAX_CONTENT_LENGTH": 20 * 1024 * 1024,
    # Security profile (等保 2.0 / security.md); check-deploy reports unsafe values.
    "PASSWORD_MIN_LENGTH": 8,
    "PASSWORD_MAX_AGE_DAYS": 90,  # 0 disables rotation
    "PASSWORD_HISTORY": 5,  # the current and the last 4 passwords may not be chosen again (等保 practice)
    "ACCOUNT_INACTIVE_DAYS": 90,  # accounts unused this long are disabled (sign-in, kb users disable-inactive); 0: never
    "LOGIN_MAX_FAILURES": 5,
    "LOGIN_LOCKOUT_MINUTES": 15,
    # Failed sign-ins per real client address (any usernames) before that address must wait.
    "LOGIN_ADDRESS_MAX_FAILURES": 10,
    "LOGIN_ADDRESS_WINDOW_MINUTES": 15,
    # The reverse proxies whose X-Forwarded-For/-Proto are believed (comma-separated addresses or
    # networks, as gunicorn's --forwarded-allow-ips); from anyone else the headers are dropped.
    "FORWARDED_ALLOW_IPS": "127.0.0.1",
    "SEARCH_RATE_PER_MINUTE": 60,  # searches per user and minute (web and API); 0 switches the limit off
    "SESSION_IDLE_MINUTES": 30,
    "SESSION_COOKIE_SECURE": False,  # set true behind TLS
    "SEPARATION_OF_DUTIES": False,  # 三员分立: system / security / audit administrators
    "AUDIT_RETENTION_DAYS": 184,
    # kb serve refuses what kb check-deploy calls unsafe; true only on a test machine (or --allow-unsafe).
    "KB_ALLOW_UNSAFE": False,
    "UPLOAD_LIFETIME_MINUTES": 60,  # unconfirmed uploads are deleted after this (issue 14 item 3)
    "REVIEW_CERTIFICATION_RULE": "all",  # 专家审定: every assigned expert ("all") or a "majority"
    "KB_TIMEZONE": "Asia/Shanghai",  # the users' calendar: times on pages, dates in export file names
    "KB_QUERY_LOG_DAYS": 180,  # 检索日志 kept this many days (pruned daily and by kb querylog prune); 0: kept forever
}
ENVIRONMENT_KEYS = ("KB_DATA_DIR", "DATABASE_URL", "KB_SECRET_KEY", "SEARCH_BACKEND", "SEARCH_INDEX_DIR",
                    "REVIEW_CERTIFICATION_RULE", "FORWARDED_ALLOW_IPS", "KB_TIMEZONE")
# Numbers and switches a deployment sets in its environment (systemd unit / service), converted
# to the type of their default: e.g. SESSION_COOKIE_SECURE=true, MAX_CONTENT_LENGTH=10485760.
TYPED_ENVIRONMENT_KEYS = (
    "MAX_CONTENT_LENGTH", "PASSWORD_MIN_LENGTH", "PASSWORD_MAX_AGE_DAYS", "PASSWORD_HISTORY",
    "ACCOUNT_INACTIVE_DAYS", "LOGIN_MAX_FAILURES",
    "LOGIN_LOCKOUT_MINUTES", "LOGIN_ADDRESS_MAX_FAILURES", "LOGIN_ADDRESS_WINDOW_MINUTES", "SESSION_IDLE_MINUTES",
    "SEARCH_RATE_PER_MINUTE", "SEARCH_MEANING", "SESSION_COOKIE_SECURE", "SEPARATION_OF_DUTIES",
    "AUDIT_RETENTION_DAYS", "KB_ALLOW_UNSAFE", "UPLOAD_LIFETIME_MINUTES", "KB_QUERY_LOG_DAYS",
)


def load_config(test_config: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The effective settings; derived paths are resolved and the data directory exists."""
    environ = os.environ if environ is None else environ
    config = dict(DEFAULTS)
    config.update({key: environ[key] for key in ENVIRONMENT_KEYS if environ.get(key)})
    config.update({key: _typed(DEFAULTS[key], environ[key]) for key in TYPED_ENVIRONMENT_KEYS if environ.get(key)})
    config.update(test_config or {})
    data_dir = Path(config["KB_DATA_DIR"]).resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    config["KB_DATA_DIR"] = str(data_dir)
    config["DATABASE_URL"] = config["DATABASE_URL"] or f"sqlite:///{data_dir / 'kb.sqlite3'}"
    config["SEARCH_INDEX_DIR"] = str(Path(config["SEARCH_INDEX_DIR"] or data_dir / "index").resolve())
    config["SECRET_KEY"] = config.get("SECRET_KEY") or config["KB_SECRET_KEY"] or _stored_secret(data_dir)
    return config


def _typed(default: Any, value: str) -> Any:
    if isinstance(default, bool):
        return value.strip().lower() in ("1", "true", "yes", "on")
    if isinstance(default, int):
        return int(value)
    return value


def _stored_secret(data_dir: Path) -> str:
    """A random secret generated on first start and kept (mode 600) so sessions survive restarts."""
    path = data_dir / "secret_key"
    if not path.exists():
        path.touch(mode=0o600)
        path.write_text(secrets.token_hex(32), encoding="utf-8")
    return path.read_text(encoding="utf-8").strip()
