/** `beacon verify`: the same verification function the relays and aggregators run. */
import { MAX_ENVELOPE_BYTES } from '../src/protocol/envelope.js';
import type { ProtocolError } from '../src/protocol/errors.js';
import type { Report } from '../src/protocol/report.js';
import { verifyEnvelope } from '../src/protocol/verify.js';
import { readInput } from './io.js';
import { loadRegistry } from './registry.js';

export async function verify(
  path: string,
  manifestsDir: string | undefined,
  now: number,
): Promise<{ ok: true; report: Report } | { ok: false; error: ProtocolError }> {
  const manifests = loadRegistry(manifestsDir).registry;
  // One byte over the limit is enough for verifyEnvelope to answer too_large.
  const bytes = await readInput(path, MAX_ENVELOPE_BYTES, 'envelope');
  const r = verifyEnvelope(bytes, { manifests, now: () => now });
  return r.ok ? { ok: true, report: r.report } : { ok: false, error: r.error };
}
