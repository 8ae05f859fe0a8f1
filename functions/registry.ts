import type { FunctionDefinition } from './definitions';
import { health } from './health';
import { tracesIngest } from './traces-ingest';
import { whoami } from './whoami';

/**
 * Every function of the app, declared once. Production registers this list with the
 * Functions host (functions/index.ts); `npm start` serves the same list locally.
 */
export const functionDefinitions: readonly FunctionDefinition[] = [health, whoami, tracesIngest];
