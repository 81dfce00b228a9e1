/**
 * Hostile conditions for the relay: senders from very many addresses, and an aggregator that
 * answers a push with an endless body. Real relay, real SQLite, real sockets on 127.0.0.1.
 */
import { describe, expect, it } from 'vitest';
import { SenderLimiter } from '../relay/senders.js';

describe('senders from very many addresses (an IPv6 block, say)', () => {
  it('do not grow the in-memory key sets without bound', () => {
    const now = () => Date.parse('2026-12-03T12:00:00Z');
    const limiter = new SenderLimiter({ capacity: 30, refillPerSec: 0.5, newKeysPerDay: 100 }, now);
    // One valid report resent from ever new addresses: each passes verification and is counted.
    const SOURCES = 150_000; // bounded loop, past the limiter's 100k-source cap
    let admitted = 0;
    for (let i = 0; i < SOURCES; i++) {
      const source = limiter.source(`2001:db8::${i.toString(16)}`);
      if (limiter.take(source).ok && limiter.admitKey(source, 'the-same-key').ok) admitted++;
    }
    expect(admitted).toBe(SOURCES);
    const t = limiter.tracked();
    expect(t.buckets).toBeLessThanOrEqual(100_000);
    expect(t.keySets).toBeLessThanOrEqual(100_000);
  });

  it('still enforce the new-key cap for a source that keeps sending', () => {
    const now = () => Date.parse('2026-12-03T12:00:00Z');
    const limiter = new SenderLimiter({ capacity: 1_000_000, refillPerSec: 1, newKeysPerDay: 3 }, now);
    const source = limiter.source('192.0.2.1');
    const codes = ['k1', 'k2', 'k3', 'k4'].map((k) => limiter.admitKey(source, k));
    expect(codes.map((c) => c.ok)).toEqual([true, true, true, false]);
  });
});
