/**
 * Hostile input against the one verifier: whatever comes in, verifyEnvelope and
 * verifyEnvelopeAsync return ok:false with a protocol error code, never throw, never hang,
 * never pollute prototypes. Plus properties: sign -> verify round-trips, single-byte
 * corruption never yields a different accepted report, and no exact count reaches the payload.
 */
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PACKAGE_ROOT, loadManifestFile } from '../src/manifests.js';
import {
  ERROR_CODES, ManifestRegistry, PAYLOAD_TYPE, allowedValues, buildReport, canonicalize, envelopeJson, keyPairFromSeed,
  reportBytes, signPayload, signReport, toBase64, toBase64Url, verifyEnvelope, verifyEnvelopeAsync,
  type FieldSpec, type ProtocolErrorCode, type Report, type VerifyResult,
} from '../src/protocol/index.js';

const operately = loadManifestFile(join(PACKAGE_ROOT, 'config', 'products', 'operately.json'));
const manifests = new ManifestRegistry([operately]);
const keys = keyPairFromSeed(new Uint8Array(Buffer.from('9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60', 'hex')));
const KEY = toBase64Url(keys.publicKey);
const NOW = Date.parse('2026-12-03T16:20:00Z');
const opts = { manifests, now: () => NOW };

const report = (over: Record<string, unknown> = {}, values: Record<string, unknown> = {}) => ({
  protocol: 1, product: 'operately', manifest: 1, period: '2026-12-03', issued: '2026-12-03T16:00:00Z', seq: 1, key: KEY,
  values: { version: '1.4.2', elixir_version: '1.16', otp_version: '26', os: 'linux', architecture: 'x86_64', deployment_type: 'docker', users: '11-50', ...values },
  ...over,
});
/** A correctly signed envelope around any payload text. */
const signed = (payload: string | Uint8Array): string =>
  envelopeJson(signPayload(PAYLOAD_TYPE, typeof payload === 'string' ? new TextEncoder().encode(payload) : payload, keys));
const GOOD = signed(canonicalize(report()));
const good = JSON.parse(GOOD) as { payloadType: string; payload: string; signatures: { keyid: string; sig: string }[] };
/** GOOD's text with one member spliced in first at the top level / in the signature object. */
const outerWith = (member: string) => '{' + member + ',' + GOOD.slice(1);
const sigWith = (member: string) => GOOD.replace('[{', '[{' + member + ',');
const bytes = (...parts: (string | number[])[]) =>
  new Uint8Array(Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'utf8') : Buffer.from(p)))));

const POLLUTE = ['__proto__', 'constructor', 'prototype'];

