/**
 * Writes test/vectors/envelopes-valid.json and envelopes-invalid.json.
 *
 * Deterministic: the keys are RFC 8032 §7.1 seeds and Ed25519 signatures are deterministic,
 * so every run writes the same bytes (test/vectors.test.ts checks the committed files against
 * a fresh run). Before writing, every vector is run through verifyEnvelope, so a vector whose
 * expectation the reference verifier disagrees with is never written.
 *
 *   npx tsx test/vectors/generate.mts
 */
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import nacl from 'tweetnacl';
import { loadManifestFile } from '../../src/manifests.js';
import {
  ManifestRegistry, PAYLOAD_TYPE, canonicalize, keyPairFromSeed, pae, toBase64, toBase64Url, verifyEnvelope,
  type KeyPair, type ProtocolErrorCode,
} from '../../src/protocol/index.js';

export const VECTORS_DIR = dirname(fileURLToPath(import.meta.url));
const PACKAGE_ROOT = join(VECTORS_DIR, '..', '..');
export const VALID_FILE = join(VECTORS_DIR, 'envelopes-valid.json');
export const INVALID_FILE = join(VECTORS_DIR, 'envelopes-invalid.json');

interface VectorBase {
  name: string;
  comment: string;
  /** The verifier's clock (ISO instant); skew 10 minutes and max age 8 days are the defaults. */
  now: string;
  /** The exact envelope text (UTF-8). Absent when the bytes are not UTF-8: then envelopeBase64. */
  envelope?: string;
  envelopeBase64?: string;
}
export interface ValidVector extends VectorBase {
  /** The report a verifier returns: the decoded payload. */
  report: unknown;
}
export interface InvalidVector extends VectorBase {
  expect: ProtocolErrorCode;
  /** For schema_violation: the offending field's path ("" = the payload as a whole). */
  path?: string;
}

/** The registry every vector is checked against: operately v1 plus any test manifests. */
export function vectorRegistry(): ManifestRegistry {
  const dir = join(VECTORS_DIR, 'manifests');
  const extra = readdirSync(dir).filter((f) => f.endsWith('.json')).sort().map((f) => loadManifestFile(join(dir, f)));
  return new ManifestRegistry([loadManifestFile(join(PACKAGE_ROOT, 'config', 'products', 'operately.json')), ...extra]);
}

/** The envelope bytes of a vector. */
export function vectorBytes(v: VectorBase): Uint8Array {
  return new Uint8Array(v.envelopeBase64 !== undefined ? Buffer.from(v.envelopeBase64, 'base64') : Buffer.from(v.envelope!, 'utf8'));
}

// ---- keys: RFC 8032 §7.1 TEST 1 is the installation, TEST 2 another key ----------------------
const rfc = JSON.parse(readFileSync(join(VECTORS_DIR, 'crypto', 'rfc8032-ed25519-test-vectors.json'), 'utf8')) as {
  vectors: { name: string; secretKey: string }[];
};
const seed = (name: string): KeyPair => keyPairFromSeed(Buffer.from(rfc.vectors.find((v) => v.name === name)!.secretKey, 'hex'));
const A = seed('TEST 1');
const B = seed('TEST 2');
const KEY_A = toBase64Url(A.publicKey);
const KEY_B = toBase64Url(B.publicKey);

// ---- reports -----------------------------------------------------------------------------------
const NOW = '2026-12-03T16:20:00Z';
const PHASE1 = {
  version: '1.4.2', elixir_version: '1.16', otp_version: '26', os: 'linux', architecture: 'x86_64', deployment_type: 'docker', users: '11-50',
};
const report = (over: Record<string, unknown> = {}, values: Record<string, unknown> = {}): Record<string, unknown> => ({
  protocol: 1, product: 'operately', manifest: 1, period: '2026-12-03', issued: '2026-12-03T16:00:00Z', seq: 1, key: KEY_A,
  values: { ...PHASE1, ...values }, ...over,
});
const utf8 = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'utf8'));
const bytesOf = (p: Record<string, unknown> | string | Uint8Array): Uint8Array =>
  p instanceof Uint8Array ? p : utf8(typeof p === 'string' ? p : canonicalize(p));

