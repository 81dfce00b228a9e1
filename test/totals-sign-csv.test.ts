import fc from 'fast-check';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadManifestFile } from '../src/manifests.js';
import { fromBase64, fromBase64Url } from '../src/protocol/base64.js';
import { canonicalize } from '../src/protocol/canonical.js';
import { pae } from '../src/protocol/envelope.js';
import { buildReport } from '../src/protocol/report.js';
import { ed25519Verify } from '../src/protocol/verify.js';
import { countReports, publishTotals } from '../aggregator/totals/compute.js';
import { totalsCsv, TOTALS_CSV_HEADER } from '../aggregator/totals/csv.js';
import { TOTALS_PAYLOAD_TYPE, type Totals } from '../aggregator/totals/schema.js';
import { loadTotalsSigner } from '../aggregator/totals/sign.js';
import { parsePeriod } from '../aggregator/totals/windows.js';
import { parseCsv } from './totals-truth.js';

const MANIFEST = loadManifestFile('config/products/operately.json');
const WEEK = parsePeriod('week', '2026-W49')!;
const dir = mkdtempSync(join(tmpdir(), 'beacon-totals-sign-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function sampleTotals(n: number, seed: number): Totals {
  const reports = fc.sample(fc.record({
    os: fc.constantFrom('linux', 'linux', 'darwin', 'windows'),
    users: fc.integer({ min: 0, max: 3000 }),
    features: fc.subarray(['ai_features', 'notifications', 'sso']),
  }), { numRuns: n, seed }).map((x) => ({
    values: buildReport(MANIFEST, { version: '1.4.2', elixir_version: '1.16', otp_version: '26', architecture: 'x86_64', deployment_type: 'docker', ...x },
      { key: 'A'.repeat(43), seq: 1, now: Date.parse('2026-12-01T10:00:00Z') }).values,
    firstSeen: '2026-11-01',
  }));
  return publishTotals(countReports(reports, WEEK), MANIFEST, WEEK, { k: 5, complete: true });
}


describe('signed totals', () => {
  it('a DSSE envelope over the canonical document verifies with the published key, and tampering breaks it', () => {
    const path = join(dir, 'agg.key');
    const signer = loadTotalsSigner(path);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(loadTotalsSigner(path).keyDoc.keyid).toBe(signer.keyDoc.keyid); // same key after a restart
    const t = sampleTotals(40, 1);
    const env = signer.sign(t);
    expect(env.payloadType).toBe(TOTALS_PAYLOAD_TYPE);
    const payload = fromBase64(env.payload)!;
    expect(new TextDecoder().decode(payload)).toBe(canonicalize(t));
    const pub = fromBase64Url(signer.keyDoc.keyid)!;
    const sig = fromBase64(env.signatures[0]!.sig)!;
    expect(ed25519Verify(pub, pae(env.payloadType, payload), sig)).toBe(true);
    const forged = new TextEncoder().encode(canonicalize({ ...t, installations: t.installations! + 1 }));
    expect(ed25519Verify(pub, pae(env.payloadType, forged), sig)).toBe(false);
    expect(signer.keyDoc.pem).toMatch(/^-----BEGIN PUBLIC KEY-----\n[A-Za-z0-9+/=]+\n-----END PUBLIC KEY-----\n$/);
  });
});

describe('CSV', () => {
  it('holds exactly the numbers of the JSON document', () => {
    for (const [n, seed] of [[40, 2], [9, 3], [3, 4]] as const) {
      const t = sampleTotals(n, seed);
      const [header, ...rows] = parseCsv(totalsCsv(t));
      expect(header).toEqual(TOTALS_CSV_HEADER);
      const fromCsv = new Map(rows.map((r) => [`${r[3]}|${r[4]}|${r[5]}`, { count: r[6] === '' ? null : Number(r[6]), suppressed: r[7] === 'true' }]));
      const fromJson = new Map<string, { count: number | null; suppressed: boolean }>();
      fromJson.set('installations||', { count: t.installations, suppressed: t.belowThreshold });
      if (!t.belowThreshold) fromJson.set('established||', { count: t.established, suppressed: t.established === null });
      for (const f of t.fields) {
        for (const c of f.cells) fromJson.set(`${f.kind === 'features' ? 'feature' : 'field'}|${f.name}|${c.label}`, { count: c.count, suppressed: c.suppressed });
        if (f.absent) fromJson.set(`absent|${f.name}|`, f.absent);
      }
      expect(fromCsv).toEqual(fromJson);
      for (const r of rows) expect(r.slice(0, 3)).toEqual(['operately', 'week', '2026-W49']);
    }
  });
});
