/** `beacon aggregator [--config FILE] [--port N] [--db FILE]` */
import { parseArgs } from 'node:util';
import { consoleLogger } from '../src/server/http.js';
import { loadConfig } from './config.js';
import { createAggregator } from './index.js';

export const USAGE = `usage: beacon aggregator [--config FILE] [--port N] [--db FILE]

  --config FILE   JSON config (default: config/aggregator.json; every field documented in docs/AGGREGATOR.md)
  --port N        listen port (0 picks a free one; default from the config: 8470)
  --db FILE       SQLite file (default: ./data/aggregator.db)

Logs where it listens; SIGINT/SIGTERM stop it cleanly. Public API and dashboard on the same port.`;

export interface RunOptions {
  /** Resolves when the process should stop; default: SIGINT or SIGTERM. */
  stopSignal?: Promise<unknown>;
}

export async function run(argv: string[], opts: RunOptions = {}): Promise<number> {
  const log = consoleLogger('aggregator');
  let args;
  try {
    args = parseArgs({
      args: argv,
      options: { config: { type: 'string' }, port: { type: 'string' }, db: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n${USAGE}\n`);
    return 2;
  }
  if (args.help) {
    process.stdout.write(USAGE + '\n');
    return 0;
  }
  const port = args.port === undefined ? undefined : Number(args.port);
  if (port !== undefined && !(Number.isInteger(port) && port >= 0 && port <= 65535)) {
    process.stderr.write(`--port must be 0-65535\n${USAGE}\n`);
    return 2;
  }
  let agg;
  try {
    const config = loadConfig(args.config, { port, dbPath: args.db });
    agg = createAggregator(config, { log });
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n`);
    return 1;
  }
  const { url } = await agg.listen();
  agg.startSchedules();
  log('info', `aggregator listening on ${url}`, { db: agg.config.dbPath, products: agg.manifests.products() });

  const handlers: Array<[NodeJS.Signals, () => void]> = [];
  const stop = opts.stopSignal ?? new Promise<NodeJS.Signals>((resolve) => {
    for (const sig of ['SIGINT', 'SIGTERM'] as const) {
      const h = () => resolve(sig);
      handlers.push([sig, h]);
      process.once(sig, h);
    }
  });
  const why = await stop;
  for (const [sig, h] of handlers) process.removeListener(sig, h);
  log('info', 'shutting down', { signal: typeof why === 'string' ? why : 'stop' });
  await agg.close();
  log('info', 'stopped');
  return 0;
}
