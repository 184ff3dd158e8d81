"""The client on its own, against a local HTTP server that plays the gateway's error and retry
cases: typed errors, which calls are retried, correlation ids, configuration."""

from __future__ import annotations

import asyncio
import json
import os
import re
import threading
import unittest
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Dict, List

from mas_client import (
    ApprovalError,
    ApprovalExpired,
    AuditLogger,
    AuthenticationError,
    ConfigurationError,
    ConflictError,
    GatewayClient,
    LLMRouter,
    MASConnectionError,
    ModelRole,
    NotFoundError,
    RateLimitError,
    ServiceUnavailableError,
    UpstreamError,
    correlation,
    get_correlation_id,
    wait_for_approval,
)

REPO = Path(__file__).resolve().parents[3]


class _Script:
    """What the fake answers, per method and path: a list of (status, headers, body), last repeats."""

    def __init__(self) -> None:
        self.answers: Dict[str, List[tuple]] = {}
        self.seen: List[dict] = []
        self.lock = threading.Lock()

    def next(self, key: str) -> tuple:
        with self.lock:
            queue = self.answers.get(key) or [(200, {}, {"ok": True})]
            return queue.pop(0) if len(queue) > 1 else queue[0]


def _server(script: _Script) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def _any(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length) if length else b""
            with script.lock:
                script.seen.append(
                    {"method": self.command, "path": self.path, "headers": {k.lower(): v for k, v in self.headers.items()}, "body": body}
                )
            status, headers, payload = script.next(f"{self.command} {self.path.split('?')[0]}")
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            for k, v in headers.items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _any

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    return server


def _error(code: str, message: str) -> dict:
    return {"error": {"message": message, "type": "invalid_request_error", "code": code, "param": None}}


