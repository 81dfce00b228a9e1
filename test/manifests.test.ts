import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { PACKAGE_ROOT, SHIPPED_MANIFESTS_DIR, loadManifestDir, loadManifestFile } from '../src/manifests.js';
import { toBase64Url } from '../src/protocol/base64.js';
import { BeaconError } from '../src/protocol/errors.js';
import { ladderLabels, ladderOf, validateManifest, type Manifest } from '../src/protocol/manifest.js';
import { ReportSchema, buildReport, checkValues, labelFor } from '../src/protocol/report.js';

const EXAMPLES_DIR = join(PACKAGE_ROOT, 'config', 'examples');
const jsonFiles = (dir: string) => readdirSync(dir).filter((f) => f.endsWith('.json')).sort();
const readJson = (path: string): unknown => JSON.parse(readFileSync(path, 'utf8'));
const productFiles = jsonFiles(SHIPPED_MANIFESTS_DIR);
const meta = { key: toBase64Url(new Uint8Array(32).fill(7)), seq: 1, now: Date.UTC(2026, 11, 3, 16, 42, 7) };

function example(product: string): Record<string, unknown> {
  return readJson(join(EXAMPLES_DIR, `${product}.json`)) as Record<string, unknown>;
}

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  return undefined;
}

const tmp = mkdtempSync(join(tmpdir(), 'beacon-manifests-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('shipped manifests', () => {
  it('ships one manifest and one example per system of the research document', () => {
    const products = ['discourse', 'docker', 'gitlab', 'kubernetes', 'mastodon', 'nextcloud', 'operately', 'prometheus', 'wordpress'];
    expect(loadManifestDir().products()).toEqual(products);
    expect(productFiles).toEqual(products.map((p) => `${p}.json`));
    expect(jsonFiles(EXAMPLES_DIR)).toEqual(productFiles);
  });

  it.each(productFiles)('%s validates and its product id is its file name', (file) => {
    const r = validateManifest(readJson(join(SHIPPED_MANIFESTS_DIR, file)));
    expect(r.ok ? [] : r.problems).toEqual([]);
    expect(`${loadManifestFile(join(SHIPPED_MANIFESTS_DIR, file)).product}.json`).toBe(file);
  });

  it.each(productFiles)('%s leaves out what it says it leaves out', (file) => {
    const m = loadManifestFile(join(SHIPPED_MANIFESTS_DIR, file));
    for (const o of m.omitted ?? []) {
      // "metadata.nodeName" is omitted, so neither "node_name" nor "nodename" may be a field.
      const leaf = o.field.split('.').pop()!;
      const snake = leaf.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
      expect(Object.keys(m.fields)).not.toContain(snake);
      expect(Object.keys(m.fields)).not.toContain(leaf.toLowerCase());
    }
  });
});

describe('examples', () => {
  it.each(productFiles.map((f) => f.slice(0, -5)))('%s: the example gives every field and builds a valid, range-only report', (product) => {
    const manifest = loadManifestDir().latest(product)!;
    const exact = example(product);
    expect(Object.keys(exact).sort()).toEqual(Object.keys(manifest.fields).sort());

    const report = buildReport(manifest, exact, meta);
    expect(ReportSchema.safeParse(report).success).toBe(true);
    expect(checkValues(manifest, report.values)).toEqual([]);
    expect(Object.keys(report.values).sort()).toEqual(Object.keys(manifest.fields).sort());

    // No exact count survives: no range label holds one of the example's integers.
    // (Version numbers are left out of the search: "7.4" is PHP, not 7 users.)
    const inputIntegers = Object.values(exact).filter((v): v is number => typeof v === 'number');
    expect(inputIntegers.length).toBeGreaterThan(0);
    const rangeLabels = Object.keys(manifest.fields).filter((f) => manifest.fields[f]!.kind === 'range').map((f) => report.values[f]);
    const numbersInLabels = JSON.stringify(rangeLabels).match(/\d+/g) ?? [];
    for (const n of inputIntegers) expect(numbersInLabels).not.toContain(String(n));

    for (const [name, spec] of Object.entries(manifest.fields)) {
      if (spec.kind === 'features') expect((report.values[name] as string[]).length, name).toBeGreaterThan(0);
      if (spec.kind === 'version') expect(report.values[name], name).not.toMatch(/[a-z]/);
    }
  });

  it('an unknown input field is an error, not silently dropped', () => {
    const manifest = loadManifestDir().latest('gitlab')!;
    const e = thrown(() => buildReport(manifest, { ...example('gitlab'), hostname: 'gitlab.example.org' }, meta));
    expect(e).toBeInstanceOf(BeaconError);
    expect((e as BeaconError).code).toBe('unknown_field');
    expect((e as BeaconError).path).toBe('hostname');
  });

  it('features outside the vocabulary are dropped, never sent', () => {
    const manifest = loadManifestDir().latest('wordpress')!;
    const report = buildReport(manifest, { ...example('wordpress'), plugins: ['acme-intranet-sso', 'akismet', 'woocommerce'] }, meta);
    expect(report.values.plugins).toEqual(['akismet', 'woocommerce']);
  });
});

