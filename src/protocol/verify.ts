/**
 * The one verification function every part of Beacon uses: bytes in, a typed report
 * out, or an error with a stable code. It never throws and never trusts `keyid`: the
 * signature must verify against the `key` inside the signed payload.
 *
 * Order (cheap checks first, so garbage costs no signature check; docs/PROTOCOL.md §7):
 *   too_large -> bad_json (incl. repeated envelope keys) -> bad_envelope (shape)
 *   -> bad_payload_type -> bad_envelope (payload, sig base64) -> bad_signature (sig length)
 *   -> bad_json (payload) -> schema_violation (shape, canonical form) -> unknown_product
 *   -> unknown_manifest_version -> schema_violation (values vs manifest) -> from_future / stale
 *   -> bad_signature (keyid != key, then the signature)
 */
import { createPublicKey, verify as cryptoVerify, type KeyObject } from 'node:crypto';
import { canonicalize } from './canonical.js';
import { fromBase64, fromBase64Url } from './base64.js';
import { EnvelopeSchema, MAX_ENVELOPE_BYTES, pae, type Envelope } from './envelope.js';
import type { ProtocolError, ProtocolErrorCode } from './errors.js';
import { formatPath } from './manifest.js';
import type { ManifestRegistry } from './registry.js';
import { PAYLOAD_TYPE, ReportSchema, checkValues, type Report } from './report.js';
import { systemClock, type Clock } from './time.js';

export interface VerifyOptions {
  manifests: ManifestRegistry;
  /** Injected clock (ms since epoch). */
  now?: Clock;
  /** How far `issued` may be ahead of the clock. Default 10 minutes. */
  skewMs?: number;
  /** How old `issued` may be. Default 8 days (the aggregator's window of today and 7 days back, plus a day). */
  maxAgeMs?: number;
}

export const DEFAULT_SKEW_MS = 10 * 60_000;
export const DEFAULT_MAX_AGE_MS = 8 * 86_400_000;

export interface Verified {
  ok: true;
  report: Report;
  envelope: Envelope;
  /** The signed payload bytes (canonical JSON of `report`). */
  payload: Uint8Array;
  signature: Uint8Array;
}

export type VerifyFailure = { ok: false; error: ProtocolError };
export type VerifyResult = Verified | VerifyFailure;

/** Everything but the signature checked; what is left is one Ed25519 verification. */
export interface Checked {
  ok: true;
  report: Report;
  envelope: Envelope;
  payload: Uint8Array;
  signature: Uint8Array;
  signed: Uint8Array;
  publicKey: Uint8Array;
}

const fail = (code: ProtocolErrorCode, message: string, path?: string): VerifyFailure =>
  ({ ok: false, error: path === undefined ? { code, message } : { code, message, path } });

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function parseJson(bytes: Uint8Array, what: string): { ok: true; value: unknown; text: string } | VerifyFailure {
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    return fail('bad_json', `${what} is not valid UTF-8`);
  }
  try {
    return { ok: true, value: JSON.parse(text), text };
  } catch (e) {
    return fail('bad_json', `${what} is not valid JSON: ${(e as Error).message.slice(0, 120)}`);
  }
}

/**
 * True when some object in already-valid JSON text repeats a key. Parsers disagree on which
 * duplicate wins (JS: the last, others: the first or an error), so an envelope with one
 * would mean different things to different verifiers. Linear, no recursion.
 */
export function hasDuplicateKey(text: string): boolean {
  const stack: (Set<string> | null)[] = [];
  let expectKey = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') {
      let j = i + 1;
      while (text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      if (expectKey) {
        const keys = stack[stack.length - 1]!;
        const key = JSON.parse(text.slice(i, j + 1)) as string;
        if (keys.has(key)) return true;
        keys.add(key);
        expectKey = false;
      }
      i = j;
    } else if (c === '{') {
      stack.push(new Set());
      expectKey = true;
    } else if (c === '[') {
      stack.push(null);
    } else if (c === '}' || c === ']') {
      stack.pop();
    } else if (c === ',') {
      expectKey = stack[stack.length - 1] instanceof Set;
    }
  }
  return false;
}

/** All checks except the signature itself. */
export function checkEnvelope(input: Uint8Array | string, opts: VerifyOptions): Checked | VerifyFailure {
  try {
    // A UTF-8 encoding is never shorter than the string's UTF-16 length: refuse huge strings before encoding them.
    if (typeof input === 'string' && input.length > MAX_ENVELOPE_BYTES)
      return fail('too_large', `envelope is over ${MAX_ENVELOPE_BYTES} bytes`);
    return checkUnsafe(typeof input === 'string' ? new TextEncoder().encode(input) : input, opts);
  } catch (e) {
    // Unreachable by design; a verifier must still never throw into its caller.
    return fail('bad_envelope', `unexpected verifier error: ${(e as Error)?.message ?? String(e)}`);
  }
}

