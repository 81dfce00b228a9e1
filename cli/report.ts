/** `beacon keygen`, `beacon report` and `beacon preview`: an installation's side of the protocol. */
import { existsSync } from 'node:fs';
import { createKeyFile, readKeyFile, SeqCounter, seqPathFor } from '../src/keyfile.js';
import { toBase64Url } from '../src/protocol/base64.js';
import { envelopeJson, signReport, type KeyPair } from '../src/protocol/envelope.js';
import { BeaconError } from '../src/protocol/errors.js';
import { ladderLabels, ladderOf, type FieldSpec, type Manifest } from '../src/protocol/manifest.js';
import { buildReport, PAYLOAD_TYPE, reportBytes, type Report } from '../src/protocol/report.js';
import { describeFsError, readJsonInput, UsageError } from './io.js';
import { loadRegistry } from './registry.js';

/** Exact-value input files are small; this bounds what a mistaken `--values /dev/zero` reads. */
const MAX_VALUES_BYTES = 1024 * 1024;

export interface ReportArgs {
  product: string;
  values: string;
  key: string;
  manifests: string | undefined;
  /** ISO time the report is for; default the system clock. */
  now: string | undefined;
}

export function keygen(keyPath: string): string {
  if (existsSync(keyPath))
    throw new BeaconError('key_exists', `key file ${keyPath} already exists; refusing to overwrite it (an installation keeps its key)`);
  try {
    return toBase64Url(createKeyFile(keyPath).publicKey);
  } catch (e) {
    // EEXIST from open('wx') is a race with another keygen; from mkdir it is a file in the way.
    if (existsSync(keyPath)) throw new BeaconError('key_exists', `key file ${keyPath} already exists; refusing to overwrite it`);
    throw new BeaconError('io_error', `cannot create key file ${keyPath}: ${describeFsError(e)}`);
  }
}

export function parseNow(text: string | undefined): number {
  if (text === undefined) return Date.now();
  const ms = Date.parse(text);
  if (!/^\d{4}-\d{2}-\d{2}T/.test(text) || !Number.isFinite(ms)) throw new UsageError(`--now must be an ISO 8601 time such as 2026-12-03T16:00:00Z, not "${text}"`);
  return ms;
}

function loadKey(path: string): KeyPair {
  if (!existsSync(path)) throw new BeaconError('no_key', `key file ${path} does not exist; create one with: beacon keygen --key ${path}`);
  return readKeyFile(path);
}

function loadManifest(product: string, dir: string | undefined): Manifest {
  const { registry, dir: from } = loadRegistry(dir);
  const manifest = registry.latest(product);
  if (!manifest) {
    const known = registry.products();
    throw new BeaconError('unknown_product', `unknown product "${product}"; known products: ${known.length ? known.join(', ') : '(none in ' + from + ')'}`);
  }
  return manifest;
}

interface Prepared {
  manifest: Manifest;
  keys: KeyPair;
  counter: SeqCounter;
  build: (seq: number) => Report;
}

/** Everything `report` and `preview` share; reads only, writes nothing. */
async function prepare(args: ReportArgs): Promise<Prepared> {
  const now = parseNow(args.now);
  const manifest = loadManifest(args.product, args.manifests);
  const keys = loadKey(args.key);
  const counter = new SeqCounter(seqPathFor(args.key));
  const exact = await readJsonInput(args.values, MAX_VALUES_BYTES, 'values file');
  const key = toBase64Url(keys.publicKey);
  const build = (seq: number) => buildReport(manifest, exact as Record<string, unknown>, { key, seq, now });
  return { manifest, keys, counter, build };
}

/** Builds, persists the next seq, then signs: the printed envelope's seq is never reused. */
export async function report(args: ReportArgs): Promise<string> {
  const p = await prepare(args);
  // Build first with the seq it will get, so bad values fail before a seq is spent.
  p.build(p.counter.current() + 1);
  const seq = p.counter.next();
  return envelopeJson(signReport(p.build(seq), p.keys));
}

/** The report `report` would sign next, for a human. Writes nothing (the seq is not spent). */
export async function preview(args: ReportArgs): Promise<string> {
  const p = await prepare(args);
  const r = p.build(p.counter.current() + 1);
  const m = p.manifest;
  const lines: string[] = [
    `Beacon report preview: ${m.title} (product "${m.product}", manifest version ${m.version})`,
    wrap(m.description, '  '),
    '',
    `Period ${r.period}, issued ${r.issued}, seq ${r.seq}`,
    `Installation key ${r.key}`,
    '',
    'Fields sent (labels only; exact numbers never leave this machine):',
  ];
  for (const [name, spec] of Object.entries(m.fields)) {
    const v = r.values[name];
    const shown = v === undefined ? '(not sent: no value given)' : Array.isArray(v) ? (v.length ? v.join(', ') : '(none)') : v;
    lines.push(`  ${name} = ${shown}`, wrap(`${spec.description} [${kindNote(spec)}]`, '      '));
  }
  if (m.omitted?.length) {
    lines.push('', 'Left out of this manifest on purpose (never sent):');
    for (const o of m.omitted) lines.push(`  ${o.field}`, wrap(o.why, '      '));
  }
  lines.push(
    '',
    `Signed payload: the exact bytes \`beacon report\` would sign next (RFC 8785 JSON, ${reportBytes(r).length} bytes, payloadType ${PAYLOAD_TYPE}):`,
    Buffer.from(reportBytes(r)).toString('utf8'),
  );
  return lines.join('\n');
}

function kindNote(spec: FieldSpec): string {
  switch (spec.kind) {
    case 'range':
      return `range: ${ladderLabels(ladderOf(spec)).join(' | ')}`;
    case 'category':
      return `one of: ${spec.values.join(', ')}`;
    case 'version':
      return `version, ${spec.precision} precision`;
    case 'features':
      return `features from: ${spec.vocabulary.join(', ')}`;
  }
}

/** Wraps prose at 100 columns with the given indent. */
function wrap(text: string, indent: string): string {
  const out: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/)) {
    if (line && indent.length + line.length + 1 + word.length > 100) {
      out.push(indent + line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) out.push(indent + line);
  return out.join('\n');
}