// [name, input, expected code]
const TABLE: [string, string | Uint8Array, ProtocolErrorCode][] = [
  ['empty string', '', 'bad_json'],
  ['empty bytes', new Uint8Array(0), 'bad_json'],
  ['10k unclosed [', '['.repeat(10_000), 'bad_json'],
  ['8k balanced [] (valid JSON, deep)', '['.repeat(8000) + ']'.repeat(8000), 'bad_envelope'],
  ['deep objects', '{"a":'.repeat(2500) + '1' + '}'.repeat(2500), 'bad_envelope'],
  ['deep nesting over 16 KiB', '['.repeat(20_000) + ']'.repeat(20_000), 'too_large'],
  ['deep nesting in payloadType', GOOD.replace(`"${PAYLOAD_TYPE}"`, '['.repeat(5000) + ']'.repeat(5000)), 'bad_envelope'],
  ['deep nesting in the signed payload', signed('['.repeat(5000) + ']'.repeat(5000)), 'schema_violation'],
  ['deep nesting in values', signed(canonicalize(report()).replace('"users":"11-50"', '"users":' + '['.repeat(4000) + ']'.repeat(4000))), 'schema_violation'],
  ['1e400', '1e400', 'bad_envelope'],
  ['payloadType 1e400', GOOD.replace(`"${PAYLOAD_TYPE}"`, '1e400'), 'bad_envelope'],
  ['seq 1e400', signed(canonicalize(report()).replace('"seq":1', '"seq":1e400')), 'schema_violation'],
  ['seq 2^64', signed(canonicalize(report()).replace('"seq":1', '"seq":18446744073709551616')), 'schema_violation'],
  ['seq -0', signed(canonicalize(report()).replace('"seq":1', '"seq":-0')), 'schema_violation'],
  ['10k-digit number', '9'.repeat(10_000), 'bad_envelope'],
  ['payload "===="', GOOD.replace(good.payload, '===='), 'bad_envelope'],
  ['payload "A"', GOOD.replace(good.payload, 'A'), 'bad_envelope'],
  ['payload empty', GOOD.replace(good.payload, ''), 'bad_json'],
  ['payload with a base64url digit', GOOD.replace(good.payload, '-' + good.payload.slice(1)), 'bad_envelope'],
  ['sig empty', GOOD.replace(good.signatures[0]!.sig, ''), 'bad_signature'],
  ['sig 300 chars', GOOD.replace(good.signatures[0]!.sig, 'A'.repeat(300)), 'bad_envelope'],
  ['sig 1 KiB of base64', GOOD.replace(good.signatures[0]!.sig, toBase64(new Uint8Array(1024))), 'bad_envelope'],
  ['lone 0xFF', bytes([0xff]), 'bad_json'],
  ['truncated UTF-8 sequence', bytes('{"a":"', [0xc3], '"}'), 'bad_json'],
  ['lone continuation byte', bytes('{"a":"', [0x80], '"}'), 'bad_json'],
  ['invalid UTF-8 in the signed payload', signed(bytes(canonicalize(report()).slice(0, -2), [0xfe], '}}')), 'bad_json'],
  ['BOM alone', '\uFEFF', 'bad_json'],
  ['BOM + good envelope', '\uFEFF' + GOOD, 'bad_json'],
  ['UTF-16LE envelope', new Uint8Array(Buffer.from('\uFEFF' + GOOD, 'utf16le')), 'bad_json'],
  ['lone surrogate in a string input', GOOD.replace('"keyid":"', '"keyid":"\uD800'), 'bad_signature'],
  ['duplicate outer key', GOOD.slice(0, -1) + `,"payloadType":"${PAYLOAD_TYPE}"}`, 'bad_json'],
  ['duplicate key in the signature object', sigWith(`"sig":"${good.signatures[0]!.sig}"`), 'bad_json'],
  ['duplicate key spelled with an escape', GOOD.slice(0, -1) + `,"payload\\u0054ype":"${PAYLOAD_TYPE}"}`, 'bad_json'],
  ['duplicate key in the payload', signed(canonicalize(report()).replace('"seq":1', '"seq":1,"seq":1')), 'schema_violation'],
  ['duplicate key in values', signed(canonicalize(report()).replace('"users":"11-50"', '"users":"11-50","users":"11-50"')), 'schema_violation'],
  ...POLLUTE.flatMap((k): [string, string | Uint8Array, ProtocolErrorCode][] => [
    [`${k} at the envelope's top level`, outerWith(`"${k}":{"polluted":true}`), 'bad_envelope'],
    [`${k} in the signature object`, sigWith(`"${k}":{"polluted":true}`), 'bad_envelope'],
    [`${k} at the payload's top level`, signed(canonicalize({ ...report(), [k]: { polluted: true } })), 'schema_violation'],
    [`${k} as the only payload member`, signed(`{"${k}":{"polluted":true}}`), 'schema_violation'],
    [`${k} in values`, signed(canonicalize(report({}, { [k]: 'x' }))), 'schema_violation'],
    [`${k} as a feature`, signed(canonicalize(report({}, { features: [k] }))), 'schema_violation'],
    [`${k} as a product`, signed(canonicalize(report({ product: k }))), k === 'prototype' || k === 'constructor' ? 'unknown_product' : 'schema_violation'],
  ]),
  ['NaN literal', 'NaN', 'bad_json'],
  ['"NaN" string', '"NaN"', 'bad_envelope'],
  ['Infinity literal', '-Infinity', 'bad_json'],
  ['seq "NaN"', signed(canonicalize(report({ seq: 'NaN' }))), 'schema_violation'],
  ['users "NaN"', signed(canonicalize(report({}, { users: 'NaN' }))), 'schema_violation'],
  ['manifest "Infinity"', signed(canonicalize(report({ manifest: 'Infinity' }))), 'schema_violation'],
  ['issued "Invalid Date"', signed(canonicalize(report({ issued: 'Invalid Date' }))), 'schema_violation'],
  ['NUL byte', '\u0000', 'bad_json'],
  ['raw NUL inside a string', GOOD.replace('"keyid":"', '"keyid":"\u0000'), 'bad_json'],
  ['escaped NUL in keyid', GOOD.replace('"keyid":"', '"keyid":"\\u0000'), 'bad_signature'],
  ['16 KiB of whitespace', ' '.repeat(16 * 1024), 'bad_json'],
  ['16 KiB of newlines and tabs', '\n\t'.repeat(8 * 1024), 'bad_json'],
  ['16 KiB + 1 of whitespace', ' '.repeat(16 * 1024 + 1), 'too_large'],
  ['16 KiB + 1 of "x"', 'x'.repeat(16 * 1024 + 1), 'too_large'],
  ['good envelope padded to 16 KiB + 1', GOOD.padEnd(16 * 1024 + 1, ' '), 'too_large'],
  ['16 KiB + 1 as multi-byte characters', 'é'.repeat(8 * 1024) + 'x', 'too_large'],
  ['array', '[]', 'bad_envelope'],
  ['array of the good envelope', `[${GOOD}]`, 'bad_envelope'],
  ['string', '"envelope"', 'bad_envelope'],
  ['number', '42', 'bad_envelope'],
  ['null', 'null', 'bad_envelope'],
  ['true', 'true', 'bad_envelope'],
  ['empty object', '{}', 'bad_envelope'],
  ['payload as an array', signed('[]'), 'schema_violation'],
  ['payload as null', signed('null'), 'schema_violation'],
  ['payload as a string', signed('"report"'), 'schema_violation'],
  ['payload as a number', signed('1'), 'schema_violation'],
  ['payload {}', signed('{}'), 'schema_violation'],
  ['values null', signed(canonicalize(report({ values: null }))), 'schema_violation'],
  ['values an array', signed(canonicalize(report({ values: ['11-50'] }))), 'schema_violation'],
  ['600 features', signed(canonicalize(report({}, { features: Array(600).fill('sso') }))), 'schema_violation'],
  ['70 value fields', signed(canonicalize(report({}, Object.fromEntries(Array.from({ length: 70 }, (_, i) => [`f${i}`, 'x']))))), 'schema_violation'],
];

