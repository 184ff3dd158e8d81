import { createApp } from '../../shared/http/create-app.ts';
import { messagesFunction } from './routes.ts';

export default createApp('messages', [messagesFunction]);
