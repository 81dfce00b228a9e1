/**
 * `beacon relay [--config FILE] [--port N] [--db FILE] [--aggregator URL ...]`:
 * runs until SIGINT/SIGTERM, then closes the server and the database cleanly.
 */
import { BeaconError } from '../src/protocol/errors.js';
import { consoleLogger, type Logger } from '../src/server/http.js';
import { loadRelayConfig, RELAY_USAGE } from './config.js';
import { createRelay, type RelayDeps } from './server.js';

export interface RunOptions extends RelayDeps {
  /** Resolves when the relay should stop; defaults to the first SIGINT or SIGTERM. */
  until?: Promise<unknown>;
  /** Called with the base URL once listening (tests, the demo). */
  onListening?: (url: string) => void;
}

function untilSignal(): Promise<string> {
  return new Promise((resolve) => {
    const on = (sig: string) => {
      process.off('SIGINT', on);
      process.off('SIGTERM', on);
      resolve(sig);
    };
    process.on('SIGINT', on);
    process.on('SIGTERM', on);
  });
}

export async function run(argv: string[], opts: RunOptions = {}): Promise<number> {
  const log: Logger = opts.log ?? consoleLogger('relay');
  let relay;
  try {
    const { config, help } = loadRelayConfig(argv);
    if (help) {
      process.stdout.write(RELAY_USAGE);
      return 0;
    }
    relay = createRelay(config, { ...opts, log });
  } catch (e) {
    const msg = e instanceof BeaconError ? e.message : String((e as Error)?.message ?? e);
    process.stderr.write(`beacon relay: ${msg}\n`);
    return 2;
  }
  try {
    const url = await relay.listen();
    opts.onListening?.(url);
    await (opts.until ?? untilSignal());
    log('info', 'relay shutting down', {});
    return 0;
  } catch (e) {
    log('error', 'relay failed', { err: String((e as Error)?.message ?? e) });
    return 1;
  } finally {
    await relay.close();
  }
}
