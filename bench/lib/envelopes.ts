/**
 * Signed test envelopes, fast. Installations sign with tweetnacl (pure JS, ~1 ms per
 * key pair and signature); a bench needs hundreds of thousands, so the harness signs
 * the same bytes (`pae` over the canonical report) with node:crypto instead. The
 * result is byte-for-byte what `signReport` would produce for that key.
 */
import { generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { join } from 'node:path';
import { loadManifestFile, PACKAGE_ROOT } from '../../src/manifests.js';
import { toBase64, toBase64Url } from '../../src/protocol/base64.js';
import { envelopeJson, pae } from '../../src/protocol/envelope.js';
import type { Manifest } from '../../src/protocol/manifest.js';
import { buildReport, PAYLOAD_TYPE, reportBytes, type Report } from '../../src/protocol/report.js';

export const MANIFEST: Manifest = loadManifestFile(join(PACKAGE_ROOT, 'config', 'products', 'operately.json'));

export interface BenchKey {
  privateKey: KeyObject;
  /** Raw 32-byte public key. */
  publicKey: Buffer;
  /** base64url, as in report.key. */
  key: string;
}

/**
 * A fresh key pair. generateKeyPairSync is ~8x faster than importing a seed as PKCS#8
 * in OpenSSL 3. The public key comes out DER-encoded from the key generation itself:
 * calling KeyObject.export({format: 'jwk'}) in a tight keygen loop deadlocked Node 20.20
 * (a GC inside ExportJWKEdKey ran a KeyGenJob destructor that waits on the same mutex).
 */
export function benchKey(): BenchKey {
  const pair = generateKeyPairSync('ed25519', { publicKeyEncoding: { type: 'spki', format: 'der' } });
  const spki = pair.publicKey as unknown as Buffer; // @types/node lacks this overload (public encoded, private KeyObject)
  const publicKey = spki.subarray(spki.length - 32);
  const privateKey = pair.privateKey;
  return { privateKey, publicKey, key: toBase64Url(publicKey) };
}

/** A small deterministic PRNG (mulberry32), so every run builds the same population. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const pick = <T>(r: () => number, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
/** Skewed sizes: many small installations, a few big ones. */
const skewed = (r: () => number, max: number) => Math.floor(Math.exp(r() * Math.log(max)));

/** Exact (pre-bucketing) inputs of one made-up Operately installation. */
export function exactValues(r: () => number): Record<string, unknown> {
  const v: Record<string, unknown> = {
    version: pick(r, ['1.4.2', '1.4.1', '1.3.9', '1.3.0', '1.2.7', '1.5.0']),
    elixir_version: pick(r, ['1.16.3', '1.15.7', '1.17.1']),
    otp_version: pick(r, ['26.2.5', '25.3.2', '27.0.1']),
    os: pick(r, ['linux', 'linux', 'linux', 'darwin', 'freebsd', 'windows']),
    architecture: pick(r, ['x86_64', 'x86_64', 'arm64']),
    deployment_type: pick(r, ['docker', 'docker', 'source', 'binary']),
    users: skewed(r, 20_000),
  };
  if (r() < 0.7) {
    v.projects = skewed(r, 5_000);
    v.goals = skewed(r, 10_000);
    v.active_users_7d = skewed(r, 5_000);
    v.avg_response_time_ms = skewed(r, 5_000);
    v.db_size_mb = skewed(r, 200_000);
    v.features = ['ai_features', 'notifications', 'sso'].filter(() => r() < 0.4);
  }
  return v;
}

export function makeReport(key: string, r: () => number, now: number, seq = 1): Report {
  return buildReport(MANIFEST, exactValues(r), { key, seq, now });
}

/** The wire JSON of `report` signed by `k` (same bytes as signReport + envelopeJson). */
export function signedEnvelope(report: Report, k: BenchKey): string {
  const payload = reportBytes(report);
  const sig = sign(null, pae(PAYLOAD_TYPE, payload), k.privateKey);
  return envelopeJson({ payloadType: PAYLOAD_TYPE, payload: toBase64(payload), signatures: [{ keyid: k.key, sig: toBase64(sig) }] });
}

/**
 * Reports for many keys: a few hundred value sets go through buildReport (and its
 * checks) once; each key then gets one of them with its own key, so the population
 * is varied without paying zod per report.
 */
export function reportFactory(now: number, seed = 1, variety = 512): (key: string, i: number) => Report {
  const r = prng(seed);
  const templates = Array.from({ length: variety }, () => makeReport('A'.repeat(43), r, now));
  return (key, i) => ({ ...templates[i % variety]!, key });
}

/** `n` envelopes, each from a fresh installation key (so each is a new report to the aggregator). */
export function envelopePool(n: number, now: number, seed = 1): string[] {
  const report = reportFactory(now, seed);
  const out: string[] = new Array(n);
  for (let i = 0; i < n; i++) {
    const k = benchKey();
    out[i] = signedEnvelope(report(k.key, i), k);
  }
  return out;
}
