"""Against the real product: two `npm start` instances that test/node/python-client.test.ts
starts (one with APPROVAL_REQUIRED=false for the issue's snippet, one with the gate on), the
integration fake behind them, and keys it configured. Missing settings are an error, never a skip.
"""

from __future__ import annotations

import asyncio
import json
import os
import unittest
import urllib.request
import uuid
from typing import Any, Callable, List

import mas_client.audit
from mas_client import (
    ActionCategory,
    ActionStatus,
    ApprovalPending,
    ApprovalRejected,
    Approvals,
    ApprovalTimeout,
    AuditLogger,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    GatewayClient,
    LLMRouter,
    MINDEXClient,
    ModelRole,
    NatureOSClient,
    NotFoundError,
    PermissionDeniedError,
    WebsiteClient,
    correlation,
    wait_for_approval,
)

from .issue_snippet import run_snippet

NEEDED = ("MAS_TEST_OPEN_URL", "MAS_TEST_GATED_URL", "MAS_TEST_AGENT_KEY", "MAS_TEST_APPROVER_KEY", "MAS_TEST_FAKE_URL")


def setUpModule() -> None:
    missing = [k for k in NEEDED if not os.environ.get(k)]
    if missing:
        raise RuntimeError(
            f"{', '.join(missing)} not set: run these through `npm test` (test/node/python-client.test.ts)"
        )


def env(name: str) -> str:
    return os.environ[name]


AGENT = "agent-1"  # the principal the test agent key belongs to


def fake_requests() -> List[dict]:
    with urllib.request.urlopen(f"{env('MAS_TEST_FAKE_URL')}/__requests", timeout=10) as res:
        return json.loads(res.read())


