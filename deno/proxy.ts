import handler from '../functions/proxy/index.ts';
import { serve } from './serve.ts';

serve('proxy', handler);
