import { productVersion } from './config/compiled.ts';

/** The product version: package.json's, compiled in by local/config-compile.ts. */
export const VERSION: string = productVersion;
