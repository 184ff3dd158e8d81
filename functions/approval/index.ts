import { createApp } from '../../shared/http/create-app.ts';
import { approvalFunction } from './routes.ts';
import { sweepApprovals } from './scheduled.ts';

const app = createApp('approval', [approvalFunction]);

export default { fetch: app.fetch, scheduled: sweepApprovals } satisfies ExportedHandler<never>;