/** Own property names of the built-in prototypes, to see that nothing was added. */
const protoSnapshot = () => [Object.prototype, Array.prototype, Function.prototype].map((p) => Object.getOwnPropertyNames(p).sort().join());

function expectRefused(r: VerifyResult, code: ProtocolErrorCode, name: string) {
  expect(r.ok, name).toBe(false);
  if (r.ok) return;
  expect(ERROR_CODES, name).toContain(r.error.code);
  expect(r.error.code, `${name}: ${r.error.message}`).toBe(code);
  // The catch-all in checkEnvelope means a bug was hit, even if the code happens to match.
  expect(r.error.message, name).not.toMatch(/unexpected verifier error/);
}

describe('hostile input', () => {
  const before = protoSnapshot();

  it('the good envelope the table is made from verifies', () => {
    expect(verifyEnvelope(GOOD, opts).ok).toBe(true);
  });

  it.each(TABLE)('%s: refused with its code, sync and async, as string and bytes', async (name, input, code) => {
    const forms = typeof input === 'string' ? [input, new TextEncoder().encode(input)] : [input];
    for (const form of forms) {
      expectRefused(verifyEnvelope(form, opts), code, name);
      expectRefused(await verifyEnvelopeAsync(form, opts), code, name);
    }
  });

  it('left Object, Array and Function prototypes unpolluted', () => {
    expect(protoSnapshot()).toEqual(before);
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
    expect(Object.prototype.constructor).toBe(Object);
  });

  it('a megabyte string is refused as too_large', () => {
    expectRefused(verifyEnvelope('{'.repeat(1 << 20), opts), 'too_large', '1 MiB');
  });
});

// ---- properties ------------------------------------------------------------------------------

