import { createApp } from '../../shared/http/create-app.ts';
import { embedFunction } from './routes.ts';

export default createApp('embed', [embedFunction]);
