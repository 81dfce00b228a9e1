/** Envelope pools signed on every core (worker threads), before any timed phase starts. */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { script } from './paths.js';

export async function signedPool(n: number, now: number, seed = 1): Promise<string[]> {
  const workers = Math.max(1, Math.min(availableParallelism(), Math.ceil(n / 2000)));
  const parts = await Promise.all(Array.from({ length: workers }, (_, w) => {
    const share = Math.floor(n / workers) + (w < n % workers ? 1 : 0);
    return new Promise<string[]>((resolve, reject) => {
      const worker = new Worker(script('workers/pool-worker.js'), { workerData: { n: share, now, seed: seed * 1000 + w } });
      worker.once('message', resolve);
      worker.once('error', reject);
      worker.once('exit', (code) => reject(new Error(`envelope worker exited (${code}) before sending its share`)));
    });
  }));
  return parts.flat();
}
