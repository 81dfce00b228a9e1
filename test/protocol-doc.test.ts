/**
 * docs/PROTOCOL.md must describe exactly what the code does: its worked example is
 * recomputed here with the library and compared byte for byte, and its error table
 * must list every protocol error code with the status httpStatusFor gives.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { keyFromPem, keyToPem } from '../src/keyfile.js';
import { PACKAGE_ROOT, loadManifestDir } from '../src/manifests.js';
import { fromBase64, toBase64Url } from '../src/protocol/base64.js';
import { canonicalize } from '../src/protocol/canonical.js';
import { envelopeJson, keyPairFromSeed, pae, signReport } from '../src/protocol/envelope.js';
import { ERROR_CODES, httpStatusFor } from '../src/protocol/errors.js';
import { DEFAULT_LADDER, ladderLabels } from '../src/protocol/manifest.js';
import { MAX_ENVELOPE_BYTES } from '../src/protocol/envelope.js';
import { PAYLOAD_TYPE, buildReport, reportBytes } from '../src/protocol/report.js';
import { DEFAULT_MAX_AGE_MS, DEFAULT_SKEW_MS, ed25519Verify, verifyEnvelope } from '../src/protocol/verify.js';
import {
  DOC_PATH, EXAMPLE_VALUES_PATH, RFC8032_TEST1, extractBlocks, hexDump, parseHexDump, type ExampleInput,
} from './protocol-doc-example.js';

const doc = readFileSync(DOC_PATH, 'utf8');
const blocks = extractBlocks(doc);
/** The prose with line breaks folded, for sentences the markdown wraps. */
const prose = doc.replace(/\s+/g, ' ');
const manifests = loadManifestDir();
const utf8 = new TextDecoder('utf-8', { fatal: true });
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

function block(name: string): string {
  const text = blocks.get(name);
  if (text === undefined) throw new Error(`docs/PROTOCOL.md has no <!-- example:${name} --> block`);
  return text;
}

// Everything below is recomputed from the document's own input block.
const input = JSON.parse(block('input')) as ExampleInput;
const keys = keyPairFromSeed(new Uint8Array(Buffer.from(input.seed, 'hex')));
const now = Date.parse(input.now);
const manifest = manifests.latest(input.product)!;
const report = buildReport(manifest, input.values, { key: toBase64Url(keys.publicKey), seq: input.seq, now });
const payload = reportBytes(report);
const signedBytes = pae(PAYLOAD_TYPE, payload);
const envelope = signReport(report, keys);

