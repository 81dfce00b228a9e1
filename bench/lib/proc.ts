/** Child processes of the bench: servers under load, the load generator, peak RSS. */
import { fork, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { CannonResult, CannonSpec } from '../children/cannon.js';
import { script } from './paths.js';

export interface Child {
  pid: number;
  port: number;
  /** Everything the child sent with its port. */
  info: Record<string, unknown>;
  /** Peak resident set (VmHWM) so far, in MiB. */
  peakRssMB(): number;
  stop(): Promise<void>;
}

/** /proc/<pid>/status VmHWM (peak RSS), MiB. */
export function vmHWM(pid: number): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

/** Forks dist/bench/<file> with a JSON argument; resolves when it sends {port}. */
export function startChild(file: string, arg: unknown, execArgv: string[] = []): Promise<Child> {
  const child: ChildProcess = fork(script(file), [JSON.stringify(arg)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv });
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`${file} exited early with code ${code}`)));
    child.once('message', (m: { port: number } & Record<string, unknown>) => {
      child.removeAllListeners('exit');
      const pid = child.pid!;
      resolve({
        pid,
        port: m.port,
        info: m,
        peakRssMB: () => vmHWM(pid),
        stop: () => new Promise<void>((done) => {
          if (child.exitCode !== null) return done();
          const kill = setTimeout(() => child.kill('SIGKILL'), 30_000);
          child.once('exit', () => { clearTimeout(kill); done(); });
          child.send('stop');
        }),
      });
    });
  });
}

/** Runs autocannon in its own process; resolves with its summary. */
export function runCannon(spec: CannonSpec): Promise<CannonResult> {
  const child = fork(script('children/cannon.js'), [JSON.stringify(spec)], { stdio: ['ignore', 'pipe', 'inherit', 'ipc'] });
  let out = '';
  child.stdout!.on('data', (c: Buffer) => { out += c.toString(); });
  // A hung run must not hang the bench: autocannon stops itself after durationSec.
  const guard = setTimeout(() => child.kill('SIGKILL'), (spec.durationSec + 60) * 1000);
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => {
      clearTimeout(guard);
      if (code !== 0) return reject(new Error(`autocannon child exited with ${code}`));
      try {
        resolve(JSON.parse(out.trim().split('\n').pop()!) as CannonResult);
      } catch (e) {
        reject(e);
      }
    });
  });
}
