"""``kb check-deploy``: the deployment self-check (security.md §4.1, after Django's ``check --deploy``).

Each check looks at one thing and returns findings. ``UNSAFE`` findings make the command exit 1;
``ADVICE`` findings are printed but do not fail (choices the bureau or its 测评机构 makes).
"""
from __future__ import annotations

import importlib.util
import re
import stat
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, inspect, select

from kb.migrations import current_revision, head_revision
from kb.migrations.audit_protection import MINIMUM_RETENTION_DAYS
from search.meaning import unavailable

UNSAFE = "不安全"
ADVICE = "建议"
KNOWN_WEAK_SECRETS = {"", "dev", "test", "secret", "changeme", "change-me", "test-secret", "please-change", "xiangyuan"}
NETWORK_FILESYSTEMS = {"nfs", "nfs4", "cifs", "smb3", "smbfs", "fuse.sshfs", "9p", "afs", "glusterfs", "ceph", "davfs", "fuse.davfs2"}
DEFAULT_ACCOUNTS = ("admin", "administrator", "root", "test", "sa")
TRIVIAL_PASSWORDS = ("admin", "123456", "password", "12345678", "admin123", "Admin@123")
MAX_UPLOAD_BYTES = 10 * 1024 * 1024  # SEC-UP-1


@dataclass(frozen=True)
class Finding:
    level: str
    code: str
    message: str

    def __str__(self) -> str:
        return f"[{self.level}] {self.code}: {self.message}"


@dataclass
class Deployment:
    """What the checks look at; built from the app by the command, by hand in tests."""

    config: dict[str, Any]
    engine: Engine
    behind_tls: bool = True
    mounts: str | None = None  # contents of /proc/mounts (None: read it)
    hash_sample: Callable[[], str] | None = None
    verify_password: Callable[[str, str], bool] | None = None


def check_debug(deployment: Deployment) -> Iterable[Finding]:
    config = deployment.config
    if config.get("DEBUG") or config.get("TESTING"):
        yield Finding(UNSAFE, "debug", "调试/测试模式已打开：出错时会泄露代码和数据。生产环境必须关闭 DEBUG 和 TESTING。")


def check_secret(deployment: Deployment) -> Iterable[Finding]:
    secret = str(deployment.config.get("SECRET_KEY") or "")
    if secret.lower() in KNOWN_WEAK_SECRETS or len(secret) < 32:
        yield Finding(UNSAFE, "secret", "KB_SECRET_KEY 为默认值或过短（少于 32 个字符）：会话可被伪造。"
                      "请删除该环境变量让系统生成随机密钥，或用 `python -c 'import secrets;print(secrets.token_hex(32))'` 生成。")
    stored = Path(deployment.config.get("KB_DATA_DIR", ".")) / "secret_key"
    if stored.exists() and stored.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        yield Finding(UNSAFE, "secret-file", f"{stored} 可被其他用户读取：请执行 chmod 600 {stored}。")


def check_cookies(deployment: Deployment) -> Iterable[Finding]:
    config = deployment.config
    if not config.get("SESSION_COOKIE_SECURE"):
        if deployment.behind_tls:
            yield Finding(UNSAFE, "cookie-secure", "经 HTTPS 反向代理访问时必须设置 SESSION_COOKIE_SECURE=true，否则登录凭据可能以明文传输。")
        else:
            yield Finding(ADVICE, "tls", "未使用 HTTPS：等保要求登录页在内的所有页面都加密传输（SEC-AUTH-3），请按 docs/deploy.md 配置 nginx + TLS。")
    if config.get("SESSION_COOKIE_HTTPONLY") is False:
        yield Finding(UNSAFE, "cookie-httponly", "SESSION_COOKIE_HTTPONLY 已关闭：脚本可读取会话 Cookie。")
    if str(config.get("SESSION_COOKIE_SAMESITE") or "").lower() not in ("lax", "strict"):
        yield Finding(ADVICE, "cookie-samesite", "建议 SESSION_COOKIE_SAMESITE 设为 Lax 或 Strict。")