describe('custom ladders', () => {
  it('label the buckets from the declared lower bounds', () => {
    const nodes = loadManifestDir().latest('kubernetes')!.fields.nodes!;
    expect(nodes.kind).toBe('range');
    expect(ladderLabels(ladderOf(nodes as { ladder?: number[] }))).toEqual(['0', '1', '2-3', '4-10', '11-50', '51-200', '201-1000', '1001-5000', '5001+']);
  });

  it('put exact values into those buckets', () => {
    const manifest = loadManifestDir().latest('operately')!;
    const base = example('operately');
    const label = (db_size_mb: number) => buildReport(manifest, { ...base, db_size_mb }, meta).values.db_size_mb;
    expect([0, 1023, 1024, 10239, 10240, 102399, 102400, 9_000_000].map(label)).toEqual([
      '0-1023', '0-1023', '1024-10239', '1024-10239', '10240-102399', '10240-102399', '102400+', '102400+',
    ]);
  });
});

describe('a bad manifest', () => {
  const bad = {
    product: 'Git Lab',
    version: 0,
    title: 'GitLab',
    description: 'a manifest with several mistakes',
    hostname: 'gitlab.example.org',
    fields: {
      users: { kind: 'range', description: 'Users.', ladder: [1, 10, 10] },
      edition: { kind: 'category', description: 'Edition.', values: ['ce', 'EE'] },
      plugins: { kind: 'features', description: 'Plugins.', vocabulary: ['ldap', 'ldap'] },
      site_title: { kind: 'text', description: 'The site title.' },
      projects: { kind: 'range' },
    },
  };
  const expectedPaths = [
    '(manifest)',
    'fields.edition.values[1]',
    'fields.plugins.vocabulary[1]',
    'fields.projects.description',
    'fields.site_title.kind',
    'fields.users.ladder[0]',
    'fields.users.ladder[2]',
    'product',
    'version',
  ];

  it('reports every problem at once', () => {
    const r = validateManifest(bad);
    expect(r.ok).toBe(false);
    const problems = r.ok ? [] : r.problems;
    expect(problems).toHaveLength(expectedPaths.length);
    expect(problems.map((p) => p.path).sort()).toEqual(expectedPaths);
  });

  it('is refused by the loader with every problem listed', () => {
    const dir = mkdtempSync(join(tmp, 'bad-'));
    writeFileSync(join(dir, 'gitlab.json'), JSON.stringify(bad));
    const e = thrown(() => loadManifestDir(dir));
    expect(e).toBeInstanceOf(BeaconError);
    expect((e as BeaconError).code).toBe('bad_manifest');
    const listed = (e as Error).message.split('\n').filter((l) => l.startsWith('  - '));
    expect(listed.map((l) => l.slice(4, l.indexOf(': '))).sort()).toEqual(expectedPaths);
  });

  it('still reports each list problem when another field is wrong too', () => {
    const m = readJson(join(SHIPPED_MANIFESTS_DIR, 'operately.json')) as Manifest;
    const broken = { ...m, product: 'Operately', fields: { ...m.fields, db_size_mb: { ...m.fields.db_size_mb, ladder: [0, 5, 3] } } };
    const r = validateManifest(broken);
    expect(r.ok ? [] : r.problems.map((p) => p.path)).toEqual(['product', 'fields.db_size_mb.ladder[2]']);
  });
});

describe('raw input as products report it', () => {
  it('folds case for closed lists, so "en_US" is en_us and not other', () => {
    const m = loadManifestDir().latest('wordpress')!;
    expect(labelFor('locale', m.fields.locale!, 'en_US')).toBe('en_us');
    expect(labelFor('locale', m.fields.locale!, 'xx_NOPE')).toBe('other');
  });

  it('reads Go-style versions ("go1.16.5") and drops the prefix', () => {
    const m = loadManifestDir().latest('prometheus')!;
    expect(labelFor('go_version', m.fields.go_version!, 'go1.16.5')).toBe('1.16');
    expect(labelFor('version', m.fields.version!, 'v2.28.1-rc.0+build')).toBe('2.28.1');
  });
});

describe('version parts out of bounds', () => {
  it('refuses a 7-digit part instead of cutting it to 6 digits', () => {
    const m = loadManifestDir().latest('gitlab')!;
    expect(() => labelFor('version', m.fields.version!, '1234567.1.0')).toThrow(BeaconError);
  });
});
