"""Typed exceptions: every gateway error keeps its HTTP status, `code`, `message` and `param`.

The gateway answers errors in the OpenAI shape,
``{"error": {"message": ..., "type": ..., "code": ..., "param": ...}}``; ``error_from_response``
turns that into the matching subclass so agent code can ``except NotFoundError`` rather than
compare numbers.
"""

from __future__ import annotations

import json
from typing import Any, Mapping, Optional


class MASError(Exception):
    """Base of every exception this package raises."""

    def __init__(
        self,
        message: str,
        *,
        status: Optional[int] = None,
        code: Optional[str] = None,
        type: Optional[str] = None,  # noqa: A002 - the gateway's field name
        param: Optional[str] = None,
        correlation_id: Optional[str] = None,
        body: Any = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.type = type
        self.param = param
        self.correlation_id = correlation_id
        self.body = body

    def __str__(self) -> str:
        parts = [self.message]
        if self.status is not None:
            parts.append(f"(status {self.status}{', code ' + self.code if self.code else ''})")
        return " ".join(parts)


class ConfigurationError(MASError):
    """The client is missing a setting (MAS_API_KEY, ...)."""


class MASConnectionError(MASError):
    """The gateway could not be reached, or the connection broke before an answer."""


class APIError(MASError):
    """The gateway answered with an error status."""


class BadRequestError(APIError):
    """400, 413, 415, 422: the request itself is wrong; retrying it will not help."""


class AuthenticationError(APIError):
    """401: missing or unknown API key."""


class PermissionDeniedError(APIError):
    """403: the key is valid but may not do this."""


class NotFoundError(APIError):
    """404: unknown action, approval, model, role or integration."""


class ConflictError(APIError):
    """409: conflicts with the current state (e.g. completing an action still pending approval)."""


class GoneError(APIError):
    """410: e.g. deciding an approval that expired."""


class RateLimitError(APIError):
    """429: rate limited; ``retry_after`` is the server's hint in seconds, if it gave one."""

    def __init__(self, message: str, *, retry_after: Optional[float] = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class ServerError(APIError):
    """5xx from the gateway."""


class UpstreamError(ServerError):
    """502, 504: an upstream (LLM provider, integration) failed or did not answer in time."""


class ServiceUnavailableError(ServerError):
    """503: a dependency of the gateway is unavailable."""


class ApprovalError(MASError):
    """Base of the approval outcomes an agent has to handle."""

    def __init__(
        self,
        message: str,
        *,
        approval_id: Optional[str] = None,
        action_id: Optional[str] = None,
        approval: Optional[Mapping[str, Any]] = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(message, **kwargs)
        self.approval_id = approval_id
        self.action_id = action_id
        self.approval = dict(approval) if approval else None


class ApprovalRejected(ApprovalError):
    """A human rejected the action; ``reason`` says why (so the agent does not retry the same call)."""

    def __init__(self, reason: Optional[str], **kwargs: Any) -> None:
        super().__init__(f"approval rejected: {reason or 'no reason given'}", **kwargs)
        self.reason = reason


class ApprovalExpired(ApprovalError):
    """Nobody decided before the approval expired. Expired is not rejected: it may be asked again."""


class ApprovalPending(ApprovalError):
    """The action waits for a human. Carries ``approval_id`` (and ``action_id``) to wait on later."""

    def __init__(
        self,
        message: str = "approval pending",
        *,
        expires_at: Optional[str] = None,
        request: Optional[Mapping[str, Any]] = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(message, **kwargs)
        self.expires_at = expires_at
        # For an integration write: what to send again once approved (see IntegrationClient.resume).
        self.request = dict(request) if request else None


class ApprovalTimeout(ApprovalPending):
    """``wait_for_approval(timeout=...)`` gave up while the approval was still pending."""


_BY_STATUS = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    410: GoneError,
    413: BadRequestError,
    415: BadRequestError,
    422: BadRequestError,
    429: RateLimitError,
    502: UpstreamError,
    503: ServiceUnavailableError,
    504: UpstreamError,
}


def parse_retry_after(value: Optional[str]) -> Optional[float]:
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None  # HTTP-date form: not used by the gateway
    return seconds if seconds >= 0 else None


def error_from_response(status: int, headers: Mapping[str, str], body: bytes) -> APIError:
    """The typed exception for a gateway error response (any body shape is tolerated)."""
    parsed: Any = None
    try:
        parsed = json.loads(body.decode("utf-8")) if body else None
    except (ValueError, UnicodeDecodeError):
        parsed = None
    err = parsed.get("error") if isinstance(parsed, dict) else None
    if isinstance(err, dict):
        message = str(err.get("message") or f"HTTP {status}")
        code, type_, param = err.get("code"), err.get("type"), err.get("param")
    else:
        text = body.decode("utf-8", "replace").strip()[:200] if body else ""
        message, code, type_, param = (text or f"HTTP {status}"), None, None, None
    cls = _BY_STATUS.get(status) or (ServerError if status >= 500 else APIError)
    kwargs: dict = dict(
        status=status,
        code=code,
        type=type_,
        param=param,
        correlation_id=headers.get("x-correlation-id"),
        body=parsed,
    )
    if cls is RateLimitError:
        kwargs["retry_after"] = parse_retry_after(headers.get("retry-after"))
    return cls(message, **kwargs)
