"""HTTP fetching of profile endpoints: timeouts, retries with backoff, auth, TLS, size caps.

Every failure becomes one :class:`FetchError` line (connection refused, timed out,
HTTP status with a short body excerpt) so the watch loop can record it per
endpoint and go on. Bodies are streamed against a size cap: a 100k-goroutine
``debug=2`` dump must not be buffered whole just to be refused.

Wall time is bounded: a ``deadline`` (the end of a watch's window) cuts each
request's timeout and ends retries, and a ``cancel`` event (Ctrl-C) abandons
the request in flight at once (it runs in a daemon thread the caller stops
waiting for). Redirects are followed on the same origin only (scheme, host,
port), with every header; to another host only when ``redirect_hosts`` names
it, and then without the custom headers, the token or the URL's credentials,
so secrets never leave for a host the user did not name. Credentials never
appear in a message (see leakhunter.urls).
"""

from __future__ import annotations

import contextlib
import functools
import os
import random
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from types import TracebackType
from urllib.parse import urlsplit

import httpx

from leakhunter import __version__
from leakhunter.errors import TargetError
from leakhunter.urls import redact, same_origin

__all__ = ["FetchError", "FetchOptions", "Fetcher", "Response", "fetch"]

_RETRY_STATUS = frozenset({429, 500, 502, 503, 504})
_EXCERPT = 120
_MAX_REDIRECTS = 5
_POLL = 0.05  # how often a cancelled wait looks at its event


@functools.cache
def _default_context() -> ssl.SSLContext:
    """The system's default verifying TLS context, built once per process.

    Building one loads the whole CA bundle (~25 ms and ~0.8 MiB): serve holds
    a client per target, so a context per client cost 2 s and 0.8 GiB at
    1,000 targets. An SSLContext is safe to share between threads.
    """
    return httpx.create_ssl_context()


@functools.lru_cache(maxsize=64)
def _ca_context(path: str, mtime_ns: int, size: int) -> ssl.SSLContext:
    """A context verifying against the CA file at path, shared while the file is unchanged."""
    del mtime_ns, size  # part of the cache key only: a replaced file gets a new context
    return ssl.create_default_context(cafile=path)


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
    # Header values are often secrets (API keys, a tenant's token): kept out of
    # repr like the token; to_json lists the names only.
    headers: tuple[tuple[str, str], ...] = field(default=(), repr=False)
    bearer_token: str | None = field(default=None, repr=False)
    ca_file: str | None = None
    insecure: bool = False
    max_bytes: int = 256 << 20
    basic_auth: tuple[str, str] | None = field(default=None, repr=False)
    redirect_hosts: tuple[str, ...] = ()

    def to_json(self) -> dict[str, object]:
        """Return the options for a session manifest; secrets are never written."""
        return {
            "timeout": self.timeout,
            "retries": self.retries,
            "headers": sorted({name for name, _ in self.headers}),
            "bearer_token": self.bearer_token is not None,
            "basic_auth": self.basic_auth is not None,
            "redirect_hosts": list(self.redirect_hosts),
            "ca_file": self.ca_file,
            "insecure": self.insecure,
            "max_bytes": self.max_bytes,
        }


