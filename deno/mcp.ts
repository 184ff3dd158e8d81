import handler from '../functions/mcp/index.ts';
import { serve } from './serve.ts';

serve('mcp', handler);
