/**
 * A burst of concurrent pushes loses nothing acknowledged, and after the traffic
 * neither the database file nor the logs hold the sender's address or User-Agent.
 * Requests come from 127.0.0.2 so that the address is distinguishable from the
 * server's own 127.0.0.1.
 */
import Database from 'better-sqlite3';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Logger } from '../src/server/http.js';
import { Installation, DAY, startAggregator, tempDir, testClock } from './aggregator-fixtures.js';

const UA = 'Mozilla/5.0 (BeaconPrivacyProbe-7f3a9c)';
const tmp = tempDir('agg-burst');
afterAll(() => tmp.remove());

function postFrom(localAddress: string, url: string, body: string): Promise<{ status: number; json: any }> {
  return new Promise((res, rej) => {
    const req = http.request(url, {
      method: 'POST', localAddress, agent: false,
      headers: { 'content-type': 'application/json', 'user-agent': UA, 'x-forwarded-for': '203.0.113.77' },
    }, (r) => {
      const chunks: Buffer[] = [];
      r.on('data', (c) => chunks.push(c));
      r.on('end', () => res({ status: r.statusCode!, json: JSON.parse(Buffer.concat(chunks).toString() || 'null') }));
    });
    req.on('error', rej);
    req.end(body);
  });
}

const fileBytes = (dbPath: string) =>
  Buffer.concat([dbPath, `${dbPath}-wal`, `${dbPath}-shm`].filter(existsSync).map((p) => readFileSync(p)));

function expectNoTrace(haystack: Buffer | string, address: string) {
  const text = Buffer.isBuffer(haystack) ? haystack.toString('latin1') : haystack;
  expect(text.length).toBeGreaterThan(0);
  for (const needle of [address, UA, 'BeaconPrivacyProbe', '203.0.113.77']) expect(text.includes(needle), needle).toBe(false);
}

describe('burst and privacy', () => {
  it('300 concurrent pushes and 4 concurrent batches: every acknowledged report is in the database after reopening', async () => {
    const dbPath = join(tmp.path, 'burst.db');
    const lines: string[] = [];
    const log: Logger = (level, msg, fields) => lines.push(JSON.stringify({ level, msg, ...fields }));
    const time = testClock();
    const { agg, url } = await startAggregator({ dbPath }, { clock: time.clock, log });
    const singles = Array.from({ length: 300 }, () => new Installation());
    const batches = Array.from({ length: 4 }, () => Array.from({ length: 100 }, () => new Installation()));
    const responses = await Promise.all([
      ...singles.map((i) => postFrom('127.0.0.2', `${url}/v1/reports`, i.envelope(1))),
      ...batches.map((b) => postFrom('127.0.0.2', `${url}/v1/reports/batch`, JSON.stringify({ reports: b.map((i) => JSON.parse(i.envelope(1))) }))),
      // some failures on the same connection paths, so error logging is exercised too
      postFrom('127.0.0.2', `${url}/v1/reports`, '{"broken'),
      postFrom('127.0.0.2', `${url}/v1/targets`, JSON.stringify({ url: 'http://127.0.0.2:1' })),
    ]);
    const acknowledged = responses.filter((r) => r.status === 202).reduce((n, r) => n + r.json.accepted, 0);
    expect(acknowledged).toBe(700);
    await agg.close();

    const db = new Database(dbPath, { readonly: true });
    const stored = new Set((db.prepare('SELECT key FROM reports').all() as { key: string }[]).map((r) => r.key));
    db.close();
    for (const i of [...singles, ...batches.flat()]) expect(stored.has(i.key)).toBe(true);
    expectNoTrace(fileBytes(dbPath), '127.0.0.2');
    expectNoTrace(lines.join('\n') + ' ', '127.0.0.2');
  });

  it('beacon aggregator: logs where it listens, stores pushes, shuts down cleanly on SIGTERM, logs no address', async () => {
    const dbPath = join(tmp.path, 'cli.db');
    const configPath = join(tmp.path, 'aggregator.json');
    writeFileSync(configPath, JSON.stringify({ host: '127.0.0.1', rateLimit: { capacity: 1000, refillPerSec: 100 } }));
    const script = join(tmp.path, 'start.mts');
    writeFileSync(script, `import { run } from ${JSON.stringify(resolve('aggregator/cli.ts'))};\nprocess.exitCode = await run(process.argv.slice(2));\n`);
    const child = spawn(process.execPath, ['--import', 'tsx', script, '--config', configPath, '--port', '0', '--db', dbPath], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (c) => { out += c; });
    child.stderr.on('data', (c) => { out += c; });
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    try {
      for (let i = 0; i < 200 && !/listening on http:\/\/127\.0\.0\.1:\d+/.test(out); i++) await new Promise((r) => setTimeout(r, 50));
      const base = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out)![1]!;
      // the report is dated by the real clock here
      const inst = new Installation();
      const now = Date.now();
      const r = await postFrom('127.0.0.3', `${base}/v1/reports`, inst.envelope(1, now));
      expect(r).toMatchObject({ status: 202, json: { accepted: 1 } });
      expect((await postFrom('127.0.0.3', `${base}/v1/reports`, inst.envelope(1, now - 9 * DAY))).json.error.code).toBe('stale');
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
    expect(out).toMatch(/"msg":"stopped"/);
    const db = new Database(dbPath, { readonly: true });
    expect((db.prepare('SELECT COUNT(*) AS n FROM reports').get() as { n: number }).n).toBe(1);
    db.close();
    expectNoTrace(out, '127.0.0.3');
    expectNoTrace(fileBytes(dbPath), '127.0.0.3');
  });
});
