"""mas_client: agents' Python client for mas-functions (LLM, audit, approvals, integrations).

Standard library only; uses httpx when it is installed. Configured by ``MAS_BASE_URL`` (default
http://localhost:8001) and ``MAS_API_KEY``, or constructor arguments.
"""

from ._http import (
    DEFAULT_BASE_URL,
    GatewayClient,
    __version__,
    correlation,
    get_correlation_id,
    reset_correlation_id,
    set_correlation_id,
)
from .approvals import Approvals, Receipt, wait_for_approval
from .audit import ActionCategory, ActionId, ActionStatus, AuditLogger, get_audit_logger
from .errors import (
    APIError,
    ApprovalError,
    ApprovalExpired,
    ApprovalPending,
    ApprovalRejected,
    ApprovalTimeout,
    AuthenticationError,
    BadRequestError,
    ConfigurationError,
    ConflictError,
    GoneError,
    MASConnectionError,
    MASError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ServerError,
    ServiceUnavailableError,
    UpstreamError,
)
from .integrations import IntegrationClient, MINDEXClient, NatureOSClient, WebsiteClient
from .llm import ChatResponse, LLMRouter, ModelRole

__all__ = [
    "DEFAULT_BASE_URL",
    "APIError",
    "ActionCategory",
    "ActionId",
    "ActionStatus",
    "ApprovalError",
    "ApprovalExpired",
    "ApprovalPending",
    "ApprovalRejected",
    "ApprovalTimeout",
    "Approvals",
    "AuditLogger",
    "AuthenticationError",
    "BadRequestError",
    "ChatResponse",
    "ConfigurationError",
    "ConflictError",
    "GatewayClient",
    "GoneError",
    "IntegrationClient",
    "LLMRouter",
    "MASConnectionError",
    "MASError",
    "MINDEXClient",
    "ModelRole",
    "NatureOSClient",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitError",
    "Receipt",
    "ServerError",
    "ServiceUnavailableError",
    "UpstreamError",
    "WebsiteClient",
    "__version__",
    "correlation",
    "get_audit_logger",
    "get_correlation_id",
    "reset_correlation_id",
    "set_correlation_id",
    "wait_for_approval",
]
