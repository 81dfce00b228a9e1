/** All migrations, in order. A new one is a file `NNN_name.ts` appended here (with a test). */
import { migration001 } from './001_initial.js';
import { migration002 } from './002_totals.js';
import type { Migration } from './types.js';

export type { Migration } from './types.js';
export const MIGRATIONS: readonly Migration[] = [migration001, migration002];