def check_password_policy(deployment: Deployment) -> Iterable[Finding]:
    config = deployment.config
    if int(config.get("PASSWORD_MIN_LENGTH") or 0) < 8:
        yield Finding(UNSAFE, "password-length", "PASSWORD_MIN_LENGTH 小于 8：不满足等保身份鉴别要求。")
    max_age = int(config.get("PASSWORD_MAX_AGE_DAYS") or 0)
    if max_age == 0 or max_age > 90:
        yield Finding(ADVICE, "password-rotation", "等保测评通常要求至少每 90 天更换口令（PASSWORD_MAX_AGE_DAYS ≤ 90）。")
    failures = int(config.get("LOGIN_MAX_FAILURES") or 0)
    if failures == 0:
        yield Finding(UNSAFE, "lockout", "LOGIN_MAX_FAILURES 为 0：登录失败不锁定，口令可被暴力猜测。")
    elif failures > 5:
        yield Finding(ADVICE, "lockout", f"连续 {failures} 次失败才锁定；等保常用值为 5 次。")
    if int(config.get("LOGIN_LOCKOUT_MINUTES") or 0) < 15:
        yield Finding(ADVICE, "lockout-minutes", "锁定时间建议不少于 15 分钟（LOGIN_LOCKOUT_MINUTES）。")
    idle = int(config.get("SESSION_IDLE_MINUTES") or 0)
    if idle == 0 or idle > 30:
        yield Finding(UNSAFE, "idle-timeout", "SESSION_IDLE_MINUTES 应在 1–30 分钟之间：等保要求登录连接超时自动退出。")


def check_hashing(deployment: Deployment) -> Iterable[Finding]:
    """argon2id at or above the ASVS 5.0 table (t=2,m≥19 MiB or t≥3,m≥12 MiB), read from a real hash."""
    if deployment.hash_sample is None:
        return
    sample = deployment.hash_sample()
    match = re.match(r"^\$argon2id\$v=\d+\$m=(\d+),t=(\d+),p=(\d+)\$", sample)
    if not match:
        yield Finding(UNSAFE, "hashing", f"口令未使用 argon2id 存储（{sample.split('$')[1] if '$' in sample else '未知算法'}）。")
        return
    memory_kib, time_cost = int(match[1]), int(match[2])
    if not ((time_cost >= 2 and memory_kib >= 19 * 1024) or (time_cost >= 3 and memory_kib >= 12 * 1024)):
        yield Finding(UNSAFE, "hashing", f"argon2id 参数过弱（t={time_cost}, m={memory_kib} KiB）：至少 t=2 且 m≥19 MiB。")


def check_audit(deployment: Deployment) -> Iterable[Finding]:
    days = int(deployment.config.get("AUDIT_RETENTION_DAYS") or 0)
    if days < MINIMUM_RETENTION_DAYS:
        yield Finding(UNSAFE, "audit-retention", f"AUDIT_RETENTION_DAYS={days}：《网络安全法》要求网络日志留存不少于六个月（至少 {MINIMUM_RETENTION_DAYS} 天）。")
    engine = deployment.engine
    with engine.connect() as connection:
        if engine.dialect.name == "sqlite":
            names = set(connection.exec_driver_sql("SELECT name FROM sqlite_master WHERE type = 'trigger'").scalars())
            protected = {"audit_log_no_update", "audit_log_retention"} <= names
        elif engine.dialect.name == "postgresql":
            protected = connection.exec_driver_sql(
                "SELECT count(*) FROM pg_trigger WHERE tgname = 'audit_log_protect' AND NOT tgisinternal"
            ).scalar() == 1
        else:
            protected = False
    if not protected:
        yield Finding(UNSAFE, "audit-protection", "数据库中缺少审计日志防篡改触发器：请运行 kb db upgrade。")
    if not deployment.config.get("SEPARATION_OF_DUTIES"):
        yield Finding(ADVICE, "three-admins", "未启用三员分立（SEPARATION_OF_DUTIES）：等保三级要求系统、安全、审计管理员分设。")


def check_uploads(deployment: Deployment) -> Iterable[Finding]:
    limit = deployment.config.get("MAX_CONTENT_LENGTH")
    if not limit:
        yield Finding(UNSAFE, "upload-limit", "未设置 MAX_CONTENT_LENGTH：上传大小不受限制。")
    elif int(limit) > MAX_UPLOAD_BYTES:
        yield Finding(ADVICE, "upload-limit", f"上传上限 {int(limit) // 1048576} MiB；建议 ≤ 10 MiB，并与 nginx client_max_body_size 一致。")
    if importlib.util.find_spec("defusedxml") is None:
        yield Finding(UNSAFE, "defusedxml", "未安装 defusedxml：读取 Excel 时可能遭受 XML 炸弹攻击。")


