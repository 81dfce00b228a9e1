/** Shared by the totals tests: random exact installations and the ground truth of a published document. */
import fc from 'fast-check';
import { expect } from 'vitest';
import { loadManifestFile } from '../src/manifests.js';
import { bucketLabel, ladderOf, truncateVersion } from '../src/protocol/manifest.js';
import type { Totals } from '../aggregator/totals/schema.js';

export const MANIFEST = loadManifestFile('config/products/operately.json');

const opt = <T>(arb: fc.Arbitrary<T>) => fc.option(arb, { nil: undefined });
/** Exact values as an app would pass them, skewed so that small cells are common. */
export const installationArb = fc.record({
  exact: fc.record({
    version: fc.constantFrom('1.4.2', '1.4.2', '1.4.2', '1.4.3', '1.5.0-rc1', '2.0.1'),
    elixir_version: fc.constantFrom('1.16.3', '1.16.0', '1.17.2'),
    otp_version: fc.constantFrom('26.2.5', '27.0.1'),
    os: fc.constantFrom('linux', 'linux', 'linux', 'linux', 'darwin', 'windows', 'freebsd'),
    architecture: fc.constantFrom('x86_64', 'x86_64', 'arm64'),
    deployment_type: fc.constantFrom('docker', 'docker', 'source', 'binary'),
    users: fc.oneof(fc.integer({ min: 0, max: 60 }), fc.integer({ min: 0, max: 9000 })),
    projects: opt(fc.integer({ min: 0, max: 300 })),
    goals: opt(fc.integer({ min: 0, max: 300 })),
    db_size_mb: opt(fc.integer({ min: 0, max: 200_000 })),
    features: opt(fc.subarray(['ai_features', 'notifications', 'sso'])),
  }),
  firstSeenDaysBeforeEnd: fc.integer({ min: 0, max: 20 }),
});

export type Inst = { exact: Record<string, unknown>; firstSeenDaysBeforeEnd: number };

/** Ground truth from the exact values, computed here independently of compute.ts. */
export function truth(insts: Inst[]) {
  const fields: Record<string, Record<string, number>> = {};
  const absent: Record<string, number> = {};
  for (const i of insts) {
    for (const [name, spec] of Object.entries(MANIFEST.fields)) {
      const x = i.exact[name];
      if (x === undefined) { absent[name] = (absent[name] ?? 0) + 1; continue; }
      const labels = spec.kind === 'range' ? [bucketLabel(ladderOf(spec), x as number)]
        : spec.kind === 'version' ? [truncateVersion(x as string, spec.precision)!]
        : spec.kind === 'features' ? [...new Set(x as string[])] : [x as string];
      for (const l of labels) (fields[name] ??= {})[l] = ((fields[name] ??= {})[l] ?? 0) + 1;
    }
  }
  return { n: insts.length, established: insts.filter((i) => i.firstSeenDaysBeforeEnd >= 7).length, fields, absent };
}

/** Checks a published document against the ground truth and the disclosure rules. */
export function checkAgainstTruth(t: Totals, insts: Inst[], k: number) {
  const g = truth(insts);
  const published: number[] = [];
  if (g.n < k) {
    expect(t.belowThreshold).toBe(true);
    expect([t.installations, t.established, t.fields.length]).toEqual([null, null, 0]);
    return;
  }
  expect(t.installations).toBe(g.n);
  published.push(t.installations!);
  // Two-cell partitions: [established, new], [has feature, does not].
  const pair = (pub: number | null, exact: number) => {
    if (pub !== null) {
      expect(pub).toBe(exact);
      published.push(pub);
      expect(g.n - pub === 0 || g.n - pub >= k, 'the other side of a pair is not a small group').toBe(true);
    } else expect(exact < k || (g.n - exact > 0 && g.n - exact < k), 'only suppressed for a reason').toBe(true);
  };
  pair(t.established, g.established);
  for (const f of t.fields) {
    const spec = MANIFEST.fields[f.name]!;
    const exact = g.fields[f.name] ?? {};
    if (spec.kind === 'features') {
      expect(f.cells.map((c) => c.label)).toEqual(spec.vocabulary);
      for (const c of f.cells) pair(c.count, exact[c.label] ?? 0);
      continue;
    }
    let hiddenMass = g.n;
    let hidden = 0;
    let hiddenNonZero = 0;
    const shown = new Set<string>();
    for (const c of f.cells) {
      if (c.label === 'other' && spec.kind === 'version') {
        const rest = Object.entries(exact).filter(([l]) => !f.cells.some((x) => x.label === l)).reduce((s, [, v]) => s + v, 0);
        if (c.count !== null) expect(c.count).toBe(rest);
        if (c.count === null) { hidden++; if (rest > 0) hiddenNonZero++; } else { hiddenMass -= c.count; published.push(c.count); }
        continue;
      }
      shown.add(c.label);
      if (c.count !== null) {
        expect(c.count, `${f.name}=${c.label}`).toBe(exact[c.label] ?? 0);
        hiddenMass -= c.count;
        published.push(c.count);
      } else {
        hidden++;
        if ((exact[c.label] ?? 0) > 0) hiddenNonZero++;
      }
    }
    // Only versions with fewer than k installations are folded into "other" (and so not named).
    if (spec.kind === 'version') for (const l of Object.keys(exact)) if (!shown.has(l)) expect(exact[l]!, `${f.name} ${l} folded`).toBeLessThan(k);
    if (f.absent!.count !== null) {
      expect(f.absent!.count).toBe(g.absent[f.name] ?? 0);
      hiddenMass -= f.absent!.count;
      published.push(f.absent!.count);
    } else {
      hidden++;
      if ((g.absent[f.name] ?? 0) > 0) hiddenNonZero++;
    }
    // What subtraction yields about the hidden cells: their sum. It is 0 (nothing to protect) or >= k,
    // and a non-zero hidden cell never stands alone, so no single cell can be worked out.
    expect(hiddenMass === 0 || hiddenMass >= k, `${f.name}: hidden mass ${hiddenMass}`).toBe(true);
    if (hiddenNonZero > 0) expect(hidden).toBeGreaterThanOrEqual(2);
  }
  for (const v of published) expect(v).toBeGreaterThanOrEqual(k);
}


/** A small RFC 4180 reader (quoted fields, doubled quotes). */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') { cur += '"'; i++; } else if (ch === '"') quoted = false; else cur += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') { row.push(cur); cur = ''; } else if (ch === '\r' && text[i + 1] === '\n') { row.push(cur); rows.push(row); row = []; cur = ''; i++; } else cur += ch;
  }
  return rows;
}
