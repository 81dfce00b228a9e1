/** Runs the real compiled `beacon` command as a child process (build first: `npm run build`). */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { PACKAGE_ROOT } from '../../src/manifests.js';

export const BEACON_BIN = join(PACKAGE_ROOT, 'bin', 'beacon.js');
const COMPILED = join(PACKAGE_ROOT, 'dist', 'cli', 'main.js');

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a program to completion (bounded by `timeoutMs`), feeding `input` on stdin. */
export function runProgram(cmd: string, args: string[], input: string | Uint8Array = '', timeoutMs = 20_000): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: PACKAGE_ROOT, stdio: ['pipe', 'pipe', 'pipe'], timeout: timeoutMs });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.on('error', () => {}); // the child may exit before reading stdin
    child.stdin.end(input);
  });
}

/** `beacon ...args`; fails with a clear message if the CLI has not been compiled. */
export function beacon(args: string[], input: string | Uint8Array = ''): Promise<CliResult> {
  if (!existsSync(COMPILED)) throw new Error(`${COMPILED} is missing: run \`npm run build\` before these tests (npm test does)`);
  return runProgram(process.execPath, [BEACON_BIN, ...args], input);
}

/** The error code of a one-line `<code>: <message>` failure on stderr. */
export function errorCode(r: CliResult): string {
  return /^([a-z_]+): /.exec(r.stderr)?.[1] ?? `(no code in stderr: ${r.stderr.slice(0, 200)})`;
}

/** The exact payload bytes `beacon preview` prints: the line after its "Signed payload" heading. */
export function previewPayload(previewText: string): string {
  const lines = previewText.split('\n');
  const i = lines.findIndex((l) => l.startsWith('Signed payload:'));
  if (i < 0 || lines[i + 1] === undefined) throw new Error('preview printed no "Signed payload:" section');
  return lines[i + 1]!;
}
