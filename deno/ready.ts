import handler from '../functions/ready/index.ts';
import { serve } from './serve.ts';

serve('ready', handler);