/** Exact input for one manifest field, including inputs the library must map or drop. */
function exactArb(spec: FieldSpec): fc.Arbitrary<unknown> {
  switch (spec.kind) {
    case 'range':
      return fc.oneof(fc.nat(6000), fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }));
    case 'category':
      return spec.values.includes('other') ? fc.oneof(fc.constantFrom(...spec.values), fc.string({ maxLength: 20 })) : fc.constantFrom(...spec.values);
    case 'version':
      return fc
        .tuple(fc.nat(999_999), fc.nat(999_999), fc.nat(999_999), fc.constantFrom('', '-ee', '+build.7', '-rc.1 (Linux)'))
        .map(([a, b, c, suffix]) => `${a}.${b}.${c}${suffix}`);
    case 'features':
      return fc.array(fc.oneof(fc.constantFrom(...spec.vocabulary), fc.string({ maxLength: 20 })), { maxLength: 10 });
  }
}

const exactValuesArb = fc.record(
  Object.fromEntries(Object.entries(operately.fields).map(([name, spec]) => [name, exactArb(spec)])),
  { requiredKeys: Object.entries(operately.fields).filter(([, s]) => !s.optional).map(([n]) => n) },
);
// Any hour in 2020-2039.
const nowArb = fc.integer({ min: Date.parse('2020-01-01T00:00:00Z'), max: Date.parse('2039-12-31T23:59:59Z') });

describe('properties', () => {
  it('sign then verify round-trips for any exact values of the operately manifest', async () => {
    await fc.assert(
      fc.asyncProperty(exactValuesArb, nowArb, fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }), async (exact, now, seq) => {
        const r = buildReport(operately, exact, { key: KEY, seq, now });
        const env = envelopeJson(signReport(r, keys));
        const o = { manifests, now: () => now };
        for (const v of [verifyEnvelope(env, o), await verifyEnvelopeAsync(env, o)]) {
          expect(v.ok ? 'ok' : v.error).toBe('ok');
          if (v.ok) expect(v.report).toEqual(r);
        }
      }),
      { numRuns: 60 },
    );
  });

  it('flipping any single byte of an envelope never yields a different accepted report', () => {
    const texts = [GOOD, envelopeJson(signReport(report({ seq: 7 }, { features: ['notifications', 'sso'], db_size_mb: '0-1023' }) as Report, keys))];
    fc.assert(
      fc.property(fc.constantFrom(...texts), fc.nat(), fc.integer({ min: 1, max: 255 }), (text, at, mask) => {
        const b = new TextEncoder().encode(text);
        const original = verifyEnvelope(b, opts);
        expect(original.ok).toBe(true);
        b[at % b.length] ^= mask;
        const r = verifyEnvelope(b, opts);
        if (r.ok && original.ok) expect(r.report).toEqual(original.report);
        else if (!r.ok) expect(ERROR_CODES).toContain(r.error.code);
      }),
      { numRuns: 400 },
    );
  });

  it('buildReport never puts an exact count into the payload', () => {
    const rangeFields = Object.entries(operately.fields).filter(([, s]) => s.kind === 'range').map(([n]) => n);
    const fixed = { version: '1.4.2', elixir_version: '1.16.3', otp_version: '26.2', os: 'linux', architecture: 'x86_64', deployment_type: 'docker' };
    const meta = { key: KEY, seq: 1, now: NOW };
    // Digits that appear anyway (labels, dates, key, other values) cannot tell whether a count leaked.
    const background = canonicalize(buildReport(operately, { ...fixed, ...Object.fromEntries(rangeFields.map((f) => [f, 0])) }, meta)) +
      Object.values(operately.fields).map((s) => (allowedValues(s) ?? []).join(' ')).join(' ');
    const sentinel = fc.oneof(fc.integer({ min: 2, max: 100_000 }), fc.integer({ min: 2, max: Number.MAX_SAFE_INTEGER }))
      .filter((n) => !background.includes(String(n)));
    const check = (counts: number[]) => {
      const exact = { ...fixed, ...Object.fromEntries(rangeFields.map((f, i) => [f, counts[i]!])) };
      const payload = new TextDecoder().decode(reportBytes(buildReport(operately, exact, meta)));
      for (const n of counts) expect(payload.includes(String(n)), `${n} in ${payload}`).toBe(false);
    };
    check(rangeFields.map(() => 123457));
    fc.assert(fc.property(fc.array(sentinel, { minLength: rangeFields.length, maxLength: rangeFields.length }), check), { numRuns: 300 });
  });
});
