import { createApp } from '../../shared/http/create-app.ts';
import { auditFunction } from './routes.ts';
import { ledgerCheckpoints } from './scheduled.ts';

const app = createApp('audit', [auditFunction]);

export default { fetch: app.fetch, scheduled: ledgerCheckpoints } satisfies ExportedHandler<never>;
