"""Target URLs without their secrets: credentials are split off once, never stored or shown.

``http://user:pass@host:6060`` is a valid target, but a session manifest, an
HTML report, a progress line or an error message must not carry the password.
The CLI splits the credentials off into FetchOptions.basic_auth at once, so
the URL that travels further is clean; :func:`redact` is the safety net for
anything printed.
"""

from __future__ import annotations

from urllib.parse import unquote, urlsplit, urlunsplit

__all__ = ["redact", "same_origin", "split_credentials"]


def split_credentials(url: str) -> tuple[str, tuple[str, str] | None]:
    """Return (url without user:password, (user, password) or None)."""
    parts = urlsplit(url if "://" in url else f"http://{url}")
    if "@" not in parts.netloc:
        return url, None
    userinfo, _, hostport = parts.netloc.rpartition("@")
    user, _, password = userinfo.partition(":")
    clean = urlunsplit(parts._replace(netloc=hostport))
    if "://" not in url:
        clean = clean.removeprefix("http://")
    return clean, (unquote(user), unquote(password))


def redact(url: str) -> str:
    """Return url with any user:password replaced by ``***`` (for anything shown or stored)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if "@" not in parts.netloc:
        return url
    hostport = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"***@{hostport}"))


def same_origin(a: str, b: str) -> bool:
    """Return True when two absolute URLs share scheme, host and port."""
    pa, pb = urlsplit(a), urlsplit(b)
    default = {"http": 80, "https": 443}
    try:
        port_a = pa.port or default.get(pa.scheme)
        port_b = pb.port or default.get(pb.scheme)
    except ValueError:
        return False
    return (pa.scheme, (pa.hostname or "").lower(), port_a) == (
        pb.scheme,
        (pb.hostname or "").lower(),
        port_b,
    )
