/**
 * Child process: the load generator (autocannon), so that it does not share an event
 * loop with the server or the bench. Each request body is the next envelope of a
 * pre-signed pool (a file, one envelope per line), so every request is a new report.
 * Prints autocannon's summary plus how far into the pool it got, as one JSON line.
 */
import { readFileSync } from 'node:fs';
import autocannon from 'autocannon';

export interface CannonSpec {
  url: string;
  path: string;
  poolFile: string;
  /** First pool line this run uses (warm-up and measured runs take different envelopes). */
  offset: number;
  connections: number;
  durationSec: number;
}

export interface CannonResult {
  requests: number;
  seconds: number;
  perSec: number;
  ok2xx: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  p50: number;
  p99: number;
  /** true if the run needed more envelopes than the pool had (later ones repeat). */
  wrapped: boolean;
  used: number;
}

const spec = JSON.parse(process.argv[2]!) as CannonSpec;
const pool = readFileSync(spec.poolFile, 'utf8').split('\n').filter(Boolean);
let next = spec.offset;

autocannon({
  url: spec.url,
  connections: spec.connections,
  duration: spec.durationSec,
  requests: [{
    method: 'POST',
    path: spec.path,
    headers: { 'content-type': 'application/json' },
    setupRequest: (req: Record<string, unknown>) => ({ ...req, body: pool[next++ % pool.length] }),
  }],
}, (err: Error | null, r: any) => {
  if (err) {
    process.stderr.write(`autocannon failed: ${err.message}\n`);
    process.exit(1);
  }
  const seconds = r.duration as number;
  const requests = (r['2xx'] as number) + (r.non2xx as number);
  const out: CannonResult = {
    requests,
    seconds,
    perSec: requests / seconds,
    ok2xx: r['2xx'],
    non2xx: r.non2xx,
    errors: r.errors,
    timeouts: r.timeouts,
    p50: r.latency.p50,
    p99: r.latency.p99,
    wrapped: next > pool.length,  // the pool is shared: offset + used beyond its end repeats
    used: next - spec.offset,
  };
  process.stdout.write(JSON.stringify(out) + '\n');
});
