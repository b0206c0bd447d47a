"""Cookie flags, CSRF on every form, and security headers on every response (security.md 2.1, 2.4)."""
from __future__ import annotations

from flask import Flask, g, request
from flask_wtf.csrf import CSRFProtect

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
    if g.get("user") is not None and request.endpoint != "static":
        # Personal pages must not be stored by the browser or a proxy (CVE-2023-30861 advice).
        headers["Cache-Control"] = "no-store"
        headers.add("Vary", "Cookie")
    return response
