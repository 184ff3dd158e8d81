import { createApp } from '../../shared/http/create-app.ts';
import { auditFunction } from './routes.ts';

export default createApp('audit', [auditFunction]);
