/** The `beacon` command, run as a real child process against the compiled build. */
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadManifestDir, PACKAGE_ROOT, SHIPPED_MANIFESTS_DIR } from '../src/manifests.js';
import { fromBase64, toBase64 } from '../src/protocol/base64.js';
import { verifyEnvelope } from '../src/protocol/verify.js';
import { beacon, errorCode, previewPayload } from './helpers/beacon-cli.js';

const tmp = mkdtempSync(join(tmpdir(), 'beacon-cli-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
let n = 0;
const freshKeyPath = () => join(tmp, `k${++n}`, 'beacon.key');
const EXAMPLES = join(PACKAGE_ROOT, 'config', 'examples');
const example = (product: string) => join(EXAMPLES, `${product}.json`);

/** Every shipped manifest, read from the directory so manifests added later are covered too. */
const SHIPPED = readdirSync(SHIPPED_MANIFESTS_DIR)
  .filter((f) => f.endsWith('.json'))
  .map((f) => (JSON.parse(readFileSync(join(SHIPPED_MANIFESTS_DIR, f), 'utf8')) as { product: string }).product);

async function keygen(): Promise<{ path: string; publicKey: string }> {
  const path = freshKeyPath();
  const r = await beacon(['keygen', '--key', path]);
  expect(r.code, r.stderr).toBe(0);
  return { path, publicKey: r.stdout.trim() };
}

const noStackTrace = (text: string) => expect(text).not.toMatch(/\n\s+at .+:\d+/);
const payloadOf = (envelopeText: string) => Buffer.from(fromBase64(JSON.parse(envelopeText).payload)!).toString('utf8');

describe('beacon keygen', () => {
  it('writes a PKCS#8 PEM key with mode 0600 and prints its public key', async () => {
    const { path, publicKey } = await keygen();
    expect(publicKey).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(readFileSync(path, 'utf8')).toMatch(/^-----BEGIN PRIVATE KEY-----\n[A-Za-z0-9+/=]+\n-----END PRIVATE KEY-----\n$/);
  });

  it('refuses to overwrite an existing key', async () => {
    const { path } = await keygen();
    const before = readFileSync(path, 'utf8');
    const r = await beacon(['keygen', '--key', path]);
    expect(r.code).toBe(1);
    expect(errorCode(r)).toBe('key_exists');
    expect(readFileSync(path, 'utf8')).toBe(before);
  });
});

describe('keygen -> report -> verify, for every shipped manifest', () => {
  it('finds the shipped manifests and an example for each', () => {
    expect(SHIPPED).toContain('operately');
    for (const p of SHIPPED) expect(existsSync(example(p)), `config/examples/${p}.json`).toBe(true);
  });

  // One key for all products: the seq it shows must still rise by one per report.
  let key: { path: string; publicKey: string };
  let lastSeq = 0;
  beforeAll(async () => {
    key = await keygen();
  });

  it.each(SHIPPED)('%s', async (product) => {
    const { path, publicKey } = key;
    const rep = await beacon(['report', '--product', product, '--values', example(product), '--key', path]);
    expect(rep.code, rep.stderr).toBe(0);
    expect(rep.stdout.trim().split('\n')).toHaveLength(1);
    const envelope = rep.stdout.trim();

    const ver = await beacon(['verify', '-'], envelope);
    expect(ver.code, ver.stderr).toBe(0);
    const report = JSON.parse(ver.stdout);
    expect(report).toMatchObject({ product, key: publicKey, seq: ++lastSeq, protocol: 1 });
    // The library's verifier (used by relays and aggregators) agrees with the CLI.
    const lib = verifyEnvelope(envelope, { manifests: loadManifestDir() });
    expect(lib.ok && lib.report).toEqual(report);

    // The human preview works for every product too and shows each field of the report.
    const pre = await beacon(['preview', '--product', product, '--values', example(product), '--key', path]);
    expect(pre.code, pre.stderr).toBe(0);
    for (const field of Object.keys(report.values)) expect(pre.stdout).toContain(`  ${field} = `);
  });
});

describe('beacon report', () => {
  // For tests where nothing may be written: a key that never signs anything.
  let unused: { path: string; publicKey: string };
  beforeAll(async () => {
    unused = await keygen();
  });

  it('reads exact values from stdin and never prints them', async () => {
    const { path } = await keygen();
    const values = JSON.stringify({ ...JSON.parse(readFileSync(example('operately'), 'utf8')), users: 4321 });
    const r = await beacon(['report', '--product', 'operately', '--values', '-', '--key', path], values);
    expect(r.code, r.stderr).toBe(0);
    const payload = JSON.parse(payloadOf(r.stdout));
    expect(payload.values.users).toBe('1001-5000');
    expect(payloadOf(r.stdout)).not.toContain('4321');
  });

  it('increases seq across runs, persisted beside the key', async () => {
    const { path } = await keygen();
    const seqs: number[] = [];
    for (let i = 0; i < 3; i++) {
      const r = await beacon(['report', '--product', 'operately', '--values', example('operately'), '--key', path]);
      expect(r.code, r.stderr).toBe(0);
      seqs.push(JSON.parse(payloadOf(r.stdout)).seq);
    }
    expect(seqs).toEqual([1, 2, 3]);
    expect(readFileSync(`${path}.seq`, 'utf8').trim()).toBe('3');
  });

  it('refuses a key file that group or others can read', async () => {
    const { path } = await keygen();
    chmodSync(path, 0o644);
    for (const cmd of ['report', 'preview']) {
      const r = await beacon([cmd, '--product', 'operately', '--values', example('operately'), '--key', path]);
      expect(r.code).toBe(1);
      expect(errorCode(r)).toBe('insecure_key_file');
      expect(r.stdout).toBe('');
      noStackTrace(r.stderr);
    }
    expect(existsSync(`${path}.seq`)).toBe(false);
  });

  it('needs an existing key (it does not create one)', async () => {
    const path = freshKeyPath();
    const r = await beacon(['report', '--product', 'operately', '--values', example('operately'), '--key', path]);
    expect(r.code).toBe(1);
    expect(errorCode(r)).toBe('no_key');
    expect(existsSync(path)).toBe(false);
  });

  it('names the known products when the product is unknown', async () => {
    const { path } = unused;
    const r = await beacon(['report', '--product', 'no-such-product', '--values', example('operately'), '--key', path]);
    expect(r.code).toBe(1);
    expect(errorCode(r)).toBe('unknown_product');
    for (const p of SHIPPED) expect(r.stderr).toContain(p);
  });

  it.each([
    ['an unknown field', JSON.stringify({ users: 3, hostname: 'db1.example.org' }), 'unknown_field'],
    ['a missing required field', '{}', 'missing_field'],
    ['a negative count', JSON.stringify({ ...JSON.parse(readFileSync(example('operately'), 'utf8')), users: -1 }), 'bad_value'],
    ['input that is not JSON', '{"users": 3', 'bad_values'],
  ])('refuses %s with one line and no seq spent', async (_what, input, code) => {
    const { path } = unused;
    const r = await beacon(['report', '--product', 'operately', '--values', '-', '--key', path], input);
    expect(r.code).toBe(1);
    expect(errorCode(r)).toBe(code);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(existsSync(`${path}.seq`)).toBe(false);
  });

  it('uses the manifests of --manifests', async () => {
    const { path } = await keygen();
    const dir = join(tmp, 'manifests-only-gitlab');
    const r0 = await beacon(['report', '--product', 'operately', '--values', example('operately'), '--key', path, '--manifests', dir]);
    expect(errorCode(r0)).toBe('bad_manifest');
    mkdirSync(dir);
    copyFileSync(join(SHIPPED_MANIFESTS_DIR, 'operately.json'), join(dir, 'operately.json'));
    const r = await beacon(['report', '--product', 'gitlab', '--values', example('gitlab'), '--key', path, '--manifests', dir]);
    expect(errorCode(r)).toBe('unknown_product');
    const ok = await beacon(['report', '--product', 'operately', '--values', example('operately'), '--key', path, '--manifests', dir]);
    expect(ok.code, ok.stderr).toBe(0);
  });
});

describe('beacon preview', () => {
  it('shows the exact bytes report signs next, without spending a seq', async () => {
    const { path } = await keygen();
    const now = new Date().toISOString();
    const args = ['--product', 'operately', '--values', example('operately'), '--key', path, '--now', now];
    const pre = await beacon(['preview', ...args]);
    expect(pre.code, pre.stderr).toBe(0);
    expect(existsSync(`${path}.seq`)).toBe(false);
    // Twice: previewing does not move the counter.
    expect(previewPayload((await beacon(['preview', ...args])).stdout)).toBe(previewPayload(pre.stdout));

    const rep = await beacon(['report', ...args]);
    expect(rep.code, rep.stderr).toBe(0);
    expect(payloadOf(rep.stdout)).toBe(previewPayload(pre.stdout));

    // After a report, the preview shows the next one.
    const next = JSON.parse(previewPayload((await beacon(['preview', ...args])).stdout));
    expect(next.seq).toBe(2);
  });

  it('shows each field with its manifest description and what is left out', async () => {
    const { path } = await keygen();
    const pre = await beacon(['preview', '--product', 'operately', '--values', example('operately'), '--key', path]);
    const manifest = loadManifestDir().latest('operately')!;
    for (const spec of Object.values(manifest.fields)) expect(pre.stdout.replace(/\s+/g, ' ')).toContain(spec.description.replace(/\s+/g, ' '));
    for (const o of manifest.omitted ?? []) expect(pre.stdout).toContain(`  ${o.field}\n`);
  });
});

describe('beacon verify', () => {
  async function envelope(now?: string): Promise<string> {
    const { path } = await keygen();
    const extra = now ? ['--now', now] : [];
    const r = await beacon(['report', '--product', 'operately', '--values', example('operately'), '--key', path, ...extra]);
    expect(r.code, r.stderr).toBe(0);
    return r.stdout.trim();
  }

  it('reads a file and prints the report', async () => {
    const env = await envelope();
    const file = join(tmp, 'envelope.json');
    writeFileSync(file, env);
    const r = await beacon(['verify', file]);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).product).toBe('operately');
  });

  it('rejects a tampered payload or signature with bad_signature', async () => {
    const env = JSON.parse(await envelope());
    const payload = Buffer.from(fromBase64(env.payload)!).toString('utf8').replace('"seq":1', '"seq":2');
    const sig = Buffer.from(fromBase64(env.signatures[0].sig)!);
    sig[10]! ^= 0x01;
    for (const bad of [{ ...env, payload: toBase64(Buffer.from(payload)) }, { ...env, signatures: [{ ...env.signatures[0], sig: toBase64(sig) }] }]) {
      const r = await beacon(['verify', '-'], JSON.stringify(bad));
      expect(r.code).toBe(1);
      expect(r.stdout).toBe('');
      expect(errorCode(r)).toBe('bad_signature');
    }
  });

  it('checks age against --now', async () => {
    const old = new Date(Date.now() - 30 * 86_400_000);
    const env = await envelope(old.toISOString());
    const stale = await beacon(['verify', '-'], env);
    expect(errorCode(stale)).toBe('stale');
    const then = await beacon(['verify', '-', '--now', new Date(old.getTime() + 3_600_000).toISOString()], env);
    expect(then.code, then.stderr).toBe(0);
    const before = await beacon(['verify', '-', '--now', new Date(old.getTime() - 86_400_000).toISOString()], env);
    expect(errorCode(before)).toBe('from_future');
  });

  it.each([
    ['not JSON', 'hello', 'bad_json'],
    ['not an envelope', '{"payload":"","signatures":[]}', 'bad_envelope'],
    ['over 16 KiB', JSON.stringify({ pad: 'x'.repeat(20_000) }), 'too_large'],
  ])('rejects %s with its code', async (_what, input, code) => {
    const r = await beacon(['verify', '-'], input);
    expect(r.code).toBe(1);
    expect(errorCode(r)).toBe(code);
    noStackTrace(r.stderr);
  });
});

describe('command line', () => {
  it('prints usage for help and --help', async () => {
    for (const args of [['help'], ['--help'], []]) {
      const r = await beacon(args);
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/^Usage:$/m);
    }
  });

  it('exits 2 with usage for an unknown command, option or missing argument', async () => {
    for (const args of [['frobnicate'], ['report', '--product', 'operately', '--bogus'], ['report', '--product', 'operately'], ['verify'], ['keygen']]) {
      const r = await beacon(args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stdout).toBe('');
      noStackTrace(r.stderr);
    }
  });

  it('reports unreadable input in one line', async () => {
    const r = await beacon(['verify', join(tmp, 'does-not-exist.json')]);
    expect(r.code).toBe(1);
    expect(errorCode(r)).toBe('io_error');
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });
});