class ClientBehaviour(unittest.IsolatedAsyncioTestCase):
    def setUp(self) -> None:
        self.script = _Script()
        self.server = _server(self.script)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.client = GatewayClient(self.base, "mas_test_key", max_retries=2)

    def tearDown(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    async def test_errors_are_typed_with_the_gateways_code_and_message(self) -> None:
        self.script.answers["GET /v1/audit/actions/x"] = [
            (404, {"x-correlation-id": "corr-err-1"}, _error("action_not_found", "No action x."))
        ]
        with self.assertRaises(NotFoundError) as caught:
            await AuditLogger(client=self.client).get_action("x")
        err = caught.exception
        self.assertEqual((err.status, err.code, err.message), (404, "action_not_found", "No action x."))
        self.assertEqual(err.correlation_id, "corr-err-1")

        self.script.answers["PATCH /v1/audit/actions/y"] = [(409, {}, _error("receipt_required", "needs receipt"))]
        with self.assertRaises(ConflictError) as conflict:
            await AuditLogger(client=self.client).update_action("y", "completed")
        self.assertEqual(conflict.exception.code, "receipt_required")

        self.script.answers["GET /v1/approvals/z"] = [(401, {}, _error("invalid_api_key", "Unknown key."))]
        with self.assertRaises(AuthenticationError):
            await self.client.request("GET", "/v1/approvals/z")

    async def test_reads_are_retried_on_503_and_429_then_succeed(self) -> None:
        self.script.answers["GET /v1/audit/actions/r"] = [
            (503, {}, _error("unavailable", "busy")),
            (429, {"retry-after": "0"}, _error("rate_limited", "slow down")),
            (200, {}, {"action_id": "r"}),
        ]
        self.assertEqual((await self.client.request("GET", "/v1/audit/actions/r")).json(), {"action_id": "r"})
        self.assertEqual(sum(1 for s in self.script.seen if s["path"] == "/v1/audit/actions/r"), 3)

    async def test_reads_give_up_after_max_retries_with_the_last_error(self) -> None:
        self.script.answers["GET /v1/models"] = [(502, {}, _error("upstream_error", "every upstream failed"))]
        with self.assertRaises(UpstreamError) as caught:
            await self.client.request("GET", "/v1/models")
        self.assertEqual(caught.exception.code, "upstream_error")
        self.assertEqual(sum(1 for s in self.script.seen if s["path"] == "/v1/models"), 3)

    async def test_writes_are_never_retried(self) -> None:
        self.script.answers["POST /v1/audit/actions"] = [(503, {}, _error("unavailable", "busy"))]
        with self.assertRaises(ServiceUnavailableError):
            await AuditLogger(client=self.client).log_action("a", "A", "t", "read", {})
        self.script.answers["POST /v1/chat/completions"] = [(429, {"retry-after": "0"}, _error("rl", "slow"))]
        with self.assertRaises(RateLimitError) as rl:
            await LLMRouter(client=self.client).chat([{"role": "user", "content": "hi"}], role=ModelRole.FAST)
        self.assertEqual(rl.exception.retry_after, 0)
        posts = [s for s in self.script.seen if s["method"] == "POST"]
        self.assertEqual(len(posts), 2)
        self.assertEqual(json.loads(posts[1]["body"])["model"], "fast")

    async def test_correlation_id_comes_from_the_context_and_stays_per_task(self) -> None:
        async def call(cid: str) -> None:
            with correlation(cid):
                await asyncio.sleep(0)
                await self.client.request("GET", f"/probe/{cid}")

        await asyncio.gather(call("corr-task-aaaa"), call("corr-task-bbbb"))
        self.assertIsNone(get_correlation_id())
        for cid in ("corr-task-aaaa", "corr-task-bbbb"):
            sent = next(s for s in self.script.seen if s["path"] == f"/probe/{cid}")
            self.assertEqual(sent["headers"].get("x-correlation-id"), cid)
        await self.client.request("GET", "/probe/none")
        self.assertNotIn("x-correlation-id", {k.lower() for k in self.script.seen[-1]["headers"]})

    async def test_key_and_base_url_come_from_the_environment(self) -> None:
        saved = {k: os.environ.get(k) for k in ("MAS_BASE_URL", "MAS_API_KEY")}
        try:
            os.environ["MAS_BASE_URL"] = self.base + "/"
            os.environ["MAS_API_KEY"] = "mas_env_key"
            await GatewayClient().request("GET", "/probe/env")
            self.assertEqual(self.script.seen[-1]["headers"].get("authorization"), "Bearer mas_env_key")
            del os.environ["MAS_API_KEY"]
            with self.assertRaises(ConfigurationError):
                await GatewayClient().request("GET", "/probe/env")
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v

    async def test_connection_refused_is_a_connection_error(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        with self.assertRaises(MASConnectionError):
            await GatewayClient(self.base, "k", max_retries=1).request("GET", "/health")
        self.server = _server(self.script)  # tearDown closes something


    async def test_the_approval_wait_maps_each_outcome(self) -> None:
        approval = {"action_id": "act-1", "expires_at": "2026-01-01T00:00:00Z"}
        self.script.answers["GET /v1/approvals/ap-expired"] = [(200, {}, {**approval, "status": "expired"})]
        with self.assertRaises(ApprovalExpired) as expired:
            await wait_for_approval({"approval": {"id": "ap-expired"}}, client=self.client)
        self.assertEqual((expired.exception.approval_id, expired.exception.action_id), ("ap-expired", "act-1"))

        self.script.answers["GET /v1/approvals/ap-used"] = [(200, {}, {**approval, "status": "approved"})]
        with self.assertRaises(ApprovalError) as used:
            await wait_for_approval({"approval": {"id": "ap-used"}}, client=self.client)
        self.assertIn("already used", used.exception.message)

        self.script.answers["GET /v1/approvals/ap-slow"] = [
            (200, {}, {**approval, "status": "pending"}),
            (503, {}, _error("unavailable", "busy")),  # a blip during the long-poll is retried
            (200, {}, {**approval, "status": "approved", "receipt": "rcpt-1"}),
        ]
        receipt = await wait_for_approval({"approval": {"id": "ap-slow"}}, client=self.client)
        self.assertEqual((receipt, receipt.approval["status"]), ("rcpt-1", "approved"))
        polls = [s["path"] for s in self.script.seen if s["path"].startswith("/v1/approvals/ap-slow")]
        self.assertEqual(polls, ["/v1/approvals/ap-slow?wait=25"] * 3)


class Transports(unittest.TestCase):
    def test_the_transport_is_the_one_asked_for(self) -> None:
        from mas_client._http import HttpxTransport, UrllibTransport

        choice = os.environ.get("MAS_HTTP_CLIENT", "")
        transport = GatewayClient("http://127.0.0.1:1", "k").transport
        if choice == "httpx":
            self.assertIsInstance(transport, HttpxTransport)
        elif choice == "urllib":
            self.assertIsInstance(transport, UrllibTransport)
        else:  # httpx when it is installed, else the standard library
            self.assertIsInstance(transport, (HttpxTransport, UrllibTransport))


class ModelRoles(unittest.TestCase):
    def test_model_role_mirrors_the_roles_of_config_models_yaml(self) -> None:
        text = (REPO / "config" / "models.yaml").read_text()
        block = re.search(r"^roles:\n((?:[ \t]+.*\n|\s*\n)+)", text, re.M)
        self.assertIsNotNone(block)
        roles = set(re.findall(r"^[ \t]+([a-z0-9_-]+):", block.group(1), re.M))  # type: ignore[union-attr]
        self.assertEqual({r.value for r in ModelRole}, roles)


if __name__ == "__main__":
    unittest.main()
