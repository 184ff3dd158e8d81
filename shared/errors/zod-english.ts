import { config } from 'zod/v4/core';
import en from 'zod/v4/locales/en.js';

// The English messages our 400s and config errors quote (`Too small: expected number to be >=0`).
// Classic zod registers them when its first schema is built; a bundle whose schemas are all
// zod/mini would otherwise say only "Invalid input". Imported for this effect by the modules that
// turn zod issues into words (on-error.ts, config/validate-config.ts).
config(en());
