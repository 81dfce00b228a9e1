/**
 * The primitives under the protocol against vectors nobody here wrote: RFC 8032 and Wycheproof
 * Ed25519 (tweetnacl signs, node:crypto verifies; both must agree), DSSE PAE, RFC 8785 JCS.
 * Copies of the vectors live in test/vectors/crypto/ (provenance in its SOURCES.md).
 */
import { createPrivateKey, createPublicKey, sign as cryptoSign, verify as cryptoVerify } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import nacl from 'tweetnacl';
import { describe, expect, it } from 'vitest';
import { canonicalize, ed25519Verify, fromBase64, keyPairFromSeed, pae } from '../src/protocol/index.js';

const DIR = join(import.meta.dirname, 'vectors', 'crypto');
const json = (path: string): any => JSON.parse(readFileSync(join(DIR, path), 'utf8'));
const hex = (h: string): Uint8Array => new Uint8Array(Buffer.from(h, 'hex'));
const toHex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

/** tweetnacl throws on a signature that is not 64 bytes; that is a rejection. */
function naclVerify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  try {
    return nacl.sign.detached.verify(message, signature, publicKey);
  } catch {
    return false;
  }
}

interface Rfc8032Vector { name: string; secretKey: string; publicKey: string; message: string; signature: string }
const rfc = json('rfc8032-ed25519-test-vectors.json') as { vectors: Rfc8032Vector[]; negative: Rfc8032Vector[] };
const PKCS8_SEED_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

describe('RFC 8032 §7.1 Ed25519', () => {
  it.each(rfc.vectors.map((v) => [v.name, v] as const))('%s: tweetnacl and node:crypto sign and verify identically', (_n, v) => {
    const keys = keyPairFromSeed(hex(v.secretKey));
    expect(toHex(keys.publicKey)).toBe(v.publicKey);
    const message = hex(v.message);
    const naclSig = nacl.sign.detached(message, nacl.sign.keyPair.fromSeed(keys.seed).secretKey);
    const nodeKey = createPrivateKey({ key: Buffer.concat([PKCS8_SEED_PREFIX, keys.seed]), format: 'der', type: 'pkcs8' });
    const nodeSig = cryptoSign(null, message, nodeKey);
    expect(toHex(naclSig)).toBe(v.signature);
    expect(toHex(nodeSig)).toBe(v.signature);
    expect(ed25519Verify(keys.publicKey, message, hex(v.signature))).toBe(true);
    expect(naclVerify(keys.publicKey, message, hex(v.signature))).toBe(true);
    // The same signature over a one-byte-longer message fails in both.
    const other = new Uint8Array([...message, 0]);
    expect(ed25519Verify(keys.publicKey, other, hex(v.signature))).toBe(false);
    expect(naclVerify(keys.publicKey, other, hex(v.signature))).toBe(false);
  });

  it.each(rfc.negative.map((v) => [v.name, v] as const))('%s does not verify as pure Ed25519', (_n, v) => {
    expect(ed25519Verify(hex(v.publicKey), hex(v.message), hex(v.signature))).toBe(false);
    expect(naclVerify(hex(v.publicKey), hex(v.message), hex(v.signature))).toBe(false);
  });
});

