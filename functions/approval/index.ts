import { createApp } from '../../shared/http/create-app.ts';
import { approvalFunction } from './routes.ts';
import { expireApprovals } from './scheduled.ts';

const app = createApp('approval', [approvalFunction]);

export default { fetch: app.fetch, scheduled: expireApprovals } satisfies ExportedHandler<never>;