function checkUnsafe(bytes: Uint8Array, opts: VerifyOptions): Checked | VerifyFailure {
  if (bytes.length > MAX_ENVELOPE_BYTES) return fail('too_large', `envelope is ${bytes.length} bytes; the limit is ${MAX_ENVELOPE_BYTES}`);
  const outer = parseJson(bytes, 'envelope');
  if (!outer.ok) return outer;
  if (hasDuplicateKey(outer.text)) return fail('bad_json', 'envelope repeats a key in one object');
  const env = EnvelopeSchema.safeParse(outer.value);
  if (!env.success) {
    const i = env.error.issues[0]!;
    return fail('bad_envelope', `envelope ${formatPath(i.path) || '(root)'}: ${i.message}`);
  }
  const envelope = env.data;
  if (envelope.payloadType !== PAYLOAD_TYPE) return fail('bad_payload_type', `payloadType must be ${PAYLOAD_TYPE}`);
  const payload = fromBase64(envelope.payload);
  if (!payload) return fail('bad_envelope', 'payload is not canonical padded base64');
  const sigText = envelope.signatures[0]!.sig;
  const signature = fromBase64(sigText);
  if (!signature) return fail('bad_envelope', 'sig is not canonical padded base64');
  if (signature.length !== 64) return fail('bad_signature', `an Ed25519 signature is 64 bytes, not ${signature.length}`);

  const inner = parseJson(payload, 'payload');
  if (!inner.ok) return inner;
  const shape = ReportSchema.safeParse(inner.value);
  if (!shape.success) {
    const i = shape.error.issues[0]!;
    // An unknown key's issue sits on its parent; name the key itself, as for every other field.
    const path = formatPath(i.code === 'unrecognized_keys' ? [...i.path, i.keys[0]!] : i.path);
    return fail('schema_violation', `${path || 'report'}: ${i.message}`, path);
  }
  const report = shape.data;
  // Compare the parsed report, not the raw JSON: zod silently drops "__proto__" record keys,
  // and a member the report does not keep must not ride along in the signed bytes.
  if (canonicalize(report) !== inner.text)
    return fail('schema_violation', 'payload is not the RFC 8785 canonical JSON of the report (or has a member the report cannot hold)', '');

  if (!opts.manifests.hasProduct(report.product)) return fail('unknown_product', `unknown product "${report.product}"`);
  const manifest = opts.manifests.get(report.product, report.manifest);
  if (!manifest) return fail('unknown_manifest_version', `unknown manifest version ${report.manifest} for "${report.product}"`);
  const problems = checkValues(manifest, report.values);
  if (problems.length) return fail('schema_violation', `${problems[0]!.path}: ${problems[0]!.message}`, problems[0]!.path);

  const now = (opts.now ?? systemClock)();
  const issued = Date.parse(report.issued);
  if (issued > now + (opts.skewMs ?? DEFAULT_SKEW_MS)) return fail('from_future', `issued ${report.issued} is ahead of the verifier's clock`);
  if (now - issued > (opts.maxAgeMs ?? DEFAULT_MAX_AGE_MS)) return fail('stale', `issued ${report.issued} is too old`);

  // keyid is unsigned and never trusted; one that is not the payload's key is refused so it
  // cannot carry anything (a hostname, say) past a verifier that only checks the signature.
  // Absent or "" (what some DSSE libraries write for "no keyid") is fine.
  const keyid = envelope.signatures[0]!.keyid;
  if (keyid !== undefined && keyid !== '' && keyid !== report.key) return fail('bad_signature', 'keyid is not the key in the payload');
  const publicKey = fromBase64Url(report.key)!;
  return { ok: true, report, envelope, payload, signature, signed: pae(envelope.payloadType, payload), publicKey };
}

// node:crypto verification with a bounded cache of parsed public keys.
const KEY_CACHE_MAX = 50_000;
const keyCache = new Map<string, KeyObject>();

export function ed25519PublicKey(raw: Uint8Array): KeyObject {
  const id = Buffer.from(raw).toString('base64');
  let key = keyCache.get(id);
  if (!key) {
    // A JWK import of the raw key costs ~10 us; the same key as SPKI DER cost 100-340 us (bench/, --cpu-prof).
    key = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(raw).toString('base64url') }, format: 'jwk' });
    if (keyCache.size >= KEY_CACHE_MAX) keyCache.delete(keyCache.keys().next().value!);
    keyCache.set(id, key);
  }
  return key;
}

/** Ed25519 verification with node:crypto (OpenSSL): about 75x tweetnacl's speed. */
export function ed25519Verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  try {
    return cryptoVerify(null, message, ed25519PublicKey(publicKey), signature);
  } catch {
    return false;
  }
}

/** The same, on libuv's thread pool, so a server's event loop is not held by verification. */
export function ed25519VerifyAsync(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): Promise<boolean> {
  return new Promise((resolve) => {
    try {
      cryptoVerify(null, message, ed25519PublicKey(publicKey), signature, (err, ok) => resolve(!err && ok));
    } catch {
      resolve(false);
    }
  });
}

function done(c: Checked, ok: boolean): VerifyResult {
  if (!ok) return fail('bad_signature', 'the signature does not verify against the key in the payload');
  return { ok: true, report: c.report, envelope: c.envelope, payload: c.payload, signature: c.signature };
}

export function verifyEnvelope(input: Uint8Array | string, opts: VerifyOptions): VerifyResult {
  const c = checkEnvelope(input, opts);
  if (!c.ok) return c;
  return done(c, ed25519Verify(c.publicKey, c.signed, c.signature));
}

export async function verifyEnvelopeAsync(input: Uint8Array | string, opts: VerifyOptions): Promise<VerifyResult> {
  const c = checkEnvelope(input, opts);
  if (!c.ok) return c;
  return done(c, await ed25519VerifyAsync(c.publicKey, c.signed, c.signature));
}
