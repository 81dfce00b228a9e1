/** What every bench section gets: the mode, one clock reading, a shared pool of signed envelopes. */
import { signedPool } from './lib/pool.js';

export interface BenchContext {
  quick: boolean;
  /** One instant for the whole run: every envelope's period is today's. */
  now: number;
  /** `n` distinct signed envelopes (fresh key each); the same prefix across calls. */
  pool(n: number): Promise<string[]>;
  log(msg: string): void;
  /** A scratch directory for this run (databases, pool files); removed at the end. */
  tmpDir: string;
}

export function createContext(quick: boolean, log: (m: string) => void, tmpDir: string): BenchContext {
  const now = Date.now();
  let cache: string[] = [];
  return {
    quick,
    now,
    log,
    tmpDir,
    async pool(n) {
      if (cache.length < n) {
        const started = performance.now();
        cache = cache.concat(await signedPool(n - cache.length, now, cache.length + 1));
        log(`signed envelopes up to ${n} in ${((performance.now() - started) / 1000).toFixed(1)} s`);
      }
      return cache.slice(0, n);
    },
  };
}
