import handler from '../functions/embed/index.ts';
import { serve } from './serve.ts';

serve('embed', handler);
