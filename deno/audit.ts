import handler from '../functions/audit/index.ts';
import { serve } from './serve.ts';

serve('audit', handler);
