/**
 * The state directory of an enabled beacon:
 *   key.pem         the installation's Ed25519 key (PKCS#8, mode 0600)
 *   seq             the durable sequence counter
 *   schedule.json   the randomly chosen default schedule, and when it last fired
 *   current.json    the last envelope, byte for byte as served, so a restart serves it at once
 *   deliveries.json the last delivery outcome per target, for the admin
 *   outbox/         undelivered envelopes (see outbox.ts)
 * Nothing here holds an exact value: only labels inside signed envelopes.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { loadOrCreateKey, SeqCounter, writeFileDurable } from '../keyfile.js';
import { fromBase64, toBase64Url } from '../protocol/base64.js';
import { EnvelopeSchema, MAX_ENVELOPE_BYTES, type Envelope, type KeyPair } from '../protocol/envelope.js';
import { ReportSchema, type Report } from '../protocol/report.js';
import type { Served } from './wellknown.js';
import { etagOf } from './wellknown.js';

const ScheduleFile = z.strictObject({
  cron: z.string().max(200).optional(),
  lastRun: z.number().int().min(0).optional(),
});
export type ScheduleState = z.infer<typeof ScheduleFile>;

export const DeliverySchema = z.strictObject({
  outcome: z.enum(['delivered', 'dropped', 'retrying']),
  at: z.number().int().min(0),
  period: z.string().max(10),
  seq: z.number().int().min(1),
  status: z.number().int().min(100).max(599).optional(),
  error: z.string().max(200).optional(),
  attempts: z.number().int().min(0).optional(),
});
export type Delivery = z.infer<typeof DeliverySchema>;
const DeliveriesFile = z.record(z.string().max(2000), DeliverySchema);

export interface Current extends Served {
  envelope: Envelope;
  report: Report;
}

export class StateDir {
  readonly keys: KeyPair;
  readonly publicKey: string;
  readonly seq: SeqCounter;

  constructor(readonly dir: string) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    this.keys = loadOrCreateKey(join(dir, 'key.pem'));
    this.publicKey = toBase64Url(this.keys.publicKey);
    this.seq = new SeqCounter(join(dir, 'seq'));
  }

  get outboxDir(): string {
    return join(this.dir, 'outbox');
  }

  readSchedule(): ScheduleState {
    return readJson(join(this.dir, 'schedule.json'), ScheduleFile) ?? {};
  }

  writeSchedule(s: ScheduleState): void {
    writeFileDurable(join(this.dir, 'schedule.json'), JSON.stringify(s) + '\n');
  }

  readDeliveries(): Record<string, Delivery> {
    return readJson(join(this.dir, 'deliveries.json'), DeliveriesFile) ?? {};
  }

  writeDeliveries(d: Record<string, Delivery>): void {
    writeFileDurable(join(this.dir, 'deliveries.json'), JSON.stringify(d) + '\n');
  }

  /** The stored envelope, if it is readable and signed by this installation's key. */
  readCurrent(): Current | null {
    const path = join(this.dir, 'current.json');
    if (!existsSync(path)) return null;
    try {
      const bytes = readFileSync(path);
      if (bytes.length > MAX_ENVELOPE_BYTES) return null;
      const c = currentFrom(bytes);
      return c && c.report.key === this.publicKey ? c : null;
    } catch {
      return null;
    }
  }

  writeCurrent(json: string): void {
    writeFileDurable(join(this.dir, 'current.json'), json);
  }
}

/** Parses served bytes back into the envelope and its report (only our own bytes come here). */
export function currentFrom(bytes: Buffer): Current | null {
  const env = EnvelopeSchema.safeParse(JSON.parse(bytes.toString('utf8')));
  if (!env.success) return null;
  const payload = fromBase64(env.data.payload);
  if (!payload) return null;
  const report = ReportSchema.safeParse(JSON.parse(Buffer.from(payload).toString('utf8')));
  if (!report.success) return null;
  return { envelope: env.data, report: report.data, bytes, etag: etagOf(bytes) };
}

function readJson<T>(path: string, schema: z.ZodType<T>): T | null {
  if (!existsSync(path)) return null;
  try {
    const r = schema.safeParse(JSON.parse(readFileSync(path, 'utf8')));
    return r.success ? r.data : null;
  } catch {
    return null;
  }
}
