import handler from '../functions/messages/index.ts';
import { serve } from './serve.ts';

serve('messages', handler);