/** UTF-8 of `s` with each U+0000 replaced by raw bytes: how the non-UTF-8 vectors are made. */
const withRaw = (s: string, raw: number[]): Uint8Array =>
  new Uint8Array(Buffer.concat(s.split('\u0000').flatMap((part, i) => (i ? [Buffer.from(raw), Buffer.from(part)] : [Buffer.from(part)]))));

const sign = (message: Uint8Array, key: KeyPair): Uint8Array =>
  nacl.sign.detached(message, nacl.sign.keyPair.fromSeed(key.seed).secretKey);

interface SignOpts {
  key?: KeyPair;
  /** keyid written in the envelope; null leaves it out. Default: the signing key. */
  keyid?: string | null;
  payloadType?: string;
  /** The type that goes into PAE, if it is to differ from the envelope's. */
  signedType?: string;
}
interface Env { payloadType: unknown; payload: unknown; signatures: Record<string, unknown>[] }

/** A DSSE envelope over the payload (a report object is canonicalized first). */
function envelope(p: Record<string, unknown> | string | Uint8Array, o: SignOpts = {}): Env {
  const key = o.key ?? A;
  const bytes = bytesOf(p);
  const payloadType = o.payloadType ?? PAYLOAD_TYPE;
  const sig = toBase64(sign(pae(o.signedType ?? payloadType, bytes), key));
  const keyid = o.keyid === undefined ? toBase64Url(key.publicKey) : o.keyid;
  return { payloadType, payload: toBase64(bytes), signatures: [keyid === null ? { sig } : { keyid, sig }] };
}
const text = (e: unknown): string => JSON.stringify(e);
const withSig = (e: Env, sig: Record<string, unknown>): Env => ({ ...e, signatures: [sig] });
const sigOf = (e: Env): string => e.signatures[0]!.sig as string;

/** Same bytes, non-canonical spelling: set the unused low bits of the last base64 digit. */
function dirtyPadding(b64: string): string {
  const digits = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
  const pad = b64.endsWith('==') ? 2 : b64.endsWith('=') ? 1 : 0;
  if (pad === 0) throw new Error('no padding bits to dirty');
  const at = b64.length - pad - 1;
  return b64.slice(0, at) + digits[digits.indexOf(b64[at]!) | 1] + b64.slice(at + 1);
}

const L = 2n ** 252n + 27742317777372353535851937790883648493n;
/** The same signature with S + L: verifies in implementations that skip the S < L check. */
function malleate(sigB64: string): string {
  const sig = Buffer.from(sigB64, 'base64');
  let s = BigInt('0x' + Buffer.from(sig.subarray(32)).reverse().toString('hex')) + L;
  const out = Buffer.alloc(32);
  for (let i = 0; i < 32; i++, s >>= 8n) out[i] = Number(s & 0xffn);
  return toBase64(Buffer.concat([sig.subarray(0, 32), out]));
}

const ms = (iso: string) => Date.parse(iso);
const iso = (t: number) => new Date(t).toISOString();
const DAY = 86_400_000;

