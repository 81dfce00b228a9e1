/** Shared by the aggregator tests: signed reports from fresh keys, temp dirs, a running aggregator. */
import { generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createAggregator, type AggregatorDeps } from '../aggregator/index.js';
import type { AggregatorConfigInput } from '../aggregator/config.js';
import { loadManifestFile } from '../src/manifests.js';
import { toBase64, toBase64Url } from '../src/protocol/base64.js';
import { envelopeJson, pae, signPayload, type KeyPair } from '../src/protocol/envelope.js';
import { canonicalBytes } from '../src/protocol/canonical.js';
import { buildReport, PAYLOAD_TYPE, reportBytes, type Report } from '../src/protocol/report.js';

export const MANIFEST = loadManifestFile('config/products/operately.json');
export const EXAMPLE = JSON.parse(readFileSync('config/examples/operately.json', 'utf8')) as Record<string, unknown>;
export const T0 = Date.parse('2026-12-03T16:00:00Z');
export const DAY = 86_400_000;

/** A clock the test moves by hand. */
export function testClock(start = T0) {
  const c = { now: start, clock: () => c.now };
  return c;
}

/**
 * A fresh Ed25519 identity that signs like `signReport`, but with node:crypto: tweetnacl
 * costs ~15 ms per key and signature here, too slow for hundreds of installations.
 * (Ed25519 is deterministic; a test checks the bytes equal signReport's.)
 */
export class Installation {
  readonly keys: KeyPair;
  readonly key: string;
  private readonly privateKey: KeyObject;
  constructor() {
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    this.privateKey = privateKey;
    const seed = new Uint8Array(privateKey.export({ format: 'der', type: 'pkcs8' }).subarray(16));
    this.keys = { seed, publicKey: new Uint8Array(publicKey.export({ format: 'der', type: 'spki' }).subarray(12)) };
    this.key = toBase64Url(this.keys.publicKey);
  }
  report(seq: number, now = T0, exact: Record<string, unknown> = EXAMPLE): Report {
    return buildReport(MANIFEST, exact, { key: this.key, seq, now });
  }
  envelope(seq: number, now = T0, exact?: Record<string, unknown>): string {
    const payload = reportBytes(this.report(seq, now, exact));
    const sig = sign(null, pae(PAYLOAD_TYPE, payload), this.privateKey);
    return envelopeJson({ payloadType: PAYLOAD_TYPE, payload: toBase64(payload), signatures: [{ keyid: this.key, sig: toBase64(sig) }] });
  }
  /** Signs any report-shaped object, bypassing buildReport's checks (for hostile input). */
  signRaw(report: Record<string, unknown>, payloadType = PAYLOAD_TYPE): string {
    return envelopeJson(signPayload(payloadType, canonicalBytes(report), this.keys));
  }
}

export function tempDir(prefix: string): { path: string; remove: () => void } {
  const path = mkdtempSync(join(tmpdir(), `beacon-${prefix}-`));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

export async function startAggregator(config: AggregatorConfigInput, deps: AggregatorDeps = {}) {
  const agg = createAggregator({ rateLimit: { capacity: 100_000, refillPerSec: 1000 }, ...config }, deps);
  const { url } = await agg.listen(0, '127.0.0.1');
  return { agg, url };
}

export async function post(url: string, body: string, headers: Record<string, string> = {}) {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
  const text = await res.text();
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, json, headers: res.headers };
}
