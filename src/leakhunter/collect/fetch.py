"""HTTP fetching of profile endpoints: timeouts, retries with backoff, auth, TLS, size caps.

Every failure becomes one :class:`FetchError` line (connection refused, timed out,
HTTP status with a short body excerpt) so the watch loop can record it per
endpoint and go on. Bodies are streamed against a size cap: a 100k-goroutine
``debug=2`` dump must not be buffered whole just to be refused.
"""

from __future__ import annotations

import random
import ssl
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from types import TracebackType

import httpx

from leakhunter import __version__
from leakhunter.errors import TargetError

__all__ = ["FetchError", "FetchOptions", "Fetcher", "Response", "fetch"]

_RETRY_STATUS = frozenset({429, 500, 502, 503, 504})
_EXCERPT = 120


@dataclass(frozen=True, slots=True)
class FetchOptions:
    """How to talk to a target; filled from CLI flags or URL queries alike.

    ``timeout`` bounds a whole request (connect to last byte), not each read.
    A failed attempt is retried ``retries`` times (connection errors, timeouts,
    429 and 5xx only) after ``backoff * 2**attempt`` seconds, capped at
    ``backoff_max``, with +-``jitter`` relative noise so many watchers do not
    retry in lockstep.
    """

    timeout: float = 10.0
    retries: int = 2
    backoff: float = 0.5
    backoff_max: float = 8.0
    jitter: float = 0.25
    headers: tuple[tuple[str, str], ...] = ()
    bearer_token: str | None = field(default=None, repr=False)
    ca_file: str | None = None
    insecure: bool = False
    max_bytes: int = 256 << 20

    def to_json(self) -> dict[str, object]:
        """Return the options for a session manifest; secrets are never written."""
        return {
            "timeout": self.timeout,
            "retries": self.retries,
            "headers": sorted({name for name, _ in self.headers}),
            "bearer_token": self.bearer_token is not None,
            "ca_file": self.ca_file,
            "insecure": self.insecure,
            "max_bytes": self.max_bytes,
        }


class FetchError(TargetError):
    """One failed request, as one line; ``status`` is set for HTTP error answers."""

    def __init__(
        self, url: str, problem: str, status: int | None = None, *, retryable: bool | None = None
    ) -> None:
        super().__init__(f"GET {url}: {problem}")
        self.url = url
        self.problem = problem
        self.status = status
        #: Worth another attempt: network trouble, timeouts, 429 and 5xx by default.
        self.retryable = (
            (status is None or status in _RETRY_STATUS) if retryable is None else retryable
        )


@dataclass(frozen=True, slots=True)
class Response:
    """A successful answer; ``truncated`` when the body was cut at the size cap."""

    url: str
    status: int
    content: bytes
    content_type: str = ""
    truncated: bool = False


def _describe(exc: httpx.HTTPError, timeout: float) -> str:
    if isinstance(exc, httpx.TimeoutException):
        return f"timed out after {timeout:g}s"
    text = str(exc) or type(exc).__name__
    low = text.lower()
    if "refused" in low:
        return "connection refused (is the target up and serving pprof?)"
    if "certificate" in low or "ssl" in low:
        return f"TLS error: {text.splitlines()[0]}"
    if "name or service not known" in low or "nodename nor servname" in low:
        return "host not found"
    return text.splitlines()[0][:200]


def _excerpt(body: bytes) -> str:
    text = body[: _EXCERPT * 4].decode("utf-8", "replace")
    text = " ".join(text.split())
    return text[:_EXCERPT] + ("..." if len(text) > _EXCERPT else "")


class Fetcher:
    """A reusable HTTP client for one target's endpoints.

    ``sleep`` and ``rng`` are injectable so retry tests run instantly and
    deterministically; ``transport`` lets tests swap the network out.
    """

    def __init__(
        self,
        options: FetchOptions | None = None,
        *,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.options = options or FetchOptions()
        self._sleep = sleep
        self._rng = rng or random.Random()
        headers = {"User-Agent": f"leakhunter/{__version__}"}
        headers.update(dict(self.options.headers))
        if self.options.bearer_token is not None:
            headers["Authorization"] = f"Bearer {self.options.bearer_token}"
        verify: ssl.SSLContext | bool = True
        if self.options.insecure:
            verify = False
        elif self.options.ca_file:
            try:
                verify = ssl.create_default_context(cafile=self.options.ca_file)
            except (OSError, ssl.SSLError) as exc:
                raise TargetError(f"cannot load CA file {self.options.ca_file}: {exc}") from None
        self._client = httpx.Client(
            headers=headers,
            verify=verify,
            timeout=httpx.Timeout(self.options.timeout),
            follow_redirects=True,
            transport=transport,
        )

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the underlying connections."""
        self._client.close()

    def delay(self, attempt: int) -> float:
        """Return the backoff before retry number ``attempt`` (0-based), with jitter."""
        opts = self.options
        base: float = min(opts.backoff * 2.0**attempt, opts.backoff_max)
        return max(0.0, base * (1 + opts.jitter * (2 * self._rng.random() - 1)))

    def get(self, url: str, *, max_bytes: int | None = None, truncate: bool = False) -> Response:
        """GET url, retrying transient failures; return the (possibly truncated) body.

        Past ``max_bytes`` (default ``options.max_bytes``) the download stops: with
        ``truncate`` the first ``max_bytes`` are returned marked truncated, else
        it is an error.

        Raises:
            FetchError: the request failed after all retries, or answered non-2xx.
        """
        attempt = 0
        while True:
            try:
                return self._get_once(url, max_bytes, truncate)
            except FetchError as exc:
                if not exc.retryable or attempt >= self.options.retries:
                    raise
            self._sleep(self.delay(attempt))
            attempt += 1

    def _get_once(self, url: str, max_bytes: int | None, truncate: bool) -> Response:
        cap = self.options.max_bytes if max_bytes is None else max_bytes
        timeout = self.options.timeout
        deadline = time.monotonic() + timeout
        try:
            with self._client.stream("GET", url) as resp:
                if resp.status_code >= 400:
                    body = b"".join(_bounded(resp.iter_bytes(), 4096))
                    raise FetchError(
                        url,
                        f"HTTP {resp.status_code} {resp.reason_phrase}"
                        + (f": {_excerpt(body)}" if body.strip() else ""),
                        status=resp.status_code,
                    )
                chunks: list[bytes] = []
                size = 0
                truncated = False
                for chunk in resp.iter_bytes():
                    if time.monotonic() > deadline:
                        raise FetchError(url, f"timed out after {timeout:g}s (slow body)")
                    if size + len(chunk) > cap:
                        if not truncate:
                            raise FetchError(
                                url, f"response larger than the {cap}-byte limit", retryable=False
                            )
                        chunks.append(chunk[: cap - size])
                        truncated = True
                        break
                    chunks.append(chunk)
                    size += len(chunk)
                return Response(
                    url=url,
                    status=resp.status_code,
                    content=b"".join(chunks),
                    content_type=resp.headers.get("content-type", ""),
                    truncated=truncated,
                )
        except httpx.HTTPError as exc:
            raise FetchError(url, _describe(exc, timeout)) from None


def _bounded(chunks: Iterator[bytes], cap: int) -> list[bytes]:
    out: list[bytes] = []
    size = 0
    for chunk in chunks:
        out.append(chunk[: cap - size])
        size += len(out[-1])
        if size >= cap:
            break
    return out


def fetch(url: str, options: FetchOptions | None = None) -> bytes:
    """GET one URL with the given options and return its body (a convenience)."""
    with Fetcher(options) as fetcher:
        return fetcher.get(url).content
