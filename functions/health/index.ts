import { createApp } from '../../shared/http/create-app.ts';
import { healthFunction } from './routes.ts';

export default createApp('health', [healthFunction]);