// ---- the vectors ---------------------------------------------------------------------------------
export function buildVectors(): { valid: ValidVector[]; invalid: InvalidVector[] } {
  const valid: ValidVector[] = [];
  const invalid: InvalidVector[] = [];
  const ok = (name: string, comment: string, env: string, r: Record<string, unknown>, now = NOW) =>
    valid.push({ name, comment, now, envelope: env, report: r });
  const bad = (name: string, expect: ProtocolErrorCode, comment: string, env: string | Uint8Array, extra: { path?: string; now?: string } = {}) =>
    invalid.push({
      name, comment, now: extra.now ?? NOW,
      ...(typeof env === 'string' ? { envelope: env } : { envelopeBase64: toBase64(env) }),
      expect, ...(extra.path !== undefined ? { path: extra.path } : {}),
    });
  const badReport = (name: string, path: string, comment: string, p: Record<string, unknown> | string) =>
    bad(name, 'schema_violation', comment, text(envelope(p)), { path });

  const r0 = report();
  const e0 = envelope(r0);
  const t0 = text(e0);

  // -- valid --
  ok('phase1-minimal', 'Only the required operately fields; the reference envelope the other vectors are made from.', t0, r0);
  const full = report({ seq: 42 }, {
    projects: '1-10', goals: '51-200', active_users_7d: '11-50', db_size_mb: '1024-10239', features: ['notifications', 'sso'],
  });
  ok('phase2-full', 'Every optional field too: a custom ladder (db_size_mb) and a sorted feature set.', text(envelope(full)), full);
  const edges = report({ seq: Number.MAX_SAFE_INTEGER }, {
    users: '5001+', projects: '0', os: 'other', version: '0.0.0', otp_version: '999999', db_size_mb: '102400+', features: [],
  });
  ok('edge-values', 'Top and bottom of a ladder, the "other" category, the largest seq, version parts at their bounds, an empty feature set.',
    text(envelope(edges)), edges);
  ok('no-keyid', 'keyid is optional (DSSE); the key that counts is the one in the payload.', text(envelope(r0, { keyid: null })), r0);
  ok('empty-keyid', 'keyid "" is the same as no keyid (some DSSE libraries always write the member).', text(envelope(r0, { keyid: '' })), r0);
  ok('outer-whitespace-and-key-order', 'The envelope JSON itself is not canonical: any whitespace and member order is fine. Only the payload bytes are signed.',
    `{\n  "signatures" : [ { "sig" : "${sigOf(e0)}", "keyid" : "${KEY_A}" } ],\n  "payload" : "${e0.payload}",\n  "payloadType" : "${PAYLOAD_TYPE}"\n}\n`, r0);
  ok('exactly-16KiB', 'Padded with trailing spaces to exactly 16384 bytes: the size limit is inclusive.', t0.padEnd(16384, ' '), r0);
  ok('skew-boundary', 'issued is exactly 10 minutes ahead of the clock: still accepted (from_future is strictly more than the skew).',
    t0, r0, iso(ms('2026-12-03T16:00:00Z') - 10 * 60_000));
  ok('age-boundary', 'issued is exactly 8 days old: still accepted (stale is strictly older than the maximum age).',
    t0, r0, iso(ms('2026-12-03T16:00:00Z') + 8 * DAY));

  // -- too_large --
  bad('16KiB-plus-one', 'too_large', 'A valid envelope padded with trailing spaces to 16385 bytes: refused before parsing.', t0.padEnd(16385, ' '));
  bad('16KiB-plus-one-garbage', 'too_large', 'Size is checked first: 16385 bytes that are not even JSON are too_large, not bad_json.', 'x'.repeat(16385));

  // -- bad_json (envelope) --
  bad('outer-truncated', 'bad_json', 'The envelope text cut short by one byte.', t0.slice(0, -1));
  bad('outer-empty', 'bad_json', 'Zero bytes.', '');
  bad('outer-bom', 'bad_json', 'A UTF-8 byte order mark before the JSON (RFC 8259 §8.1: must not be added; Beacon does not skip it).', '\uFEFF' + t0);
  const inKeyid = t0.replace('"keyid":"', '"keyid":"\u0000');
  bad('outer-invalid-utf8', 'bad_json', 'A 0xFF byte at the start of the keyid string: not UTF-8.', withRaw(inKeyid, [0xff]));
  bad('outer-overlong-utf8', 'bad_json', 'An overlong 2-byte encoding of "/" (C0 AF) in the keyid string: not UTF-8.', withRaw(inKeyid, [0xc0, 0xaf]));
  bad('outer-surrogate-utf8', 'bad_json', 'A UTF-16 surrogate encoded as UTF-8 (ED A0 80) in the keyid string: not UTF-8.', withRaw(inKeyid, [0xed, 0xa0, 0x80]));
  bad('outer-nan', 'bad_json', 'NaN is not JSON.', '{"payloadType":NaN}');
  bad('outer-trailing-comma', 'bad_json', 'A trailing comma is not JSON.', t0.slice(0, -1) + ',}');
  bad('outer-duplicate-key', 'bad_json', 'The envelope repeats "payload" (a well-formed but different report last). Parsers differ on which duplicate wins, so the envelope is refused (I-JSON, RFC 7493).',
    t0.slice(0, -1) + `,"payload":"${envelope(full).payload}"}`);

  // -- bad_envelope --
  bad('outer-array', 'bad_envelope', 'Valid JSON, but not an object.', `[${t0}]`);
  bad('outer-null', 'bad_envelope', 'Valid JSON, but not an object.', 'null');
  bad('missing-payloadType', 'bad_envelope', 'payloadType is required.', text({ payload: e0.payload, signatures: e0.signatures }));
  bad('missing-payload', 'bad_envelope', 'payload is required.', text({ payloadType: e0.payloadType, signatures: e0.signatures }));
  bad('missing-signatures', 'bad_envelope', 'signatures is required.', text({ payloadType: e0.payloadType, payload: e0.payload }));
  bad('missing-sig', 'bad_envelope', 'A signature without sig.', text(withSig(e0, { keyid: KEY_A })));
  bad('extra-envelope-field', 'bad_envelope', 'An unknown envelope member (it is not signed, so it could carry anything).', text({ ...e0, hostname: 'db1.example.org' }));
  bad('extra-signature-field', 'bad_envelope', 'An unknown member in the signature object.', text(withSig(e0, { ...e0.signatures[0], cert: 'x' })));
  bad('no-signatures', 'bad_envelope', 'signatures is empty: exactly one is required.', text({ ...e0, signatures: [] }));
  bad('two-signatures', 'bad_envelope', 'Two valid signatures over the same payload (installation and another key): Beacon envelopes carry exactly one.',
    text({ ...e0, signatures: [e0.signatures[0], { keyid: KEY_B, sig: toBase64(sign(pae(PAYLOAD_TYPE, bytesOf(r0)), B)) }] }));
  bad('keyid-not-string', 'bad_envelope', 'keyid, when present, is a string.', text(withSig(e0, { keyid: 1, sig: sigOf(e0) })));
  bad('payload-not-string', 'bad_envelope', 'payload is a base64 string, not the report object.', text({ ...e0, payload: r0 }));
  bad('payload-bad-base64-char', 'bad_envelope', 'A "!" in the payload base64.', text({ ...e0, payload: '!' + (e0.payload as string).slice(1) }));
  bad('payload-base64-newline', 'bad_envelope', 'MIME-style line break inside the payload base64.', text({ ...e0, payload: (e0.payload as string).slice(0, 76) + '\n' + (e0.payload as string).slice(76) }));
  // A report whose canonical bytes are not a multiple of 3 long, so its base64 has padding.
  const padded = [1, 10, 100].map((seq) => report({ seq })).find((r) => bytesOf(r).length % 3 !== 0)!;
  const ep = envelope(padded);
  bad('payload-unpadded', 'bad_envelope', 'payload base64 without its "=" padding (base64 here is RFC 4648 §4, padded).', text({ ...ep, payload: (ep.payload as string).replace(/=+$/, '') }));
  bad('payload-padding-bits', 'bad_envelope', 'payload base64 whose unused low bits of the last digit are not zero: decodes to the same bytes, but is not the one canonical spelling.',
    text({ ...ep, payload: dirtyPadding(ep.payload as string) }));
  bad('sig-padding-bits', 'bad_envelope', 'sig base64 (64 bytes, "==" padded) with non-zero unused bits in its last digit.', text(withSig(e0, { keyid: KEY_A, sig: dirtyPadding(sigOf(e0)) })));
  bad('sig-unpadded', 'bad_envelope', 'sig base64 without its "==" padding.', text(withSig(e0, { keyid: KEY_A, sig: sigOf(e0).replace(/=+$/, '') })));
  bad('sig-bad-base64-char', 'bad_envelope', 'A "*" in the sig base64.', text(withSig(e0, { keyid: KEY_A, sig: '*' + sigOf(e0).slice(1) })));

  // -- bad_payload_type --
  bad('payload-type-json', 'bad_payload_type', 'application/json, signed consistently: the signature is fine, the type is not Beacon\'s.',
    text(envelope(r0, { payloadType: 'application/json' })));
  bad('payload-type-case', 'bad_payload_type', 'The type compares byte for byte: "+JSON" is not "+json".',
    text(envelope(r0, { payloadType: PAYLOAD_TYPE.replace('json', 'JSON') })));
  bad('payload-type-v2', 'bad_payload_type', 'A future report type this verifier does not know.', text(envelope(r0, { payloadType: PAYLOAD_TYPE.replace('v1', 'v2') })));

  // -- bad_json (payload) --
  bad('payload-not-json', 'bad_json', 'A correctly signed payload that is not JSON.', text(envelope('users=37')));
  bad('payload-empty', 'bad_json', 'A correctly signed empty payload.', text(envelope('')));
  bad('payload-invalid-utf8', 'bad_json', 'A correctly signed payload with a 0xFF byte inside a string.',
    text(envelope(withRaw(canonicalize(r0).replace('"linux"', '"linux\u0000"'), [0xff]))));
  bad('payload-bom', 'bad_json', 'A correctly signed payload that starts with a UTF-8 byte order mark.', text(envelope('\uFEFF' + canonicalize(r0))));

  // -- bad_signature --
  const flipped = Buffer.from(sigOf(e0), 'base64');
  flipped[10] ^= 0x01;
  bad('sig-flipped-bit', 'bad_signature', 'One bit of the signature flipped.', text(withSig(e0, { keyid: KEY_A, sig: toBase64(flipped) })));
  bad('sig-by-other-key', 'bad_signature', 'Signed by another key (RFC 8032 TEST 2) while keyid claims the key in the payload.', text(envelope(r0, { key: B, keyid: KEY_A })));
  bad('keyid-lies', 'bad_signature', 'keyid names the key that really signed (TEST 2), but the payload says TEST 1: verification uses the payload\'s key, never keyid.',
    text(envelope(r0, { key: B })));
  bad('keyid-mismatch', 'bad_signature', 'A good signature by the payload\'s key, but keyid names another key. keyid is unsigned, so it must be the payload\'s key or absent; otherwise it could carry anything past the verifier.',
    text(envelope(r0, { keyid: KEY_B })));
  bad('keyid-free-text', 'bad_signature', 'A good signature, keyid used as a free-text channel.', text(envelope(r0, { keyid: 'db1.example.org' })));
  bad('sig-over-other-type', 'bad_signature', 'The signature covers PAE with payloadType "application/json", the envelope says the Beacon type: PAE binds the type.',
    text(envelope(r0, { signedType: 'application/json' })));
  bad('sig-over-raw-payload', 'bad_signature', 'Signed over the payload bytes instead of PAE(payloadType, payload): a common implementation mistake.',
    text(withSig(e0, { keyid: KEY_A, sig: toBase64(sign(bytesOf(r0), A)) })));
  bad('sig-s-plus-l', 'bad_signature', 'The valid signature with S replaced by S + L (same R): RFC 8032 §5.1.7 requires S < L. tweetnacl 1.0.3 accepts it (malleability); OpenSSL/libsodium refuse.',
    text(withSig(e0, { keyid: KEY_A, sig: malleate(sigOf(e0)) })));
  bad('sig-zero', 'bad_signature', 'All 64 bytes zero.', text(withSig(e0, { keyid: KEY_A, sig: toBase64(new Uint8Array(64)) })));
  bad('sig-63-bytes', 'bad_signature', 'Canonical base64 of 63 bytes: an Ed25519 signature is 64.', text(withSig(e0, { keyid: KEY_A, sig: toBase64(Buffer.from(sigOf(e0), 'base64').subarray(0, 63)) })));

  // -- unknown_product / unknown_manifest_version --
  bad('unknown-product', 'unknown_product', 'A well-formed report for a product the verifier has no manifest for.', text(envelope(report({ product: 'nosuchproduct' }))));
  bad('unknown-manifest-version', 'unknown_manifest_version', 'operately is known, its manifest version 1000000 is not.', text(envelope(report({ manifest: 1_000_000 }))));
  bad('unknown-manifest-version-test', 'unknown_manifest_version', 'test/vectors/manifests/vectortest.json declares version 1 only; the report claims version 2.',
    text(envelope(report({ product: 'vectortest', manifest: 2, values: { size: '0' } }))));

  // -- schema_violation: report shape --
  badReport('extra-top-level-key', 'hostname', 'An extra report member: the report is a strict object.', report({ hostname: 'db1' }));
  badReport('missing-seq', 'seq', 'seq is required.', (({ seq: _s, ...rest }) => rest)(r0));
  badReport('protocol-2', 'protocol', 'Protocol version 2 is not this protocol.', report({ protocol: 2 }));
  badReport('manifest-zero', 'manifest', 'Manifest versions start at 1.', report({ manifest: 0 }));
  badReport('seq-zero', 'seq', 'seq starts at 1.', report({ seq: 0 }));
  badReport('seq-2^64', 'seq', 'seq 2^64 is beyond 2^53-1, where JSON numbers stop being exact everywhere.', canonicalize(r0).replace('"seq":1', '"seq":18446744073709551616'));
  badReport('seq-1e400', 'seq', 'seq 1e400 overflows a double (JSON.parse gives Infinity).', canonicalize(r0).replace('"seq":1', '"seq":1e400'));
  badReport('seq-string', 'seq', 'seq is a number, not a string.', report({ seq: '1' }));
  badReport('key-short', 'key', 'key is 31 bytes.', report({ key: toBase64Url(A.publicKey.subarray(0, 31)) }));
  badReport('key-padded-base64', 'key', 'key in padded standard base64 rather than unpadded base64url.', report({ key: toBase64(A.publicKey) }));
  badReport('period-not-issued-day', 'period', 'period must be the UTC day of issued.', report({ period: '2026-12-02' }));
  badReport('period-not-a-day', 'period', 'February 30th is not a day.', report({ period: '2026-02-30', issued: '2026-02-30T16:00:00Z' }));
  badReport('issued-not-hour', 'issued', 'issued has minutes: it must be truncated to the hour.', report({ issued: '2026-12-03T16:20:00Z' }));
  badReport('issued-offset', 'issued', 'issued must be written in UTC with Z.', report({ issued: '2026-12-03T17:00:00+01:00' }));
  badReport('label-uppercase', 'values.os', 'Values are lower-case tokens.', report({}, { os: 'Linux' }));
  badReport('label-free-text', 'values.deployment_type', 'Free text (spaces) is never a value.', report({}, { deployment_type: 'docker on my NAS' }));
  badReport('not-an-object', '', 'The payload is a JSON array.', '[1]');

  // -- schema_violation: non-canonical payload (the signed bytes must be the RFC 8785 form) --
  const c0 = canonicalize(r0);
  badReport('payload-whitespace', '', 'Pretty-printed report: valid JSON, correctly signed, but not canonical.', JSON.stringify(r0, null, 2));
  badReport('payload-key-order', '', 'Report members not sorted.', JSON.stringify(r0));
  badReport('payload-duplicate-key', '', 'The payload repeats "seq" (1 then 2): parsers disagree on which wins, so non-canonical payloads are refused.',
    c0.replace('"seq":1', '"seq":1,"seq":2'));
  badReport('payload-number-spelling', '', 'seq written as 1.0.', c0.replace('"seq":1', '"seq":1.0'));
  badReport('payload-escaped-char', '', 'A needless \\u escape in a string ("\\u006cinux").', c0.replace('"linux"', '"\\u006cinux"'));
  badReport('payload-trailing-newline', '', 'Canonical JSON followed by a newline.', c0 + '\n');

  // -- schema_violation: values against the manifest --
  badReport('unknown-value-field', 'values.favorite_color', 'A value field the operately manifest does not declare.', report({}, { favorite_color: 'blue' }));
  badReport('missing-required-value', 'values.users', 'users is required by the manifest.', report({}, { users: undefined }));
  badReport('label-not-on-ladder', 'values.users', '"12" is an exact count, not a label of the ladder.', report({}, { users: '12' }));
  badReport('label-wrong-bucket', 'values.users', '"11-49" is not a bucket of the default ladder.', report({}, { users: '11-49' }));
  badReport('label-other-ladder', 'values.db_size_mb', '"11-50" is on the default ladder, but db_size_mb declares its own.', report({}, { db_size_mb: '11-50' }));
  badReport('category-not-listed', 'values.os', 'solaris is not on the closed list (the library maps it to "other" before signing).', report({}, { os: 'solaris' }));
  badReport('version-suffix', 'values.version', 'A build suffix is never sent.', report({}, { version: '1.4.2-ee' }));
  badReport('version-precision', 'values.version', 'version has patch precision: "1.4" is too short.', report({}, { version: '1.4' }));
  badReport('version-leading-zero', 'values.otp_version', 'Version parts have no leading zeros.', report({}, { otp_version: '026' }));
  badReport('values-proto-key', '', 'A "__proto__" member in values carrying free text. Some JSON schema libraries skip such keys without checking them; the verifier must not accept a payload it cannot represent exactly.',
    report({}, { ['__proto__']: { hostname: 'db1.example.org' } }));
  badReport('top-level-proto-key', '__proto__', 'A "__proto__" member in the report: an unknown member like any other.', report({ ['__proto__']: { hostname: 'db1.example.org' } }));
  badReport('features-unsorted', 'values.features[1]', 'Features must be sorted.', report({}, { features: ['sso', 'notifications'] }));
  badReport('features-duplicate', 'values.features[1]', 'Features must be unique.', report({}, { features: ['sso', 'sso'] }));
  badReport('features-not-in-vocabulary', 'values.features[0]', 'A feature outside the declared vocabulary.', report({}, { features: ['telemetry'] }));
  badReport('features-not-array', 'values.features', 'A feature set is an array.', report({}, { features: 'sso' }));
  badReport('range-as-array', 'values.users', 'A range label is a string.', report({}, { users: ['11-50'] }));

  // -- stale / from_future --
  bad('from-future', 'from_future', 'issued is 10 minutes and 1 ms ahead of the clock (default skew 10 minutes).', t0, { now: iso(ms('2026-12-03T16:00:00Z') - 10 * 60_000 - 1) });
  bad('from-future-day', 'from_future', 'A report for tomorrow.', text(envelope(report({ period: '2026-12-04', issued: '2026-12-04T16:00:00Z' }))));
  bad('stale', 'stale', 'issued is 8 days and 1 ms old (default maximum age 8 days).', t0, { now: iso(ms('2026-12-03T16:00:00Z') + 8 * DAY + 1) });
  bad('stale-year', 'stale', 'A report from a year earlier.', text(envelope(report({ period: '2025-12-03', issued: '2025-12-03T16:00:00Z' }))));

  return { valid, invalid };
}