async def poll(probe: Callable[[], Any], what: str, timeout: float = 30.0) -> Any:
    """Polls an async condition until it returns something truthy."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = await probe()
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)


class IssueSnippet(unittest.IsolatedAsyncioTestCase):
    async def test_the_snippet_runs_as_written_against_npm_start(self) -> None:
        saved = {k: os.environ.get(k) for k in ("MAS_BASE_URL", "MAS_API_KEY")}
        os.environ["MAS_BASE_URL"] = env("MAS_TEST_OPEN_URL")
        os.environ["MAS_API_KEY"] = env("MAS_TEST_AGENT_KEY")
        mas_client.audit._default_logger = None
        try:
            response, embedding, action_id, members, project, entities = await run_snippet()
            action = await mas_client.get_audit_logger().get_action(action_id)
        finally:
            mas_client.audit._default_logger = None
            for k, v in saved.items():
                os.environ.pop(k, None) if v is None else os.environ.__setitem__(k, v)

        self.assertEqual(response.content, "Hello from the demo upstream.")
        self.assertTrue(response.provider)
        self.assertIsInstance(embedding, list)
        self.assertGreater(len(embedding), 0)
        self.assertTrue(all(isinstance(x, float) for x in embedding))
        # Gate off (APPROVAL_REQUIRED=false): recorded, then completed, and the ledger says so.
        self.assertEqual(action_id.status, ActionStatus.RECORDED)
        self.assertEqual(action["status"], "completed")
        self.assertEqual(action["agent_id"], "agent-1")
        self.assertEqual(action["tool_name"], "send_email")
        self.assertNotIn("user@example.com", json.dumps(action["entries"]))  # redacted before storing
        self.assertEqual(members["data"][0]["name"], "members")
        self.assertEqual(project["path"], "/mindex/resources/projects")
        self.assertEqual(entities["entities"][0]["kind"], "organisms")
        seen = fake_requests()
        create = [r for r in seen if r["method"] == "POST" and r["path"] == "/mindex/resources/projects"]
        self.assertEqual(json.loads(create[-1]["body"]), {"name": "New Project"})
        self.assertTrue(create[-1]["headers"]["authorization"].startswith("Bearer "))
        natureos = [r for r in seen if r["path"] == "/natureos/entities/organisms"]
        self.assertTrue(natureos[-1]["headers"]["x-api-key"])


class GateOn(unittest.IsolatedAsyncioTestCase):
    def setUp(self) -> None:
        self.agent = GatewayClient(env("MAS_TEST_GATED_URL"), env("MAS_TEST_AGENT_KEY"))
        self.audit = AuditLogger(client=self.agent)
        self.approvals = Approvals(client=GatewayClient(env("MAS_TEST_GATED_URL"), env("MAS_TEST_APPROVER_KEY")))

    async def record_gated(self, note: str):
        action_id = await self.audit.log_action(
            agent_id=AGENT,
            agent_name="MyAgent",
            action_type="tool_call",
            category=ActionCategory.EXTERNAL_WRITE,
            inputs={"tool": "send_email", "to": "user@example.com", "note": note},
            tool_name="send_email",
        )
        self.assertEqual(action_id.status, ActionStatus.PENDING_APPROVAL)
        self.assertTrue(action_id.needs_approval)
        self.assertTrue(action_id.approval_id)
        return action_id

    async def test_a_gated_action_waits_for_the_approval_then_completes_with_its_receipt(self) -> None:
        action_id = await self.record_gated("approve me")
        # Not decided yet: the wait holds, and gives up when told to.
        with self.assertRaises(ApprovalTimeout) as pending:
            await wait_for_approval(action_id, timeout=1, client=self.agent)
        self.assertEqual(pending.exception.approval_id, action_id.approval_id)
        # Completing before approval is refused, with the gateway's code.
        with self.assertRaises(ConflictError) as early:
            await self.audit.update_action(action_id, status=ActionStatus.COMPLETED)
        self.assertEqual(early.exception.code, "invalid_transition")

        waiter = asyncio.ensure_future(self.audit.wait_for_approval(action_id))
        decided = await self.approvals.approve(action_id.approval_id, "fine")
        self.assertEqual(decided["status"], "approved")
        receipt = await asyncio.wait_for(waiter, 60)
        self.assertTrue(receipt)
        self.assertEqual(receipt.approval["decided_by"], "sdk-approver")

        done = await self.audit.update_action(action_id, status=ActionStatus.COMPLETED, outputs={"sent": True})
        self.assertEqual(done["status"], "completed")
        action = await self.audit.get_action(action_id)
        self.assertEqual(action["status"], "completed")
        kinds = [e["entry_type"] for e in action["entries"]]
        self.assertEqual((kinds[0], kinds[-1]), ("action", "status"))
        self.assertIn("decision", kinds)

    async def test_a_plain_action_id_string_can_be_waited_on_and_completed(self) -> None:
        action_id = await self.record_gated("by id")
        await self.approvals.approve(action_id.approval_id)
        receipt = await wait_for_approval(str(action_id), client=self.agent)
        self.assertTrue(receipt)
        with self.assertRaises(ConflictError) as no_receipt:
            await self.audit.update_action(str(action_id), status="completed")
        self.assertEqual(no_receipt.exception.code, "receipt_required")
        done = await self.audit.update_action(str(action_id), status="completed", receipt=receipt)
        self.assertEqual(done["status"], "completed")

    async def test_a_rejection_reaches_the_agent_with_the_reason(self) -> None:
        action_id = await self.record_gated("reject me")
        waiter = asyncio.ensure_future(wait_for_approval(action_id, client=self.agent))
        await self.approvals.reject(action_id.approval_id, "do not email customers on Sundays")
        with self.assertRaises(ApprovalRejected) as caught:
            await asyncio.wait_for(waiter, 60)
        self.assertEqual(caught.exception.reason, "do not email customers on Sundays")
        self.assertEqual(caught.exception.action_id, str(action_id))
        with self.assertRaises(ConflictError):
            await self.audit.update_action(action_id, status=ActionStatus.COMPLETED)
        cancelled = await self.audit.update_action(action_id, status=ActionStatus.CANCELLED)
        self.assertEqual(cancelled["status"], "cancelled")

    async def test_a_read_is_not_gated(self) -> None:
        action_id = await self.audit.log_action(AGENT, "MyAgent", "lookup", ActionCategory.READ, {"q": "x"})
        self.assertEqual(action_id.status, ActionStatus.RECORDED)
        self.assertIsNone(await wait_for_approval(action_id, client=self.agent))

    async def test_correlation_ids_from_the_context_reach_the_ledger(self) -> None:
        cid = f"py-corr-{uuid.uuid4().hex[:12]}"
        with correlation(cid):
            action_id = await self.audit.log_action(AGENT, "MyAgent", "lookup", "read", {"q": cid})
        listed = await self.audit.list_actions(correlation_id=cid)
        self.assertEqual([a["action_id"] for a in listed["data"]], [action_id])

    async def test_gateway_errors_are_typed(self) -> None:
        with self.assertRaises(NotFoundError) as missing:
            await self.audit.get_action(str(uuid.uuid4()))
        self.assertEqual(missing.exception.code, "action_not_found")
        self.assertTrue(missing.exception.correlation_id)
        with self.assertRaises(AuthenticationError):
            await AuditLogger(client=GatewayClient(env("MAS_TEST_GATED_URL"), "mas_wrong_key_000000000000")).get_action(
                str(uuid.uuid4())
            )
        with self.assertRaises(BadRequestError) as bad:
            await self.audit.log_action(AGENT, "MyAgent", "", "read", {})
        self.assertEqual(bad.exception.param, "action_type")

    async def test_llm_roles_and_embeddings_of_a_list(self) -> None:
        router = LLMRouter(client=self.agent)
        reply = await router.chat([{"role": "user", "content": "hi"}], role=ModelRole.FAST, max_tokens=16)
        self.assertEqual(reply.content, "Hello from the demo upstream.")
        self.assertEqual(reply["object"], "chat.completion")
        vectors = await router.embed(["one", "two"])
        self.assertEqual(len(vectors), 2)
        self.assertNotEqual(vectors[0], vectors[1])
        mine = await LLMRouter(client=self.agent, agent_id=AGENT).chat([{"role": "user", "content": "hi"}])
        self.assertEqual(mine.content, "Hello from the demo upstream.")
        with self.assertRaises(PermissionDeniedError) as stranger:  # not an agent of this key
            await LLMRouter(client=self.agent, agent_id="someone-else").chat([{"role": "user", "content": "hi"}])
        self.assertEqual(stranger.exception.code, "agent_mismatch")


class Integrations(unittest.IsolatedAsyncioTestCase):
    def setUp(self) -> None:
        self.base = env("MAS_TEST_GATED_URL")
        self.key = env("MAS_TEST_AGENT_KEY")
        self.approvals = Approvals(client=GatewayClient(self.base, env("MAS_TEST_APPROVER_KEY")))

    async def approve_when_pending(self, marker: str, decision: str = "approve") -> dict:
        async def find():
            for a in await self.approvals.list("pending"):
                if marker in json.dumps(a.get("inputs")):
                    return a
            return None

        approval = await poll(find, f"a pending approval for {marker}")
        if decision == "approve":
            return await self.approvals.approve(approval["id"], "ok")
        return await self.approvals.reject(approval["id"], "not this device")

    async def test_reads_go_through_the_proxy_with_credentials_injected(self) -> None:
        async with MINDEXClient(self.base, self.key) as mindex:
            data = await mindex.get_data("species", limit=2)
        async with NatureOSClient(self.base, self.key) as natureos:
            entities = await natureos.get_entities("fungi")
        self.assertEqual(data["path"], "/mindex/data/species")
        self.assertEqual(entities["entities"][0]["kind"], "fungi")
        seen = fake_requests()
        read = [r for r in seen if r["path"] == "/mindex/data/species?limit=2"][-1]
        self.assertNotIn(self.key, json.dumps(read["headers"]))  # the agent's key never leaves
        self.assertTrue(read["headers"]["authorization"].startswith("Bearer "))

    async def test_a_gated_write_raises_pending_and_resumes_once_approved(self) -> None:
        device = f"dev-{uuid.uuid4().hex[:10]}"
        async with NatureOSClient(self.base, self.key) as natureos:
            with self.assertRaises(ApprovalPending) as held:
                await natureos.send_device_command(device, {"command": "reboot"})
            pending = held.exception
            self.assertTrue(pending.approval_id)
            self.assertTrue(pending.action_id)
            path = f"/natureos/devices/{device}/commands"
            self.assertEqual([r for r in fake_requests() if r["path"] == path], [])  # held, not sent
            await self.approvals.approve(pending.approval_id, "ok")
            result = await natureos.resume(pending)
        self.assertEqual(result["path"], path)
        sent = [r for r in fake_requests() if r["path"] == path]
        self.assertEqual(len(sent), 1)
        self.assertEqual(json.loads(sent[0]["body"]), {"command": "reboot"})
        self.assertTrue(sent[0]["headers"]["x-api-key"])

    async def test_a_gated_write_can_wait_for_its_approval(self) -> None:
        project = f"p-{uuid.uuid4().hex[:10]}"
        async with MINDEXClient(self.base, self.key, wait_for_approval=True) as mindex:
            approver = asyncio.ensure_future(self.approve_when_pending(project))
            result = await asyncio.wait_for(mindex.delete_resource("projects", project), 90)
            await approver
        self.assertEqual(result["method"], "DELETE")
        deletes = [r for r in fake_requests() if r["path"] == f"/mindex/resources/projects/{project}"]
        self.assertEqual([r["method"] for r in deletes], ["DELETE"])

    async def test_a_rejected_write_is_never_forwarded(self) -> None:
        title = f"post-{uuid.uuid4().hex[:10]}"
        async with WebsiteClient(self.base, self.key, wait_for_approval=True) as website:
            approver = asyncio.ensure_future(self.approve_when_pending(title, "reject"))
            with self.assertRaises(ApprovalRejected) as caught:
                await asyncio.wait_for(website.create_post(title, "hello"), 90)
            await approver
        self.assertEqual(caught.exception.reason, "not this device")
        self.assertEqual([r for r in fake_requests() if title in r["body"]], [])


if __name__ == "__main__":
    unittest.main()
