/**
 * When the beacon runs. Expressions are node-cron's (5 or 6 fields, evaluated in UTC);
 * "next run" is computed from the injected clock rather than from node-cron's own
 * timer, so a test that moves the clock makes the schedule fire without waiting hours.
 * node-cron's parser and matcher stay the one definition of what an expression means.
 */
import cron, { type ScheduledTask } from 'node-cron';
import { BeaconError } from '../protocol/errors.js';

const DAY_MS = 86_400_000;
/** A schedule that matches nothing within this many days is treated as never firing. */
const HORIZON_DAYS = 366 * 5;

/** A daily expression at a random UTC hour and minute, so a fleet does not report at once. */
export function randomDailyCron(random: () => number): string {
  const pick = (n: number) => Math.min(n - 1, Math.floor(random() * n));
  return `${pick(60)} ${pick(24)} * * *`;
}

export function assertCron(expression: string): void {
  if (typeof expression !== 'string' || expression.length > 200 || !cron.validate(expression))
    throw new BeaconError('bad_schedule', `schedule "${String(expression).slice(0, 200)}" is not a valid cron expression`);
}

const clockMs = (h: number, m: number, s: number) => ((h * 60 + m) * 60 + s) * 1000;

export class CronSchedule {
  private readonly seconds: number[];
  private readonly minutes: number[];
  private readonly hours: number[];
  private task: ScheduledTask | null = null;

  constructor(readonly expression: string) {
    assertCron(expression);
    const f = cron.parse(expression);
    this.seconds = f.second;
    this.minutes = f.minute;
    this.hours = f.hour;
  }

  // A never-started node-cron task, used only for its matcher (day-of-month, "L", "#n" and all).
  private matcher(): ScheduledTask {
    this.task ??= cron.createTask(this.expression, () => {}, { timezone: 'Etc/UTC', name: 'beacon-schedule-matcher' });
    return this.task;
  }

  /** The first matching instant (whole second, UTC) strictly after `ms`, or null if none is near. */
  nextAfter(ms: number): number | null {
    const from = Math.floor(ms / 1000) * 1000 + 1000;
    const start = new Date(from);
    const dayStart = Date.UTC(start.getUTCFullYear(), start.getUTCMonth(), start.getUTCDate());
    const task = this.matcher();
    for (let d = 0; d < HORIZON_DAYS; d++) {
      const day = dayStart + d * DAY_MS;
      // The time-of-day fields are plain lists, so the day matches iff its first candidate does.
      if (!task.match(new Date(day + clockMs(this.hours[0]!, this.minutes[0]!, this.seconds[0]!)))) continue;
      for (const h of this.hours) {
        if (day + (h + 1) * 3_600_000 <= from) continue;
        for (const m of this.minutes) {
          if (day + clockMs(h, m + 1, 0) <= from) continue;
          for (const s of this.seconds) {
            const t = day + clockMs(h, m, s);
            if (t >= from) return t;
          }
        }
      }
    }
    return null;
  }

  /** Releases node-cron's registry entry for the matcher. */
  close(): void {
    const t = this.task;
    this.task = null;
    if (t) Promise.resolve(t.destroy()).catch(() => {});
  }
}
