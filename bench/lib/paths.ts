/** Where things are, whether running from dist/bench (npm run bench) or elsewhere. */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PACKAGE_ROOT } from '../../src/manifests.js';

export const ROOT = PACKAGE_ROOT;
export const RESULTS_DIR = join(ROOT, 'bench', 'results');
/** The compiled bench directory (dist/bench), where child-process scripts live. */
export const BENCH_DIST = dirname(dirname(fileURLToPath(import.meta.url)));
export const script = (name: string) => join(BENCH_DIST, name);
