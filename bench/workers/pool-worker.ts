/** Worker thread: signs its share of an envelope pool (see lib/pool.ts). */
import { parentPort, workerData } from 'node:worker_threads';
import { envelopePool } from '../lib/envelopes.js';

const { n, now, seed } = workerData as { n: number; now: number; seed: number };
parentPort!.postMessage(envelopePool(n, now, seed));
