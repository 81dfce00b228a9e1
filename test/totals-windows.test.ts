import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { addDays, dayOf } from '../src/protocol/time.js';
import {
  daysOf, isoWeekOf, latestCompleteWindow, nextWindow, parsePeriod, periodOf, previousWindow, weeksInYear, windowOf, windowRange,
  MAX_SERIES_PERIODS,
} from '../aggregator/totals/windows.js';

const dayArb = fc.integer({ min: 0, max: 40_000 }).map((n) => addDays('1971-01-01', n));

describe('windows', () => {
  it('parses and formats the three kinds', () => {
    expect(parsePeriod('day', '2026-12-03')).toEqual({ kind: 'day', period: '2026-12-03', from: '2026-12-03', to: '2026-12-03' });
    expect(parsePeriod('week', '2026-W49')).toEqual({ kind: 'week', period: '2026-W49', from: '2026-11-30', to: '2026-12-06' });
    expect(parsePeriod('month', '2026-02')).toEqual({ kind: 'month', period: '2026-02', from: '2026-02-01', to: '2026-02-28' });
    expect(parsePeriod('month', '2028-02')!.to).toBe('2028-02-29');
    expect(periodOf('week', '2026-12-03')).toBe('2026-W49');
    expect(periodOf('month', '2026-12-03')).toBe('2026-12');
  });

  it('follows ISO-8601 week-year rules at year boundaries, including week 53', () => {
    expect(weeksInYear(2026)).toBe(53); // 2026 starts on a Thursday
    expect(weeksInYear(2025)).toBe(52);
    expect(weeksInYear(2020)).toBe(53); // leap year starting on Wednesday
    expect(periodOf('week', '2027-01-01')).toBe('2026-W53');
    expect(periodOf('week', '2027-01-03')).toBe('2026-W53');
    expect(periodOf('week', '2027-01-04')).toBe('2027-W01');
    expect(periodOf('week', '2024-12-30')).toBe('2025-W01');
    expect(periodOf('week', '2021-01-03')).toBe('2020-W53');
    expect(parsePeriod('week', '2026-W53')).toMatchObject({ from: '2026-12-28', to: '2027-01-03' });
    expect(parsePeriod('week', '2025-W01')).toMatchObject({ from: '2024-12-30', to: '2025-01-05' });
  });

  it('refuses periods that do not exist or are malformed', () => {
    for (const [kind, p] of [
      ['week', '2025-W53'], ['week', '2026-W54'], ['week', '2026-W00'], ['week', '2026-W1'], ['week', '2026-49'],
      ['month', '2026-13'], ['month', '2026-00'], ['month', '2026-1'], ['day', '2026-02-30'], ['day', '2026-W49'],
      ['day', '1969-12-31'], ['month', '2026-12-03'],
    ] as const) expect(parsePeriod(kind, p), `${kind} ${p}`).toBeNull();
  });

  it('every day lies in exactly one window of each kind, and windows tile the calendar', () => {
    fc.assert(fc.property(dayArb, fc.constantFrom('day', 'week', 'month' as const), (day, kind) => {
      const w = windowOf(kind, day);
      expect(w.from <= day && day <= w.to).toBe(true);
      expect(parsePeriod(kind, w.period)).toEqual(w);
      expect(nextWindow(w).from).toBe(addDays(w.to, 1));
      expect(previousWindow(w).to).toBe(addDays(w.from, -1));
      const days = daysOf(w);
      expect(days[0]).toBe(w.from);
      expect(days[days.length - 1]).toBe(w.to);
      if (kind === 'week') {
        expect(days).toHaveLength(7);
        expect(new Date(`${w.from}T00:00:00Z`).getUTCDay()).toBe(1); // Monday
        // The week-year is the year of the week's Thursday.
        expect(isoWeekOf(day).year).toBe(Number(days[3]!.slice(0, 4)));
      }
    }));
  });

  it('the latest complete window has ended by the clock, and the one after it has not', () => {
    fc.assert(fc.property(dayArb, fc.integer({ min: 0, max: 86_399_999 }), fc.constantFrom('day', 'week', 'month' as const), (day, ms, kind) => {
      const now = Date.parse(`${day}T00:00:00Z`) + ms;
      const w = latestCompleteWindow(kind, now);
      expect(w.to < dayOf(now)).toBe(true);
      expect(nextWindow(w).to >= dayOf(now)).toBe(true);
    }));
    expect(latestCompleteWindow('week', Date.parse('2026-12-03T16:00:00Z')).period).toBe('2026-W48');
    expect(latestCompleteWindow('month', Date.parse('2027-01-01T00:00:00Z')).period).toBe('2026-12');
  });

  it('ranges are inclusive, ordered and bounded', () => {
    const r = windowRange(parsePeriod('week', '2026-W52')!, parsePeriod('week', '2027-W02')!);
    expect(Array.isArray(r) && r.map((w) => w.period)).toEqual(['2026-W52', '2026-W53', '2027-W01', '2027-W02']);
    expect(typeof windowRange(parsePeriod('week', '2027-W02')!, parsePeriod('week', '2026-W52')!)).toBe('string');
    expect(typeof windowRange(parsePeriod('day', '2020-01-01')!, parsePeriod('day', '2026-01-01')!)).toBe('string');
    const max = windowRange(parsePeriod('day', '2026-01-01')!, parsePeriod('day', addDays('2026-01-01', MAX_SERIES_PERIODS - 1))!);
    expect(Array.isArray(max) && max.length).toBe(MAX_SERIES_PERIODS);
  });
});
