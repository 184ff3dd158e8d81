import handler from '../functions/index.ts';
import { serve } from './serve.ts';

serve('all', handler);
