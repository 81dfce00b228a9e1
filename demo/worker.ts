/** Worker thread entry: hosts a share of the demo's installations (see host.ts), driven by messages from federation.ts. */
import { parentPort, workerData } from 'node:worker_threads';
import type { Logger } from '../src/server/http.js';
import { InstallationHost, sharedClock, type HostInit } from './host.js';

export type HostRequest = { id: number; op: 'start' | 'live' | 'close' } | { id: number; op: 'day'; d: number };
export type HostMessage =
  | { type: 'reply'; id: number; ok: true; result: unknown }
  | { type: 'reply'; id: number; ok: false; error: string }
  | { type: 'log'; level: Parameters<Logger>[0]; msg: string; fields?: Record<string, unknown> };

const port = parentPort!;
const { init, clockBuffer } = workerData as { init: HostInit; clockBuffer: SharedArrayBuffer };
const send = (m: HostMessage) => port.postMessage(m);
const log: Logger = (level, msg, fields) => send({ type: 'log', level, msg, ...(fields ? { fields: JSON.parse(JSON.stringify(fields)) as Record<string, unknown> } : {}) });
const host = new InstallationHost(init, sharedClock(clockBuffer).now, log);

port.on('message', (m: HostRequest) => {
  void (async () => {
    try {
      const result = m.op === 'start' ? await host.start() : m.op === 'day' ? await host.runDay(m.d) : m.op === 'live' ? host.startLive() : await host.close();
      send({ type: 'reply', id: m.id, ok: true, result });
      if (m.op === 'close') port.close(); // nothing left to keep the thread alive: it exits
    } catch (e) {
      send({ type: 'reply', id: m.id, ok: false, error: String((e as Error)?.stack ?? e) });
    }
  })();
});
