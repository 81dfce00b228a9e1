/**
 * Child process: a loopback fleet of installations. `ports` HTTP servers, each serving
 * `perPort` installations at /i/<n>/.well-known/beacon, every one with its own key and
 * pre-signed envelope. Sends {port, ports} to the parent; stops on "stop".
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { signedPool } from '../lib/pool.js';

export interface FleetSpec {
  ports: number;
  perPort: number;
  now: number;
}

const spec = JSON.parse(process.argv[2]!) as FleetSpec;

async function main(): Promise<void> {
  const pool = await signedPool(spec.ports * spec.perPort, spec.now, 99);
  const servers: http.Server[] = [];
  const ports: number[] = [];
  for (let p = 0; p < spec.ports; p++) {
    const bodies = pool.slice(p * spec.perPort, (p + 1) * spec.perPort).map((e) => Buffer.from(e));
    const server = http.createServer((req, res) => {
      const m = /^\/i\/(\d+)\/\.well-known\/beacon$/.exec(req.url ?? '');
      const body = m ? bodies[Number(m[1])] : undefined;
      if (!body) {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length }).end(body);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    servers.push(server);
    ports.push((server.address() as AddressInfo).port);
  }
  process.on('message', (m) => {
    if (m !== 'stop') return;
    for (const s of servers) {
      s.close();
      s.closeAllConnections();
    }
    process.exit(0);
  });
  process.send!({ port: ports[0], ports });
}

main().catch((e) => {
  process.stderr.write(`fleet child failed: ${(e as Error)?.stack ?? e}\n`);
  process.exit(1);
});