describe('docs/PROTOCOL.md worked example', () => {
  it('starts from the RFC 8032 TEST 1 key and the shipped operately example values', () => {
    expect(input.seed).toBe(RFC8032_TEST1.seed);
    const shared = join(PACKAGE_ROOT, '..', 'shared', 'cases', 'crypto', 'rfc8032-ed25519-test-vectors.json');
    if (existsSync(shared)) {
      const test1 = (JSON.parse(readFileSync(shared, 'utf8')) as { vectors: { name: string; secretKey: string }[] })
        .vectors.find((v) => v.name === 'TEST 1');
      expect(test1?.secretKey).toBe(input.seed);
    }
    expect(input.product).toBe('operately');
    expect(input.values).toEqual(JSON.parse(readFileSync(EXAMPLE_VALUES_PATH, 'utf8')));
    expect(manifest).toBeDefined();
  });

  it('shows the public key RFC 8032 publishes for that seed, and its key file', () => {
    expect(hex(keys.publicKey)).toBe(RFC8032_TEST1.publicKey);
    const lines = Object.fromEntries(block('key').split('\n').map((l) => {
      const m = /^(.+?)\s{2,}(\S+)$/.exec(l)!;
      return [m[1], m[2]];
    }));
    expect(lines).toEqual({
      'seed (hex)': input.seed,
      'public key (hex)': hex(keys.publicKey),
      'key (base64url)': toBase64Url(keys.publicKey),
    });
    expect(block('pem') + '\n').toBe(keyToPem(keys));
    expect(hex(keyFromPem(block('pem')).seed)).toBe(input.seed);
  });

  it('shows the report buildReport makes, and its exact canonical payload bytes', () => {
    expect(JSON.parse(block('report'))).toEqual(report);
    expect(block('payload')).toBe(utf8.decode(payload));
    // The payload block is its own RFC 8785 form, and carries labels, not the exact input.
    expect(canonicalize(JSON.parse(block('payload')))).toBe(block('payload'));
    expect(report.issued).toBe(input.now.slice(0, 13) + ':00:00Z');
    expect(report.period).toBe(input.now.slice(0, 10));
  });

  it('shows the exact PAE bytes, which follow the documented formula', () => {
    expect(parseHexDump(block('pae'))).toEqual(signedBytes);
    expect(block('pae')).toBe(hexDump(signedBytes));
    expect(block('pae-prefix')).toBe(hexDump(signedBytes.subarray(0, 64)));
    const head = `DSSEv1 ${Buffer.byteLength(PAYLOAD_TYPE)} ${PAYLOAD_TYPE} ${payload.length} `;
    expect(hex(signedBytes)).toBe(Buffer.from(head).toString('hex') + hex(payload));
    expect(prose).toContain(`length is the \`${payload.length}\` at offset 0x30`);
  });

  it('shows the signature tweetnacl makes, and OpenSSL (node:crypto) accepts it', () => {
    expect(block('signature')).toBe(envelope.signatures[0]!.sig);
    expect(ed25519Verify(keys.publicKey, parseHexDump(block('pae')), fromBase64(block('signature'))!)).toBe(true);
  });

  it('shows the envelope as sent, which verifies at the example clock and at the stated bounds only', () => {
    expect(block('envelope')).toBe(envelopeJson(envelope));
    const ok = verifyEnvelope(block('envelope'), { manifests, now: () => now });
    expect(ok.ok && ok.report).toEqual(report);
    expect(ok.ok && utf8.decode(ok.payload)).toBe(block('payload'));

    const issued = Date.parse(report.issued);
    const at = (ms: number) => verifyEnvelope(block('envelope'), { manifests, now: () => ms });
    const iso = (ms: number) => new Date(ms).toISOString().replace('.000Z', 'Z');
    const first = issued - DEFAULT_SKEW_MS;
    const last = issued + DEFAULT_MAX_AGE_MS;
    expect(prose).toContain(`clock anywhere from ${iso(first)} to ${iso(last)} accepts`);
    expect(prose).toContain(`clock at ${iso(last + 1000)} it answers \`stale\`, and at ${iso(first - 1000)} \`from_future\``);
    expect(at(first).ok && at(last).ok).toBe(true);
    expect(at(last + 1000)).toMatchObject({ ok: false, error: { code: 'stale' } });
    expect(at(first - 1000)).toMatchObject({ ok: false, error: { code: 'from_future' } });
  });
});

describe('docs/PROTOCOL.md reference facts', () => {
  // Rows like "| `code` | 400 | ..." in any table of the document.
  const rows = [...doc.matchAll(/^\| `([a-z_]+)` \| (\d{3}) \|/gm)].map((m) => ({ code: m[1]!, status: Number(m[2]) }));

  it('lists every protocol error code with the HTTP status httpStatusFor gives', () => {
    for (const code of ERROR_CODES) {
      expect(rows.filter((r) => r.code === code), code).toEqual([{ code, status: httpStatusFor(code) }]);
    }
  });

  it('gives every code in its tables the status httpStatusFor gives', () => {
    expect(rows.length).toBeGreaterThan(ERROR_CODES.length);
    for (const r of rows) expect(r.status, r.code).toBe(httpStatusFor(r.code));
  });

  it('states the limits, defaults and ladders the code uses', () => {
    expect(prose).toContain(PAYLOAD_TYPE);
    expect(prose).toContain(`at most **${MAX_ENVELOPE_BYTES} bytes**`);
    expect(prose).toContain(`skew defaults to ${DEFAULT_SKEW_MS / 60_000} minutes`);
    expect(prose).toContain(`max age defaults to ${DEFAULT_MAX_AGE_MS / 86_400_000} days`);
    expect(prose).toContain(`\`[${DEFAULT_LADDER.join(', ')}]\``);
    expect(prose).toContain(ladderLabels(DEFAULT_LADDER).map((l) => `\`${l}\``).join(', '));
    const db = manifest.fields['db_size_mb'];
    expect(db?.kind).toBe('range');
    if (db?.kind === 'range') {
      expect(prose).toContain(`\`[${db.ladder!.join(', ')}]\` gives ${ladderLabels(db.ladder!).map((l) => `\`${l}\``).join(', ')}`);
    }
  });
});
