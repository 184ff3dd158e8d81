import { createApp } from '../../shared/http/create-app.ts';
import { approvalFunction } from './routes.ts';

export default createApp('approval', [approvalFunction]);
