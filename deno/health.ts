import handler from '../functions/health/index.ts';
import { serve } from './serve.ts';

serve('health', handler);
