/** An answer body that does not end: a hostile peer streaming up to `limit` bytes as fast as the reader takes them. */
import type { ServerResponse } from 'node:http';

export interface Flood {
  /** Bytes written so far. */
  written: number;
  /** True only if all `limit` bytes were taken: the reader never stopped. */
  finished: boolean;
}

export function flood(res: ServerResponse, limit: number, state: Flood, tail = ''): void {
  const chunk = Buffer.alloc(1024 * 1024, 0x61);
  const pump = () => {
    while (state.written < limit) {
      state.written += chunk.length;
      if (!res.write(chunk)) { res.once('drain', pump); return; }
    }
    state.finished = true;
    res.end(tail);
  };
  pump();
}
