/**
 * `npm run config:check`: validates every config file against its schema, naming the file and
 * the dotted path of each bad key. The workers run the same validation at isolate start.
 */
import { existsSync, readFileSync } from 'node:fs';
import type { z } from 'zod';
import { parseConfig } from '../shared/config/parse-config.ts';
import { policySchema } from '../shared/config/policy-schema.ts';
import { gatewayConfigSchema } from '../shared/config/schema.ts';
import { integrationsConfigSchema } from '../shared/integrations/integrations-schema.ts';
import { modelsConfigSchema } from '../shared/llm/models-schema.ts';

const CONFIG_FILES: Array<{ file: string; schema: z.ZodType }> = [
  { file: 'config/gateway.yaml', schema: gatewayConfigSchema },
  { file: 'config/policies.yaml', schema: policySchema },
  { file: 'config/models.yaml', schema: modelsConfigSchema },
  { file: 'config/integrations.yaml', schema: integrationsConfigSchema },
];

let failed = false;
for (const { file, schema } of CONFIG_FILES) {
  if (!existsSync(file)) {
    console.error(`config: ${file} is missing`);
    failed = true;
    continue;
  }
  try {
    parseConfig(file, readFileSync(file, 'utf8'), schema);
    console.log(`config: ${file} ok`);
  } catch (err) {
    console.error(`config: ${(err as Error).message}`);
    failed = true;
  }
}
process.exitCode = failed ? 1 : 0;
