/**
 * Child process: the server under load, alone in its process so that its CPU, RSS
 * (VmHWM) and event loop are its own. `bare`: koa that parses the JSON body and answers
 * 202, the reference. `aggregator`: the real aggregator (createAggregator) on a SQLite
 * file. Tells the parent its port over IPC; stops on a "stop" message.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import Koa from 'koa';
import { createAggregator } from '../../aggregator/index.js';
import type { AggregatorConfigInput } from '../../aggregator/config.js';

export interface ServerSpec {
  mode: 'bare' | 'aggregator';
  /** aggregator only: config overrides (dbPath at least). */
  config?: AggregatorConfigInput;
}

const spec = JSON.parse(process.argv[2]!) as ServerSpec;

function bare(): { listen: () => Promise<number>; close: () => Promise<void> } {
  const app = new Koa();
  app.use(async (ctx) => {
    const chunks: Buffer[] = [];
    for await (const c of ctx.req) chunks.push(c as Buffer);
    JSON.parse(Buffer.concat(chunks).toString('utf8'));
    ctx.status = 202;
    ctx.body = { accepted: 1, duplicates: 0 };
  });
  const server = http.createServer(app.callback());
  return {
    listen: () => new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port))),
    close: () => new Promise((resolve) => { server.close(() => resolve()); server.closeIdleConnections(); }),
  };
}

async function main(): Promise<void> {
  let close: () => Promise<void>;
  let port: number;
  if (spec.mode === 'bare') {
    const s = bare();
    port = await s.listen();
    close = s.close;
  } else {
    const agg = createAggregator(spec.config ?? {});
    port = (await agg.listen(0, '127.0.0.1')).port;
    close = () => agg.close();
  }
  process.on('message', (m) => {
    if (m === 'stop') void close().then(() => process.exit(0));
  });
  process.send!({ port });
}

main().catch((e) => {
  process.stderr.write(`server child failed: ${(e as Error)?.stack ?? e}\n`);
  process.exit(1);
});
