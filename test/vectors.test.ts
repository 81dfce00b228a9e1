/**
 * The shared envelope vectors (test/vectors/*.json) against the reference verifier, sync and
 * async; and the committed files against a fresh run of their generator, so they cannot drift.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ERROR_CODES, verifyEnvelope, verifyEnvelopeAsync, type VerifyOptions } from '../src/protocol/index.js';
import {
  INVALID_FILE, VALID_FILE, renderVectors, vectorBytes, vectorRegistry, type InvalidVector, type ValidVector,
} from './vectors/generate.mjs';

const valid = JSON.parse(readFileSync(VALID_FILE, 'utf8')) as ValidVector[];
const invalid = JSON.parse(readFileSync(INVALID_FILE, 'utf8')) as InvalidVector[];
const manifests = vectorRegistry();
const optsFor = (v: { now: string }): VerifyOptions => ({ manifests, now: () => Date.parse(v.now) });

describe('valid vectors', () => {
  it.each(valid.map((v) => [v.name, v] as const))('%s verifies', async (_name, v) => {
    const bytes = vectorBytes(v);
    const decoded = JSON.parse(Buffer.from(JSON.parse(Buffer.from(bytes).toString('utf8')).payload, 'base64').toString('utf8'));
    const msg = `${v.name}: ${v.comment}`;
    for (const r of [verifyEnvelope(bytes, optsFor(v)), await verifyEnvelopeAsync(bytes, optsFor(v))]) {
      expect(r.ok ? 'ok' : r.error, msg).toBe('ok');
      if (!r.ok) continue;
      expect(r.report, msg).toEqual(decoded);
      expect(r.report, msg).toEqual(v.report);
    }
  });
});

describe('invalid vectors', () => {
  it.each(invalid.map((v) => [v.name, v] as const))('%s is refused with its code', async (_name, v) => {
    const bytes = vectorBytes(v);
    const msg = `${v.name} (expect ${v.expect}${v.path !== undefined ? ` at "${v.path}"` : ''}): ${v.comment}`;
    for (const r of [verifyEnvelope(bytes, optsFor(v)), await verifyEnvelopeAsync(bytes, optsFor(v))]) {
      expect(r.ok ? 'ok' : r.error.code, msg).toBe(v.expect);
      if (!r.ok && v.path !== undefined) expect(r.error.path, msg).toBe(v.path);
    }
  });

  it('cover every error code', () => {
    expect(new Set(invalid.map((v) => v.expect))).toEqual(new Set(ERROR_CODES));
  });

  it('give a path for every schema_violation', () => {
    expect(invalid.filter((v) => v.expect === 'schema_violation' && v.path === undefined).map((v) => v.name)).toEqual([]);
  });
});

describe('vector files', () => {
  it('have unique names and exactly one of envelope / envelopeBase64', () => {
    const all = [...valid, ...invalid];
    expect(new Set(all.map((v) => v.name)).size).toBe(all.length);
    expect(all.filter((v) => (v.envelope === undefined) === (v.envelopeBase64 === undefined)).map((v) => v.name)).toEqual([]);
  });

  it('are exactly what generate.mts writes (regenerate with: npx tsx test/vectors/generate.mts)', () => {
    const fresh = renderVectors();
    expect(readFileSync(VALID_FILE, 'utf8')).toBe(fresh.valid);
    expect(readFileSync(INVALID_FILE, 'utf8')).toBe(fresh.invalid);
  });
});
