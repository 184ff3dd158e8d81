import { createApp } from '../../shared/http/create-app.ts';
import { mcpFunction } from './routes.ts';

export default createApp('mcp', [mcpFunction]);
