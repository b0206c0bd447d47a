"""Issue 14 items 1 and 14: ``kb serve`` refuses what ``kb check-deploy`` calls unsafe (unless told
it is a test machine) and hands ``--forwarded-allow-ips`` to the app it serves."""
from __future__ import annotations

import pytest

from webapp.cli import main

STRONG_SECRET = "0c5e" * 16


@pytest.fixture
def served(runner, monkeypatch):
    """The apps ``kb serve --server waitress`` would have served (the server itself is not started)."""
    import waitress

    apps = []
    monkeypatch.setattr(waitress, "serve", lambda app, **options: apps.append(app))
    assert runner.invoke(main, ["db", "upgrade"]).exit_code == 0
    return apps


def serve(runner, *options: str):
    return runner.invoke(main, ["serve", "--server", "waitress", *options])


@pytest.mark.parametrize("secret", ["dev", "short-secret-1234"])
def test_weak_secret_is_refused(runner, served, monkeypatch, secret: str) -> None:
    monkeypatch.setenv("KB_SECRET_KEY", secret)
    result = serve(runner)
    assert result.exit_code == 1 and served == []
    assert "KB_SECRET_KEY" in result.output and "拒绝启动" in result.output
    monkeypatch.setenv("KB_SECRET_KEY", STRONG_SECRET)  # the same setup with a proper secret starts
    started = serve(runner)
    assert started.exit_code == 0, started.output
    assert len(served) == 1 and "不安全" not in started.output


def test_the_override_is_explicit_and_warns(runner, served, monkeypatch) -> None:
    monkeypatch.setenv("KB_SECRET_KEY", "dev")
    result = serve(runner, "--allow-unsafe")
    assert result.exit_code == 0 and len(served) == 1
    assert "警告" in result.output and "KB_SECRET_KEY" in result.output
    monkeypatch.setenv("KB_ALLOW_UNSAFE", "true")
    assert serve(runner).exit_code == 0 and len(served) == 2


def test_plain_http_on_the_network_needs_the_secure_cookie(runner, served, monkeypatch) -> None:
    monkeypatch.setenv("KB_SECRET_KEY", STRONG_SECRET)
    refused = serve(runner, "--host", "0.0.0.0")
    assert refused.exit_code == 1 and "SESSION_COOKIE_SECURE" in refused.output
    monkeypatch.setenv("SESSION_COOKIE_SECURE", "true")
    assert serve(runner, "--host", "0.0.0.0").exit_code == 0


def test_forwarded_allow_ips_reaches_the_app(runner, served, monkeypatch) -> None:
    monkeypatch.setenv("KB_SECRET_KEY", STRONG_SECRET)
    assert serve(runner, "--forwarded-allow-ips", "10.1.2.3,10.9.0.0/16").exit_code == 0
    proxies = served[0].extensions["trusted_proxies"]
    assert proxies.is_trusted("10.1.2.3") and proxies.is_trusted("10.9.8.7")
    assert not proxies.is_trusted("127.0.0.1") and not proxies.is_trusted("10.1.2.4")
    monkeypatch.setenv("FORWARDED_ALLOW_IPS", "192.168.0.10")  # the setting, when the option is absent
    assert serve(runner).exit_code == 0
    assert served[1].extensions["trusted_proxies"].is_trusted("192.168.0.10")
