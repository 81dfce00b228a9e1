/**
 * The README's embed example runs as written: its one ts block is extracted, pointed at this
 * repo's source, a temp state directory and a local receiver, and run with tsx.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { PACKAGE_ROOT } from '../src/manifests.js';
import { operately, startReceiver, type Receiver } from './helpers/index.js';

let receiver: Receiver;
let work: string;
beforeAll(async () => {
  receiver = await startReceiver({ manifests: [operately], now: Date.now });
  // Under node_modules so the example's bare `koa` import resolves to this repo's copy.
  const cache = join(PACKAGE_ROOT, 'node_modules', '.cache');
  mkdirSync(cache, { recursive: true });
  work = mkdtempSync(join(cache, 'beacon-readme-'));
});
afterAll(async () => {
  await receiver.stop();
  rmSync(work, { recursive: true, force: true });
});

function embedExample(): string {
  const readme = readFileSync(join(PACKAGE_ROOT, 'README.md'), 'utf8');
  const section = readme.split('\n### Embed Beacon\n')[1];
  expect(section).toBeDefined();
  const block = /```ts\n([\s\S]*?)```/.exec(section!);
  expect(block).not.toBeNull();
  return block![1]!;
}

it('the README embed example delivers a signed report', async () => {
  const stateDir = join(work, 'state');
  let code = embedExample();
  const rewrites: [string, string][] = [
    [`from 'beacon'`, `from ${JSON.stringify(pathToFileURL(join(PACKAGE_ROOT, 'src', 'index.ts')).href)}`],
    [`'./data/beacon'`, JSON.stringify(stateDir)],
    [`'https://beacon.example.org'`, JSON.stringify(receiver.url)],
    ['app.listen(3000)', `app.listen(0, '127.0.0.1')`],
  ];
  for (const [from, to] of rewrites) {
    expect(code).toContain(from);
    code = code.replace(from, to);
  }
  // The example schedules a daily run; the test asks for one now and then exits.
  code += `\nconst result = await beacon.runOnce();\nconsole.log(JSON.stringify({ ok: result.ok, status: beacon.status().targets }));\nawait beacon.stop();\nprocess.exit(0);\n`;
  const file = join(work, 'example.mts');
  writeFileSync(file, code);

  const out = await new Promise<{ err: Error | null; stdout: string; stderr: string }>((resolve) => {
    execFile(process.execPath, [join(PACKAGE_ROOT, 'node_modules', 'tsx', 'dist', 'cli.mjs'), file], { cwd: work, timeout: 20_000 }, (err, stdout, stderr) =>
      resolve({ err, stdout, stderr }));
  });
  expect(out.stderr).toBe('');
  expect(out.err).toBeNull();
  expect(JSON.parse(out.stdout.trim().split('\n').pop()!)).toMatchObject({ ok: true, status: [{ lastDelivery: { outcome: 'delivered' } }] });
  expect(receiver.received).toHaveLength(1);
  expect(receiver.received[0]!.report).toMatchObject({ product: 'operately', values: { users: '11-50', version: '1.4.2' } });
});
