"""Cookie flags, CSRF on every form, and security headers on every response (security.md 2.1, 2.4)."""
from __future__ import annotations

import ipaddress

from flask import Flask, current_app, g, request
from flask_wtf.csrf import CSRFProtect
from werkzeug.middleware.proxy_fix import ProxyFix

from webapp import ratelimit

csrf = CSRFProtect()

CONTENT_SECURITY_POLICY = "; ".join((
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "font-src 'self'",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "frame-ancestors 'none'",
    "form-action 'self'",
))


# Headers a client could forge to pass for another address, scheme or host.
FORWARDED_HEADERS = ("HTTP_X_FORWARDED_FOR", "HTTP_X_FORWARDED_PROTO", "HTTP_X_FORWARDED_HOST",
                     "HTTP_X_FORWARDED_PORT", "HTTP_X_FORWARDED_PREFIX", "HTTP_FORWARDED")


class TrustedProxies:
    """WSGI middleware: X-Forwarded-For/-Proto are believed only from the configured proxies.

    A request whose socket peer is one of ``FORWARDED_ALLOW_IPS`` goes through werkzeug's ProxyFix
    (one hop: the address nginx wrote); from anyone else the forwarding headers are removed, so a
    client can neither hide behind a made-up address nor pin its failures on someone else's
    (ASVS 15.3.4). ``*`` trusts every peer (only for a server reachable from the proxy alone).
    """

    def __init__(self, wsgi_app, trusted: str) -> None:
        self.plain = wsgi_app
        self.fixed = ProxyFix(wsgi_app, x_for=1, x_proto=1)
        self.trust(trusted)

    def trust(self, trusted: str) -> None:
        items = [item.strip() for item in (trusted or "").split(",") if item.strip()]
        self.everyone = "*" in items
        self.networks = [ipaddress.ip_network(item, strict=False) for item in items if item != "*"]

    def is_trusted(self, address: str) -> bool:
        if self.everyone:
            return True
        try:
            peer = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(peer in network for network in self.networks)

    def __call__(self, environ, start_response):
        if self.is_trusted(environ.get("REMOTE_ADDR", "")):
            return self.fixed(environ, start_response)
        for key in FORWARDED_HEADERS:
            environ.pop(key, None)
        return self.plain(environ, start_response)


def trust_proxies(app: Flask, trusted: str) -> None:
    """Change the trusted proxies of a built app (``kb serve --forwarded-allow-ips``)."""
    app.config["FORWARDED_ALLOW_IPS"] = trusted
    app.extensions["trusted_proxies"].trust(trusted)


def configure(app: Flask) -> None:
    secure = bool(app.config.get("SESSION_COOKIE_SECURE"))
    app.config.update(
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=secure,
        # The __Host- prefix pins the cookie to this host and path over HTTPS.
        SESSION_COOKIE_NAME="__Host-kb_session" if secure else "kb_session",
        WTF_CSRF_TIME_LIMIT=None,  # the token lives as long as the session (idle timeout applies)
        WTF_CSRF_SSL_STRICT=secure,
    )
    app.config.setdefault("WTF_CSRF_ENABLED", True)
    csrf.init_app(app)
    app.after_request(add_headers)
    ratelimit.init_app(app)
    proxies = TrustedProxies(app.wsgi_app, app.config.get("FORWARDED_ALLOW_IPS", ""))
    app.extensions["trusted_proxies"] = proxies
    app.wsgi_app = proxies


def add_headers(response):
    headers = response.headers
    headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
    if request.is_secure:
        headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
    carries_csrf_token = bool(g.get(current_app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token")))
    if (g.get("user") is not None or carries_csrf_token) and request.endpoint != "static":
        # Personal pages, and any page holding a CSRF token (the login and error pages too), must not
        # be stored by the browser or a proxy (CVE-2023-30861 advice; a cached token is a reusable one).
        headers["Cache-Control"] = "no-store"
        headers.add("Vary", "Cookie")
    return response
