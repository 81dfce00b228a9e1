/**
 * Verification, in-process: Beacon's verifyEnvelope (every check + the signature)
 * beside the bare signature check with node:crypto and a cached KeyObject (the floor
 * Beacon's path is built on), and beside tweetnacl (why it stays off servers).
 * Methods run in alternating rounds and each figure is the median round, so a
 * neighbour's burst on this shared machine hits both sides alike.
 */
import { verify as cryptoVerify, type KeyObject } from 'node:crypto';
import nacl from 'tweetnacl';
import { ManifestRegistry } from '../../src/protocol/registry.js';
import { checkEnvelope, ed25519PublicKey, verifyEnvelope, verifyEnvelopeAsync } from '../../src/protocol/verify.js';
import type { BenchContext } from '../context.js';
import { MANIFEST } from '../lib/envelopes.js';
import { judge, type Row } from '../lib/results.js';
import { median } from '../lib/stats.js';

interface Case {
  envelope: string;
  signed: Uint8Array;
  signature: Uint8Array;
  publicKey: Uint8Array;
  keyObject: KeyObject;
}

/** Runs fn(i) repeatedly for about `ms`, looking at the clock every `chunk` calls; returns ops/s. */
function rate(ms: number, fn: (i: number) => void, chunk = 64): number {
  const start = performance.now();
  let n = 0;
  let now = start;
  while (now - start < ms) {
    for (let j = 0; j < chunk; j++) fn(n++);
    now = performance.now();
  }
  return (n / (now - start)) * 1000;
}

/** Keeps `inflight` async operations going for about `ms`; returns ops/s. */
async function asyncRate(ms: number, inflight: number, fn: (i: number) => Promise<unknown>): Promise<number> {
  const start = performance.now();
  let n = 0;
  const lane = async () => {
    while (performance.now() - start < ms) await fn(n++);
  };
  await Promise.all(Array.from({ length: inflight }, lane));
  return (n / (performance.now() - start)) * 1000;
}

export async function runVerify(ctx: BenchContext): Promise<Row[]> {
  const manifests = new ManifestRegistry([MANIFEST]);
  const opts = { manifests, now: () => ctx.now };
  const pool = await ctx.pool(ctx.quick ? 1000 : 2000);
  const cases: Case[] = pool.map((envelope) => {
    const c = checkEnvelope(envelope, opts);
    if (!c.ok) throw new Error(`bench envelope does not verify: ${c.error.code}`);
    return { envelope, signed: c.signed, signature: c.signature, publicKey: c.publicKey, keyObject: ed25519PublicKey(c.publicKey) };
  });
  const nacls = cases.slice(0, 200);
  const N = cases.length;
  const roundMs = ctx.quick ? 300 : 600;
  const rounds = ctx.quick ? 3 : 5;

  let bad = 0;
  const methods: Record<string, () => number | Promise<number>> = {
    beacon: () => rate(roundMs, (i) => { if (!verifyEnvelope(cases[i % N]!.envelope, opts).ok) bad++; }),
    raw: () => rate(roundMs, (i) => { const c = cases[i % N]!; if (!cryptoVerify(null, c.signed, c.keyObject, c.signature)) bad++; }),
    tweetnacl: () => rate(roundMs, (i) => { const c = nacls[i % nacls.length]!; if (!nacl.sign.detached.verify(c.signed, c.signature, c.publicKey)) bad++; }, 1),
    beaconAsync: () => asyncRate(roundMs, 64, async (i) => { if (!(await verifyEnvelopeAsync(cases[i % N]!.envelope, opts)).ok) bad++; }),
    rawAsync: () => asyncRate(roundMs, 64, (i) => new Promise<void>((resolve) => {
      const c = cases[i % N]!;
      cryptoVerify(null, c.signed, c.keyObject, c.signature, (err, ok) => { if (err || !ok) bad++; resolve(); });
    })),
  };
  // Warm-up: JIT, and Beacon's own KeyObject cache filled, as on a long-running server.
  for (const m of Object.values(methods)) await m();
  const samples: Record<string, number[]> = Object.fromEntries(Object.keys(methods).map((k) => [k, []]));
  for (let r = 0; r < rounds; r++) for (const [k, m] of Object.entries(methods)) samples[k]!.push(await m());
  if (bad) throw new Error(`${bad} verifications failed in the verify bench`);
  const med = (k: string) => median(samples[k]!);
  const detail = (k: string) => ({ rounds: samples[k]!.map(Math.round), threadpool: Number(process.env.UV_THREADPOOL_SIZE ?? 4) });

  return [
    judge({
      section: 'verify', name: 'verifyEnvelope (sync, all checks)', value: med('beacon'), unit: '/s',
      reference: { name: 'node:crypto verify, cached KeyObject', value: med('raw') },
      target: { on: 'ratio', op: '>=', limit: 0.9, label: '>= 90% of node:crypto' }, detail: { beacon: detail('beacon'), raw: detail('raw') },
    }),
    judge({
      section: 'verify', name: 'verifyEnvelope (sync)', value: med('beacon'), unit: '/s',
      reference: { name: 'tweetnacl verify', value: med('tweetnacl') }, detail: { tweetnacl: detail('tweetnacl') },
    }),
    judge({
      section: 'verify', name: 'verifyEnvelopeAsync (thread pool, 64 in flight)', value: med('beaconAsync'), unit: '/s',
      reference: { name: 'node:crypto async verify, cached KeyObject', value: med('rawAsync') },
      detail: { beaconAsync: detail('beaconAsync'), rawAsync: detail('rawAsync') },
    }),
  ];
}
