/**
 * `npm run bench [-- --quick] [-- --only verify,ingest,crawl,growth]`
 * Prints one table (each Beacon figure beside its same-run reference, PASS/MISS
 * against the targets of issue 8) and writes every figure as JSON to bench/results/.
 * Nothing is asserted: a MISS is information, the exit code is 0 unless the bench broke.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createContext, type BenchContext } from './context.js';
import { RESULTS_DIR } from './lib/paths.js';
import { rowCells, TABLE_HEADER, type Row } from './lib/results.js';
import { table } from './lib/stats.js';
import { runCrawl } from './sections/crawl.js';
import { runGrowth } from './sections/growth.js';
import { runIngest } from './sections/ingest.js';
import { runVerify } from './sections/verify.js';

const SECTIONS: Record<string, (ctx: BenchContext) => Promise<Row[]>> = {
  verify: runVerify,
  ingest: runIngest,
  crawl: runCrawl,
  growth: runGrowth,
};

async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { quick: { type: 'boolean', default: false }, only: { type: 'string' }, out: { type: 'string' } },
    strict: true,
  });
  const quick = values.quick!;
  const only = values.only ? values.only.split(',') : Object.keys(SECTIONS);
  for (const s of only) if (!SECTIONS[s]) throw new Error(`unknown section ${s}; sections: ${Object.keys(SECTIONS).join(', ')}`);
  const started = Date.now();
  const log = (m: string) => process.stderr.write(`[bench ${((Date.now() - started) / 1000).toFixed(0).padStart(3)}s] ${m}\n`);
  const tmp = mkdtempSync(join(tmpdir(), 'beacon-bench-'));
  const ctx = createContext(quick, log, tmp);
  log(`mode ${quick ? 'quick' : 'full'}; sections ${only.join(', ')}`);

  const rows: Row[] = [];
  try {
    for (const name of only) {
      log(`${name} ...`);
      rows.push(...await SECTIONS[name]!(ctx));
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }

  const seconds = (Date.now() - started) / 1000;
  process.stdout.write(`\n${table(TABLE_HEADER, rows.map(rowCells))}\n\n`);
  const result = {
    mode: quick ? 'quick' : 'full',
    started: new Date(started).toISOString(),
    seconds: Math.round(seconds),
    machine: { cpus: availableParallelism(), cpu: cpus()[0]?.model ?? '?', memMB: Math.round(totalmem() / 2 ** 20), node: process.version },
    sections: only,
    rows,
  };
  mkdirSync(RESULTS_DIR, { recursive: true });
  const out = values.out ?? join(RESULTS_DIR, `${result.mode}-${result.started.replace(/[:.]/g, '-')}.json`);
  writeFileSync(out, JSON.stringify(result, null, 2) + '\n');
  log(`done in ${seconds.toFixed(0)} s; figures written to ${out}`);
  return 0;
}

main(process.argv.slice(2)).then((code) => { process.exitCode = code; }, (e) => {
  process.stderr.write(`bench failed: ${(e as Error)?.stack ?? e}\n`);
  process.exitCode = 1;
});