describe('Wycheproof Ed25519', () => {
  interface WTest { tcId: number; comment: string; flags: string[]; msg: string; sig: string; result: 'valid' | 'invalid' }
  const w = json('wycheproof-ed25519_test.json') as { testGroups: { publicKey: { pk: string }; tests: WTest[] }[] };
  const tests = w.testGroups.flatMap((g) => g.tests.map((t) => ({ ...t, pk: hex(g.publicKey.pk), m: hex(t.msg), s: hex(t.sig) })));

  it('has the expected size', () => {
    expect(tests.length).toBe(151);
  });

  it('node:crypto (what servers use) agrees with every valid/invalid result', () => {
    const wrong = tests.filter((t) => ed25519Verify(t.pk, t.m, t.s) !== (t.result === 'valid')).map((t) => t.tcId);
    expect(wrong).toEqual([]);
  });

  // tweetnacl is slow (about 100 verifications/s): run it over the vectors once.
  let naclRuns: { t: (typeof tests)[number]; verdict: boolean | 'throws' }[] | undefined;
  const nacled = () =>
    (naclRuns ??= tests.map((t) => {
      try {
        return { t, verdict: nacl.sign.detached.verify(t.m, t.s, t.pk) };
      } catch {
        return { t, verdict: 'throws' as const };
      }
    }));

  it('tweetnacl disagrees exactly on the S >= L malleability vectors (so servers never verify with it)', () => {
    const wrong = nacled().filter(({ t, verdict }) => (verdict === true) !== (t.result === 'valid')).map(({ t }) => t);
    // tweetnacl 1.0.3 does not check S < L (RFC 8032 §5.1.7): tcId 63-66 are s + L, 2L, 4L, 8L of
    // a valid signature, 85 an S "just above the bound". It accepts all of them; all are invalid.
    expect(wrong.map((t) => t.tcId)).toEqual([63, 64, 65, 66, 85]);
    expect(wrong.every((t) => t.result === 'invalid' && (t.flags.includes('SignatureMalleability') || t.flags.includes('InvalidKtv')))).toBe(true);
  });

  it('tweetnacl throws (rather than returns false) exactly on signatures that are not 64 bytes', () => {
    const throws = nacled().filter(({ verdict }) => verdict === 'throws').map(({ t }) => t.tcId);
    expect(throws).toEqual(tests.filter((t) => t.s.length !== 64).map((t) => t.tcId));
    expect(throws.length).toBeGreaterThan(0);
  });
});

describe('DSSE PAE', () => {
  const edge = json('dsse/dsse-pae-constructed-edge-cases.json') as { cases: { payloadType: string; payloadUtf8: string; paeHex: string }[] };
  it.each(edge.cases.map((c) => [JSON.stringify(c.paeHex.slice(0, 40)), c] as const))('constructed case %s', (_n, c) => {
    expect(toHex(pae(c.payloadType, new TextEncoder().encode(c.payloadUtf8)))).toBe(c.paeHex);
  });

  it('matches the DSSE spec hello-world vector, whose P-256 signature verifies over our PAE bytes', () => {
    const v = json('dsse/dsse-spec-hello-world.json');
    const body = fromBase64(v.payloadBase64)!;
    expect(Buffer.from(body).toString('utf8')).toBe(v.payloadUtf8);
    const bytes = pae(v.payloadType, body);
    expect(toHex(bytes)).toBe(v.paeHex);
    const key = createPublicKey({ key: { kty: v.key.jwk.kty, crv: v.key.jwk.crv, x: v.key.jwk.x, y: v.key.jwk.y }, format: 'jwk' });
    const sig = fromBase64(v.envelope.signatures[0].sig)!;
    expect(cryptoVerify('sha256', bytes, { key, dsaEncoding: 'ieee-p1363' }, sig)).toBe(true);
    expect(cryptoVerify('sha256', pae(v.payloadType + 'x', body), { key, dsaEncoding: 'ieee-p1363' }, sig)).toBe(false);
  });
});

describe('RFC 8785 JCS', () => {
  const names = readdirSync(join(DIR, 'jcs')).filter((f) => f.endsWith('.input.json')).map((f) => f.slice(0, -'.input.json'.length));

  it('has the cyberphone test files', () => {
    expect(names.sort()).toEqual(['arrays', 'french', 'structures', 'unicode', 'values', 'weird']);
  });

  it.each(names)('%s: canonicalize gives the expected output bytes', (name) => {
    const input = JSON.parse(readFileSync(join(DIR, 'jcs', `${name}.input.json`), 'utf8'));
    const out = Buffer.from(canonicalize(input), 'utf8');
    expect(out.equals(readFileSync(join(DIR, 'jcs', `${name}.output.json`)))).toBe(true);
    expect(out.toString('hex')).toBe(readFileSync(join(DIR, 'jcs', `${name}.outhex.txt`), 'utf8').replace(/\s+/g, ''));
  });

  it('serializes the ES6 number samples', () => {
    const lines = readFileSync(join(DIR, 'jcs', 'es6-number-samples.csv'), 'utf8').trim().split('\n');
    expect(lines.length).toBeGreaterThan(0);
    for (const line of lines) {
      const [bits, want] = line.split(',');
      expect(canonicalize(Buffer.from(bits!.padStart(16, '0'), 'hex').readDoubleBE(0)), line).toBe(want);
    }
  });
});
