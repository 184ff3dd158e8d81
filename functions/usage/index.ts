import { createApp } from '../../shared/http/create-app.ts';
import { usageFunction } from './routes.ts';

export default createApp('usage', [usageFunction]);