/** The file contents, exactly as committed. */
export function renderVectors(): { valid: string; invalid: string } {
  const { valid, invalid } = buildVectors();
  return { valid: JSON.stringify(valid, null, 2) + '\n', invalid: JSON.stringify(invalid, null, 2) + '\n' };
}

/** Runs every vector through the reference verifier; returns the disagreements. */
export function selfCheck(): string[] {
  const { valid, invalid } = buildVectors();
  const manifests = vectorRegistry();
  const problems: string[] = [];
  for (const v of [...valid, ...invalid]) {
    const r = verifyEnvelope(vectorBytes(v), { manifests, now: () => Date.parse(v.now) });
    const want = 'expect' in v ? `${v.expect}${v.path !== undefined ? ' @' + v.path : ''}` : 'ok';
    const got = r.ok ? 'ok' : `${r.error.code}${'expect' in v && v.path !== undefined ? ' @' + r.error.path : ''}`;
    if (want !== got) problems.push(`${v.name}: want ${want}, got ${got}${r.ok ? '' : ' (' + r.error.message + ')'}`);
  }
  return problems;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const problems = selfCheck();
  if (problems.length) {
    console.error(problems.join('\n'));
    process.exit(1);
  }
  const files = renderVectors();
  writeFileSync(VALID_FILE, files.valid);
  writeFileSync(INVALID_FILE, files.invalid);
  console.log(`wrote ${VALID_FILE} and ${INVALID_FILE}`);
}
