# The snippet of issue #24, as existing agent code has it, with only its import line changed.
# Two things a snippet leaves out are filled in: the `[...]` placeholder of messages is one real
# message, and the top-level awaits run inside an async function whose results the test checks.
from mas_client import (
    ActionCategory,
    ActionStatus,
    LLMRouter,
    MINDEXClient,
    ModelRole,
    NatureOSClient,
    get_audit_logger,
)


async def run_snippet():
    router = LLMRouter()
    response = await router.chat(messages=[{"role": "user", "content": "Plan the day."}], role=ModelRole.PLANNING)
    embedding = await router.embed("text to embed")

    audit_logger = get_audit_logger()
    action_id = await audit_logger.log_action(agent_id="agent-1", agent_name="MyAgent", action_type="tool_call",
        category=ActionCategory.EXTERNAL_WRITE, inputs={"tool": "send_email", "to": "user@example.com"}, tool_name="send_email")
    await audit_logger.update_action(action_id, status=ActionStatus.COMPLETED, outputs={"result": "success"})

    async with MINDEXClient() as client:
        members = await client.get_data("members")
        project = await client.create_resource("projects", {"name": "New Project"})
    async with NatureOSClient() as client:
        entities = await client.get_entities("organisms")

    return response, embedding, action_id, members, project, entities
