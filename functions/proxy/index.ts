import { createApp } from '../../shared/http/create-app.ts';
import { proxyFunction } from './routes.ts';

export default createApp('proxy', [proxyFunction]);
