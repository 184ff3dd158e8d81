"""LLM calls through the gateway's OpenAI-compatible ``/v1``, routed by role."""

from __future__ import annotations

import os
from enum import Enum
from typing import Any, Iterable, List, Mapping, Optional, Union

from ._http import GatewayClient


class ModelRole(str, Enum):
    """The roles of config/models.yaml (the gateway walks each role's fallback chain).
    Any other role the gateway knows can be passed as a string, e.g. ``role="role:review"``."""

    PLANNING = "planning"
    EXECUTION = "execution"
    FAST = "fast"
    EMBEDDING = "embedding"
    FALLBACK = "fallback"
    LOCAL = "local"


class ChatResponse(dict):
    """The OpenAI chat completion body, plus ``content`` (the first choice's text) and which
    ``provider`` / ``model`` the gateway routed to."""

    provider: Optional[str]
    model_used: Optional[str]

    def __init__(self, body: Mapping[str, Any], provider: Optional[str], model: Optional[str]) -> None:
        super().__init__(body)
        self.provider = provider
        self.model_used = model

    @property
    def content(self) -> Optional[str]:
        choices = self.get("choices") or []
        message = (choices[0] or {}).get("message") if choices else None
        return message.get("content") if isinstance(message, Mapping) else None

    @property
    def tool_calls(self) -> list:
        choices = self.get("choices") or []
        message = (choices[0] or {}).get("message") if choices else None
        return list(message.get("tool_calls") or []) if isinstance(message, Mapping) else []


class LLMRouter:
    def __init__(
        self, client: Optional[GatewayClient] = None, *, agent_id: Optional[str] = None, **kwargs: Any
    ) -> None:
        self.client = client or GatewayClient(**kwargs)
        # Whose spend the calls count as (x-mas-agent-id): the key's own agent, or one bound to it.
        self.agent_id = agent_id or os.environ.get("MAS_AGENT_ID")

    def _headers(self) -> Optional[dict]:
        return {"x-mas-agent-id": self.agent_id} if self.agent_id else None

    async def chat(
        self,
        messages: Iterable[Mapping[str, Any]],
        role: Union[ModelRole, str] = ModelRole.PLANNING,
        **params: Any,
    ) -> ChatResponse:
        """One chat completion for ``role`` (or ``model=`` to name a model); other keyword
        arguments (temperature, max_tokens, tools, response_format...) pass through. Not
        retried here: the gateway already retries and falls back along the role's chain."""
        if params.get("stream"):
            raise ValueError("stream=True is not supported by LLMRouter.chat; use an OpenAI client on MAS_BASE_URL/v1")
        body = {"model": params.pop("model", None) or _role(role), "messages": list(messages), **params}
        res = await self.client.request("POST", "/v1/chat/completions", json_body=body, headers=self._headers())
        return ChatResponse(res.json(), res.headers.get("x-mas-provider"), res.headers.get("x-mas-model"))

    async def embed(
        self,
        text: Union[str, List[str]],
        role: Union[ModelRole, str] = ModelRole.EMBEDDING,
        **params: Any,
    ) -> Union[List[float], List[List[float]]]:
        """The embedding of ``text``; a list of embeddings (in order) for a list of texts."""
        body = {"model": params.pop("model", None) or _role(role), "input": text, **params}
        res = (await self.client.request("POST", "/v1/embeddings", json_body=body, headers=self._headers())).json()
        vectors = [d["embedding"] for d in sorted(res["data"], key=lambda d: d.get("index", 0))]
        return vectors[0] if isinstance(text, str) else vectors


def _role(role: Union[ModelRole, str]) -> str:
    return role.value if isinstance(role, ModelRole) else str(role)
