/**
 * The worked example of docs/PROTOCOL.md: its inputs, the blocks the library makes
 * from them, and the plumbing to find those blocks in the document.
 *
 * Regenerate the document's example blocks after a protocol change with
 *   npx tsx test/protocol-doc-example.ts --write
 * test/protocol-doc.test.ts then checks every block against the library.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { keyToPem } from '../src/keyfile.js';
import { PACKAGE_ROOT, loadManifestDir } from '../src/manifests.js';
import { toBase64Url } from '../src/protocol/base64.js';
import { envelopeJson, keyPairFromSeed, pae, signReport, type KeyPair } from '../src/protocol/envelope.js';
import { buildReport, reportBytes, type Report } from '../src/protocol/report.js';

export const DOC_PATH = join(PACKAGE_ROOT, 'docs', 'PROTOCOL.md');
export const EXAMPLE_VALUES_PATH = join(PACKAGE_ROOT, 'config', 'examples', 'operately.json');

/** RFC 8032 §7.1 TEST 1: a published key, so anyone can redo the example with their own Ed25519 code. */
export const RFC8032_TEST1 = {
  seed: '9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60',
  publicKey: 'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a',
} as const;

/** What the example's installation starts from (the `example:input` block). */
export interface ExampleInput {
  seed: string;
  product: string;
  seq: number;
  now: string;
  values: Record<string, unknown>;
}

export function defaultExampleInput(): ExampleInput {
  return {
    seed: RFC8032_TEST1.seed,
    product: 'operately',
    seq: 1,
    now: '2026-12-03T16:27:00Z',
    values: JSON.parse(readFileSync(EXAMPLE_VALUES_PATH, 'utf8')) as Record<string, unknown>,
  };
}

export interface ExampleArtifacts {
  keys: KeyPair;
  now: number;
  report: Report;
  payload: Uint8Array;
  pae: Uint8Array;
  sig: string;
  envelope: string;
}

/** Runs the example through the library, exactly as an installation would. */
export function computeExample(input: ExampleInput): ExampleArtifacts {
  const keys = keyPairFromSeed(new Uint8Array(Buffer.from(input.seed, 'hex')));
  const manifest = loadManifestDir().latest(input.product);
  if (!manifest) throw new Error(`no shipped manifest for ${input.product}`);
  const now = Date.parse(input.now);
  const report = buildReport(manifest, input.values, { key: toBase64Url(keys.publicKey), seq: input.seq, now });
  const payload = reportBytes(report);
  const envelope = signReport(report, keys);
  return {
    keys,
    now,
    report,
    payload,
    pae: pae(envelope.payloadType, payload),
    sig: envelope.signatures[0]!.sig,
    envelope: envelopeJson(envelope),
  };
}

/** `hexdump -C` layout: offset, 16 bytes in two groups of 8, printable ASCII; final line is the length. */
export function hexDump(bytes: Uint8Array): string {
  const lines: string[] = [];
  for (let off = 0; off < bytes.length; off += 16) {
    const row = [...bytes.subarray(off, off + 16)];
    const hex = row.map((b) => b.toString(16).padStart(2, '0'));
    const left = hex.slice(0, 8).join(' ');
    const right = hex.slice(8).join(' ');
    const cols = (left + '  ' + right).padEnd(16 * 3, ' ');
    const ascii = row.map((b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : '.')).join('');
    lines.push(`${off.toString(16).padStart(8, '0')}  ${cols}  |${ascii}|`);
  }
  lines.push(bytes.length.toString(16).padStart(8, '0'));
  return lines.join('\n');
}

/** Reads the bytes back out of a `hexDump` (the ASCII column is ignored). */
export function parseHexDump(text: string): Uint8Array {
  const out: number[] = [];
  for (const line of text.split('\n')) {
    const m = /^[0-9a-f]{8}  (.*?)\s*\|/.exec(line);
    if (!m) continue;
    for (const h of m[1]!.trim().split(/\s+/)) out.push(parseInt(h, 16));
  }
  return new Uint8Array(out);
}

function keyBlock(keys: KeyPair): string {
  return [
    `seed (hex)        ${Buffer.from(keys.seed).toString('hex')}`,
    `public key (hex)  ${Buffer.from(keys.publicKey).toString('hex')}`,
    `key (base64url)   ${toBase64Url(keys.publicKey)}`,
  ].join('\n');
}

/** The fenced blocks of the worked example, by marker name. */
export function renderExampleBlocks(input: ExampleInput = defaultExampleInput()): Record<string, string> {
  const ex = computeExample(input);
  return {
    input: JSON.stringify(input, null, 2),
    key: keyBlock(ex.keys),
    pem: keyToPem(ex.keys).trimEnd(),
    report: JSON.stringify(ex.report, null, 2),
    payload: new TextDecoder().decode(ex.payload),
    'pae-prefix': hexDump(ex.pae.subarray(0, 64)),
    pae: hexDump(ex.pae),
    signature: ex.sig,
    envelope: ex.envelope,
  };
}

// `<!-- example:NAME -->`, optional blank lines, then one fenced block.
const BLOCK_RE = /<!-- example:([a-z-]+) -->\s*\n```([a-z]*)\n([\s\S]*?)\n```/g;

/** The example blocks of a markdown document, by marker name (a name used twice is an error). */
export function extractBlocks(markdown: string): Map<string, string> {
  const blocks = new Map<string, string>();
  for (const m of markdown.matchAll(BLOCK_RE)) {
    if (blocks.has(m[1]!)) throw new Error(`example:${m[1]} appears twice`);
    blocks.set(m[1]!, m[3]!);
  }
  return blocks;
}

/** Replaces the contents of the marked blocks, keeping each block's language tag. */
export function replaceBlocks(markdown: string, blocks: Record<string, string>): string {
  const missing = new Set(Object.keys(blocks));
  const out = markdown.replace(BLOCK_RE, (whole, name: string, lang: string) => {
    if (!(name in blocks)) return whole;
    missing.delete(name);
    return `<!-- example:${name} -->\n\`\`\`${lang}\n${blocks[name]}\n\`\`\``;
  });
  if (missing.size) throw new Error(`no marker in the document for: ${[...missing].join(', ')}`);
  return out;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const blocks = renderExampleBlocks();
  if (process.argv.includes('--write')) {
    writeFileSync(DOC_PATH, replaceBlocks(readFileSync(DOC_PATH, 'utf8'), blocks));
    console.log(`updated ${Object.keys(blocks).length} example blocks in ${DOC_PATH}`);
  } else {
    for (const [name, text] of Object.entries(blocks)) console.log(`<!-- example:${name} -->\n\`\`\`\n${text}\n\`\`\`\n`);
  }
}
