/** `beacon demo [--installations N] [--port N] [--weeks N] [--seed N]` (also `npm run demo`). */
import { parseArgs } from 'node:util';
import { BeaconError } from '../src/protocol/errors.js';
import type { Logger } from '../src/server/http.js';
import { runDemo, type DemoProgress, type DemoSummary } from './federation.js';
import { PATHS } from './generator.js';

export const USAGE = `usage: beacon demo [--installations N] [--port N] [--weeks N] [--seed N]

Runs a whole Beacon federation on 127.0.0.1: one aggregator (dashboard on --port,
default 8080), two relays and N installations (default 200) of operately, nextcloud,
gitlab and discourse. It replays the last --weeks weeks (default 8), a report per
installation per day, then keeps reporting live until Ctrl-C.
Data goes to ./data/demo/ and is wiped at every start.
`;

export interface RunOptions {
  /** Resolves when the demo should stop; default: SIGINT or SIGTERM. */
  stopSignal?: Promise<unknown>;
  out?: (text: string) => void;
  err?: (text: string) => void;
}

const MB = 1024 * 1024;

function int(name: string, text: string | undefined, min: number, max: number, fallback: number): number {
  if (text === undefined) return fallback;
  const v = /^\d{1,7}$/.test(text) ? Number(text) : NaN;
  if (!(v >= min && v <= max)) throw new BeaconError('bad_arguments', `--${name} must be a whole number from ${min} to ${max}`);
  return v;
}

export function formatProgress(p: DemoProgress): string {
  return `  week ${p.week}/${p.weeks} (to ${p.day}): ${p.reports} reports` +
    `${p.failedRuns ? `, ${p.failedRuns} failed runs` : ''}, ${(p.elapsedMs / 1000).toFixed(1)} s, RSS ${Math.round(p.rssBytes / MB)} MB\n`;
}

export function formatSummary(s: DemoSummary): string {
  const lines = [
    '',
    `Replayed ${s.replay.from} .. ${s.replay.to}: ${s.replay.reports} reports from ${s.installations} installations in ${s.replay.seconds.toFixed(1)} s.`,
    'Installations reporting, by path:',
  ];
  for (const p of PATHS) {
    const b = s.byPath[p];
    lines.push(`  ${p.padEnd(8)} ${String(b.reporting).padStart(4)} of ${b.installations}${b.stopped ? ` (${b.stopped} shut down along the way)` : ''}`);
  }
  const rejected = Object.entries(s.rejected).sort((a, b) => b[1] - a[1]);
  lines.push(`Reports stored by the aggregator: ${s.reportsStored} (raw reports expire after ${s.retentionDays} days; the totals keep their counts)`);
  lines.push(`Rejected by the aggregator: ${rejected.length ? rejected.map(([c, n]) => `${c} ${n}`).join(', ') : 'none'}`);
  lines.push(`Peak RSS: ${Math.round(s.peakRssBytes / MB)} MB`);
  lines.push('', `Dashboard: ${s.url}/`, `API:       ${s.url}/api/v1/products`, '',
    'Now reporting live (each installation every 2 minutes). Ctrl-C to stop.', '');
  return lines.join('\n');
}

export async function run(argv: string[], opts: RunOptions = {}): Promise<number> {
  const out = opts.out ?? ((t: string) => void process.stdout.write(t));
  const err = opts.err ?? ((t: string) => void process.stderr.write(t));
  let values;
  try {
    values = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        installations: { type: 'string' },
        port: { type: 'string' },
        weeks: { type: 'string' },
        seed: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }).values;
  } catch (e) {
    err(`beacon demo: ${(e as Error).message}\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    out(USAGE);
    return 0;
  }
  let installations: number, port: number, weeks: number, seed: number;
  try {
    installations = int('installations', values.installations, 1, 5000, 200);
    port = int('port', values.port, 0, 65535, 8080);
    weeks = int('weeks', values.weeks, 1, 52, 8);
    seed = int('seed', values.seed, 0, 4_294_967_295, 1);
  } catch (e) {
    err(`beacon demo: ${(e as Error).message}\n${USAGE}`);
    return 2;
  }

  // Errors from any component are shown (a few); warnings are expected noise in a demo and only counted.
  let shown = 0;
  const log: Logger = (level, msg, fields) => {
    if (level === 'error' && shown++ < 20) err(`  [error] ${msg}${fields ? ' ' + JSON.stringify(fields) : ''}\n`);
  };

  // Listen for Ctrl-C from the start, so an early one still shuts everything down cleanly.
  const handlers: [NodeJS.Signals, () => void][] = [];
  let stopped = false;
  const stop = opts.stopSignal ?? new Promise<void>((resolve) => {
    for (const sig of ['SIGINT', 'SIGTERM'] as const) {
      const h = () => resolve();
      handlers.push([sig, h]);
      process.once(sig, h);
    }
  });
  const abort = new AbortController();
  void Promise.resolve(stop).then(() => { stopped = true; abort.abort(); });

  const plural = (k: number, word: string) => `${k} ${word}${k === 1 ? '' : 's'}`;
  out(`Beacon demo: ${plural(installations, 'installation')}, ${plural(weeks, 'week')} of history, ` +
    `aggregator on 127.0.0.1:${port === 0 ? '(a free port)' : port}\n` +
    'Starting the aggregator, two relays and the installations (keys, state directories, servers)...\n');
  const t0 = performance.now();
  try {
    const demo = await runDemo({ installations, weeks, port, seed, log, signal: abort.signal, onProgress: (p) => out(formatProgress(p)) });
    try {
      if (!stopped) {
        out(formatSummary(demo.summary()).replace('Replayed', `Ready in ${((performance.now() - t0) / 1000).toFixed(1)} s. Replayed`));
        await demo.startLive();
        await stop;
      }
      out('\nShutting down...\n');
    } finally {
      await demo.close();
    }
    out('Stopped: all servers and databases closed.\n');
    return 0;
  } catch (e) {
    if (e instanceof BeaconError) err(`beacon demo: ${e.code}: ${e.message}\n`);
    else err(`beacon demo: ${(e as Error)?.stack ?? String(e)}\n`);
    return 1;
  } finally {
    for (const [sig, h] of handlers) process.removeListener(sig, h);
  }
}
