"""One HTTP path to the gateway: auth, correlation ids, JSON, typed errors, and retries that only
ever repeat idempotent calls.

Standard library by default (``urllib`` in a worker thread via ``asyncio.to_thread``, so the
event loop never blocks); ``httpx.AsyncClient`` when httpx is installed, or when
``MAS_HTTP_CLIENT=httpx``. ``MAS_HTTP_CLIENT=urllib`` forces the standard library.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import http.client
import json
import os
import random
import urllib.error
import urllib.request
import uuid
from typing import Any, Dict, Iterator, Mapping, Optional, Protocol
from urllib.parse import urlencode

from .errors import ConfigurationError, MASConnectionError, error_from_response, parse_retry_after

__version__ = "0.1.0"

DEFAULT_BASE_URL = "http://localhost:8001"
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Answers worth another try of an idempotent call: the gateway or its dependency was busy.
RETRY_STATUSES = frozenset({429, 502, 503, 504})
MAX_RETRY_DELAY = 10.0

_correlation_id: contextvars.ContextVar[Optional[str]] = contextvars.ContextVar(
    "mas_correlation_id", default=None
)


def get_correlation_id() -> Optional[str]:
    """The correlation id sent as ``x-correlation-id`` on calls made in this context."""
    return _correlation_id.get()


def set_correlation_id(value: Optional[str]) -> contextvars.Token:
    """Sets the correlation id for this context (task); returns a token for ``reset_correlation_id``."""
    return _correlation_id.set(value)


def reset_correlation_id(token: contextvars.Token) -> None:
    _correlation_id.reset(token)


@contextlib.contextmanager
def correlation(correlation_id: Optional[str] = None) -> Iterator[str]:
    """``with correlation("run-42"):`` every call inside carries that id (a new one if omitted).

    A context variable, so concurrent asyncio tasks each keep their own.
    """
    value = correlation_id or uuid.uuid4().hex
    token = _correlation_id.set(value)
    try:
        yield value
    finally:
        _correlation_id.reset(token)


class Response:
    __slots__ = ("status", "headers", "body")

    def __init__(self, status: int, headers: Mapping[str, str], body: bytes) -> None:
        self.status = status
        self.headers = {k.lower(): v for k, v in headers.items()}
        self.body = body

    def json(self) -> Any:
        if not self.body:
            return None
        return json.loads(self.body.decode("utf-8"))

    def content(self) -> Any:
        """JSON when the body is JSON, else text; None when empty."""
        if not self.body:
            return None
        if "json" in self.headers.get("content-type", ""):
            return self.json()
        return self.body.decode("utf-8", "replace")


class Transport(Protocol):
    async def send(
        self, method: str, url: str, headers: Dict[str, str], body: Optional[bytes], timeout: float
    ) -> Response: ...

    async def open(self) -> None: ...

    async def aclose(self) -> None: ...


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:  # the API never redirects
        return None


class UrllibTransport:
    """Blocking ``urllib`` in a worker thread: standard library only."""

    def __init__(self) -> None:
        self._opener = urllib.request.build_opener(_NoRedirect)

    async def send(
        self, method: str, url: str, headers: Dict[str, str], body: Optional[bytes], timeout: float
    ) -> Response:
        return await asyncio.to_thread(self._send, method, url, headers, body, timeout)

    def _send(
        self, method: str, url: str, headers: Dict[str, str], body: Optional[bytes], timeout: float
    ) -> Response:
        request = urllib.request.Request(url, data=body, method=method, headers=headers)
        try:
            with self._opener.open(request, timeout=timeout) as res:
                return Response(res.status, dict(res.headers.items()), res.read())
        except urllib.error.HTTPError as err:
            with err:
                return Response(err.code, dict(err.headers.items()), err.read())
        except (urllib.error.URLError, OSError, http.client.HTTPException) as err:
            reason = getattr(err, "reason", err)
            raise MASConnectionError(f"{method} {url}: {reason}") from err

    async def open(self) -> None:
        return None

    async def aclose(self) -> None:
        return None


class HttpxTransport:
    """``httpx.AsyncClient``, pooled per event loop: an object created outside any loop (a
    module-level ``LLMRouter()``) works under each later ``asyncio.run``, and reuses connections
    within one. ``aclose()`` (the async context managers call it) closes the pool."""

    def __init__(self) -> None:
        import httpx  # noqa: PLC0415 - optional dependency

        self._httpx = httpx
        self._client: Any = None
        self._loop: Optional[asyncio.AbstractEventLoop] = None

    def _pool(self) -> Any:
        loop = asyncio.get_running_loop()
        if self._client is None or self._loop is not loop:
            self._client = self._httpx.AsyncClient(follow_redirects=False)
            self._loop = loop
        return self._client

    async def open(self) -> None:
        self._pool()

    async def send(
        self, method: str, url: str, headers: Dict[str, str], body: Optional[bytes], timeout: float
    ) -> Response:
        try:
            res = await self._pool().request(method, url, headers=headers, content=body, timeout=timeout)
        except self._httpx.TransportError as err:
            raise MASConnectionError(f"{method} {url}: {err!r}") from err
        return Response(res.status_code, dict(res.headers.items()), res.content)

    async def aclose(self) -> None:
        if self._client is not None and self._loop is asyncio.get_running_loop():
            await self._client.aclose()
        self._client = None
        self._loop = None


def default_transport() -> Transport:
    choice = os.environ.get("MAS_HTTP_CLIENT", "").strip().lower()
    if choice == "urllib":
        return UrllibTransport()
    try:
        return HttpxTransport()
    except ImportError:
        if choice == "httpx":
            raise ConfigurationError("MAS_HTTP_CLIENT=httpx but httpx is not installed") from None
        return UrllibTransport()


def _backoff(attempt: int) -> float:
    """Full jitter: 0.2 s, 0.4 s, 0.8 s... caps, spread so retrying agents do not move in step."""
    return random.uniform(0, min(MAX_RETRY_DELAY, 0.2 * (2**attempt)))


class GatewayClient:
    """The low-level client every helper uses. Configured by arguments, else ``MAS_BASE_URL`` and
    ``MAS_API_KEY``. Only idempotent calls (GET/HEAD/OPTIONS, or ``idempotent=True``) are retried,
    on connection errors and 429/502/503/504, honouring ``Retry-After`` up to 10 s."""

    def __init__(
        self,
        base_url: Optional[str] = None,
        api_key: Optional[str] = None,
        *,
        timeout: float = 60.0,
        max_retries: int = 2,
        transport: Optional[Transport] = None,
    ) -> None:
        self.base_url = (base_url or os.environ.get("MAS_BASE_URL") or DEFAULT_BASE_URL).rstrip("/")
        self.api_key = api_key if api_key is not None else os.environ.get("MAS_API_KEY")
        self.timeout = timeout
        self.max_retries = max_retries
        self._transport = transport
        self._owns_transport = transport is None

    @property
    def transport(self) -> Transport:
        if self._transport is None:
            self._transport = default_transport()
        return self._transport

    async def open(self) -> None:
        await self.transport.open()

    async def aclose(self) -> None:
        if self._transport is not None and self._owns_transport:
            await self._transport.aclose()
            self._transport = None

    async def request(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        params: Optional[Mapping[str, Any]] = None,
        headers: Optional[Mapping[str, str]] = None,
        timeout: Optional[float] = None,
        idempotent: Optional[bool] = None,
    ) -> Response:
        """Sends one call; returns the 2xx/3xx response, raises a typed ``MASError`` otherwise."""
        if not self.api_key:
            raise ConfigurationError(
                "No API key: set MAS_API_KEY or pass api_key= (`npm run keys -- create` makes one)"
            )
        method = method.upper()
        query = {k: _query_value(v) for k, v in (params or {}).items() if v is not None}
        url = f"{self.base_url}{path}{'?' + urlencode(query) if query else ''}"
        send_headers = {
            "authorization": f"Bearer {self.api_key}",
            "accept": "application/json",
            "user-agent": f"mas-client-python/{__version__}",
        }
        cid = get_correlation_id()
        if cid:
            send_headers["x-correlation-id"] = cid
        body = None
        if json_body is not None:
            body = json.dumps(json_body, default=_json_default).encode("utf-8")
            send_headers["content-type"] = "application/json"
        send_headers.update(headers or {})
        retryable = method in IDEMPOTENT_METHODS if idempotent is None else idempotent
        attempts = 1 + (self.max_retries if retryable else 0)
        for attempt in range(attempts):
            last = attempt + 1 >= attempts
            try:
                res = await self.transport.send(method, url, send_headers, body, timeout or self.timeout)
            except MASConnectionError:
                if last:
                    raise
                await asyncio.sleep(_backoff(attempt))
                continue
            if res.status in RETRY_STATUSES and not last:
                hint = parse_retry_after(res.headers.get("retry-after"))
                await asyncio.sleep(min(MAX_RETRY_DELAY, hint) if hint is not None else _backoff(attempt))
                continue
            if res.status >= 400:
                raise error_from_response(res.status, res.headers, res.body)
            return res
        raise AssertionError("unreachable")  # pragma: no cover


def _query_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(getattr(value, "value", value))


def _json_default(value: Any) -> Any:
    """Enums as their values, sets as lists; anything else JSON cannot take is an error."""
    if hasattr(value, "value"):
        return value.value
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")