class FetchError(TargetError):
    """One failed request, as one line; ``status`` is set for HTTP error answers."""

    def __init__(
        self, url: str, problem: str, status: int | None = None, *, retryable: bool | None = None
    ) -> None:
        url = redact(url)
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
    ``deadline`` (time.monotonic) and ``cancel`` bound every request's wall
    time; both may be set later, as the watch loop does.
    """

    deadline: float | None
    cancel: threading.Event | None

    def __init__(
        self,
        options: FetchOptions | None = None,
        *,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
        transport: httpx.BaseTransport | None = None,
        deadline: float | None = None,
        cancel: threading.Event | None = None,
    ) -> None:
        self.options = options or FetchOptions()
        self._sleep = sleep
        self._rng = rng or random.Random()
        self.deadline = deadline
        self.cancel = cancel
        headers = {"User-Agent": f"leakhunter/{__version__}"}
        headers.update(dict(self.options.headers))
        if self.options.bearer_token is not None:
            headers["Authorization"] = f"Bearer {self.options.bearer_token}"
        self._verify = self._tls()
        self._transport = transport
        self._client = httpx.Client(
            headers=headers,
            verify=self._verify,
            timeout=httpx.Timeout(self.options.timeout),
            follow_redirects=False,  # followed by hand: see the module's redirect policy
            transport=transport,
            auth=self.options.basic_auth,
        )
        self._bare: httpx.Client | None = None  # for allowed other hosts: no secrets

    def _tls(self) -> ssl.SSLContext | bool:
        if self.options.insecure:
            return False
        if self.options.ca_file:
            try:
                st = os.stat(self.options.ca_file)
                return _ca_context(self.options.ca_file, st.st_mtime_ns, st.st_size)
            except (OSError, ssl.SSLError) as exc:
                raise TargetError(f"cannot load CA file {self.options.ca_file}: {exc}") from None
        return _default_context()

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
        if self._bare is not None:
            self._bare.close()

    def bare_client(self) -> httpx.Client:
        """Return a client without custom headers, token or credentials (other hosts)."""
        if self._bare is None:
            self._bare = httpx.Client(
                headers={"User-Agent": f"leakhunter/{__version__}"},
                verify=self._verify,
                timeout=httpx.Timeout(self.options.timeout),
                follow_redirects=False,
                transport=self._transport,
            )
        return self._bare

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
            timeout = self._budget(url)
            try:
                return self._interruptible(
                    url, functools.partial(self._get_once, url, max_bytes, truncate, timeout)
                )
            except FetchError as exc:
                if not exc.retryable or attempt >= self.options.retries:
                    raise
                pause = self.delay(attempt)
                if self.deadline is not None and time.monotonic() + pause >= self.deadline:
                    raise  # no time left for another attempt
            self._sleep(pause)
            attempt += 1

    def _budget(self, url: str) -> float:
        """Return this attempt's timeout: the option, cut to what is left before the deadline."""
        if self.cancel is not None and self.cancel.is_set():
            raise FetchError(url, "stopped", retryable=False)
        timeout = self.options.timeout
        if self.deadline is not None:
            left = self.deadline - time.monotonic()
            if left <= 0:
                raise FetchError(url, "the watch window ended", retryable=False)
            timeout = min(timeout, left)
        return timeout

    def _interruptible(self, url: str, call: Callable[[], Response]) -> Response:
        """Run call, returning early (FetchError "stopped") once the cancel event is set.

        Without an event the call runs inline. With one it runs in a daemon
        thread that is abandoned on cancel: its own timeout ends it later, and
        nothing waits for it (a Ctrl-C must not wait out a slow request).
        """
        if self.cancel is None:
            return call()
        box: list[Response | BaseException] = []
        done = threading.Event()

        def work() -> None:
            try:
                box.append(call())
            except BaseException as exc:  # noqa: BLE001 - handed to the waiting thread
                box.append(exc)
            finally:
                done.set()

        worker = threading.Thread(target=work, daemon=True, name="leakhunter-fetch")
        worker.start()
        # Wake on the answer at once; look at the cancel event between waits.
        while not done.wait(_POLL):
            if self.cancel.is_set():
                raise FetchError(url, "stopped", retryable=False)
        result = box[0]
        if isinstance(result, BaseException):
            raise result
        return result

    def _get_once(
        self, url: str, max_bytes: int | None, truncate: bool, timeout: float
    ) -> Response:
        cap = self.options.max_bytes if max_bytes is None else max_bytes
        deadline = time.monotonic() + timeout
        try:
            with _redirects(self, url, timeout) as resp:
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


@contextlib.contextmanager
def _redirects(fetcher: Fetcher, url: str, timeout: float) -> Iterator[httpx.Response]:
    """Yield the streamed answer to GET url, following redirects as the policy allows."""
    client = fetcher._client
    current = url
    for _ in range(_MAX_REDIRECTS + 1):
        with client.stream("GET", current, timeout=httpx.Timeout(timeout)) as resp:
            if not (resp.is_redirect and "location" in resp.headers):
                yield resp
                return
            nxt = str(resp.url.join(resp.headers["location"]))
        if not same_origin(url, nxt):
            host = urlsplit(nxt).hostname or ""
            if host not in fetcher.options.redirect_hosts:
                raise FetchError(
                    url,
                    f"redirected to another host ({redact(nxt)}); redirects are followed "
                    "on the same host only (allow one with --allow-redirect HOST)",
                    retryable=False,
                )
            client = fetcher.bare_client()
        current = nxt
    raise FetchError(url, f"more than {_MAX_REDIRECTS} redirects", retryable=False)


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
