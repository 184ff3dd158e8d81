import { createApp } from '../../shared/http/create-app.ts';
import { chatFunction } from './routes.ts';

export default createApp('chat', [chatFunction]);
