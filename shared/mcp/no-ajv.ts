/**
 * Stands in for `ajv` and `ajv-formats` in the worker bundles (wrangler.toml `[alias]`). The MCP
 * SDK's Client and Server import its Ajv validator as their default even when given another; ours
 * always get `CfWorkerJsonSchemaValidator` (no code generation, which Workers forbid anyway), so
 * ajv would be ~140 KiB of every MCP bundle that never runs. Constructing it says so.
 */
export default function ajvLeftOut(): never {
  throw new Error('ajv is not bundled: pass jsonSchemaValidator: new CfWorkerJsonSchemaValidator()');
}
