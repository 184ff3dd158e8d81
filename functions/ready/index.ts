import { createApp } from '../../shared/http/create-app.ts';
import { readyFunction } from './routes.ts';

export default createApp('ready', [readyFunction]);