def check_database(deployment: Deployment) -> Iterable[Finding]:
    engine = deployment.engine
    if engine.dialect.name == "sqlite":
        database = Path(engine.url.database or "")
        if str(database).startswith(("\\\\", "//")) or _filesystem(database, deployment.mounts) in NETWORK_FILESYSTEMS:
            yield Finding(UNSAFE, "sqlite-network", f"SQLite 数据库 {database} 位于网络共享上：文件锁不可靠，可能损坏数据。请放在本机磁盘，或改用 PostgreSQL。")
        with engine.connect() as connection:
            pragmas = {name: connection.exec_driver_sql(f"PRAGMA {name}").scalar() for name in ("foreign_keys", "journal_mode")}
        if pragmas["foreign_keys"] != 1:
            yield Finding(UNSAFE, "foreign-keys", "SQLite 外键检查未开启。")
        if str(pragmas["journal_mode"]).lower() != "wal":
            yield Finding(UNSAFE, "wal", "SQLite 未使用 WAL 日志模式。")
    index_dir = Path(deployment.config.get("SEARCH_INDEX_DIR") or ".")
    if _filesystem(index_dir, deployment.mounts) in NETWORK_FILESYSTEMS:
        yield Finding(UNSAFE, "index-network", f"检索索引目录 {index_dir} 位于网络共享上，不受支持。")
    current, head = current_revision(engine), head_revision()
    if current != head:
        yield Finding(UNSAFE, "schema", f"数据库结构版本为 {current or '未标记'}，本程序需要 {head}：请先备份，再运行 kb db upgrade。")


def check_search_meaning(deployment: Deployment) -> Iterable[Finding]:
    if deployment.config.get("SEARCH_MEANING"):
        reason = unavailable()
        if reason:
            yield Finding(ADVICE, "search-meaning", f"整句意思排序无法使用（{reason}），检索只按词排序，口语问法的结果会差一些。"
                          "可设置 SEARCH_MEANING=false 不再提示。")


def check_default_accounts(deployment: Deployment) -> Iterable[Finding]:
    if deployment.verify_password is None or "users" not in inspect(deployment.engine).get_table_names():
        return
    from kb.models import User

    with deployment.engine.connect() as connection:
        rows = connection.execute(
            select(User.username, User.password_hash).where(User.is_active.is_(True), User.username.in_(DEFAULT_ACCOUNTS))
        ).all()
    for username, password_hash in rows:
        if any(deployment.verify_password(password_hash, guess) for guess in (*TRIVIAL_PASSWORDS, username)):
            yield Finding(UNSAFE, "default-account", f"账号 {username} 使用默认或弱口令：请立即修改或停用该账号。")


CHECKS = (
    check_debug, check_secret, check_cookies, check_password_policy, check_hashing,
    check_audit, check_uploads, check_database, check_default_accounts, check_search_meaning,
)


def run_checks(deployment: Deployment) -> list[Finding]:
    """Every finding, unsafe ones first."""
    findings = [finding for check in CHECKS for finding in check(deployment)]
    return sorted(findings, key=lambda finding: finding.level != UNSAFE)


def deployment_of(app, behind_tls: bool = True) -> Deployment:
    """What the checks look at for a built app (``kb check-deploy`` and ``kb serve``)."""
    from kb.services.users import hash_password, verify_password

    return Deployment(
        config=dict(app.config),
        engine=app.extensions["kb"].engine,
        behind_tls=behind_tls,
        hash_sample=lambda: hash_password("Check-deploy#1"),
        verify_password=verify_password,
    )


def unsafe_findings(deployment: Deployment) -> list[Finding]:
    """The findings that make check-deploy fail and kb serve refuse to start."""
    return [finding for finding in run_checks(deployment) if finding.level == UNSAFE]


def _filesystem(path: Path, mounts: str | None) -> str:
    """The filesystem type holding ``path`` (longest matching mount point in /proc/mounts)."""
    if mounts is None:
        try:
            mounts = Path("/proc/mounts").read_text(encoding="utf-8")
        except OSError:  # not Linux
            return ""
    resolved = str(Path(path).resolve())
    best, kind = "", ""
    for line in mounts.splitlines():
        parts = line.split()
        if len(parts) < 3:
            continue
        point = parts[1].replace("\\040", " ")
        if (resolved == point or resolved.startswith(point.rstrip("/") + "/")) and len(point) >= len(best):
            best, kind = point, parts[2]
    return kind
