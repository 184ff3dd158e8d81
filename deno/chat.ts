import handler from '../functions/chat/index.ts';
import { serve } from './serve.ts';

serve('chat', handler);
