import handler from '../functions/approval/index.ts';
import { serve } from './serve.ts';

serve('approval', handler);
