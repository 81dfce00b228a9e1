/**
 * The figures of one bench run: each row is a Beacon figure beside its reference from
 * the same run. Targets are only compared and printed (PASS/MISS), never asserted.
 */
import { fmt } from './stats.js';

export interface Target {
  /** What is compared: the ratio to the reference, or the value itself. */
  on: 'ratio' | 'value';
  op: '>=' | '<=' | '<';
  limit: number;
  /** Shown in the table, e.g. ">= 60% of bare". */
  label: string;
}

export interface Row {
  section: string;
  name: string;
  value: number | null;
  unit: string;
  reference?: { name: string; value: number | null } | undefined;
  /** value / reference.value */
  ratio?: number | null | undefined;
  target?: Target | undefined;
  status?: 'PASS' | 'MISS' | 'n/a' | undefined;
  /** Extra figures (latencies, sizes, counts) kept in the JSON. */
  detail?: Record<string, unknown> | undefined;
  note?: string | undefined;
}

export function judge(row: Row): Row {
  const ratio = row.reference && row.value !== null && row.reference.value ? row.value / row.reference.value : row.ratio ?? null;
  let status: Row['status'];
  if (row.target) {
    const x = row.target.on === 'ratio' ? ratio : row.value;
    if (x === null || x === undefined || Number.isNaN(x)) status = 'n/a';
    else {
      const { op, limit } = row.target;
      status = (op === '>=' ? x >= limit : op === '<=' ? x <= limit : x < limit) ? 'PASS' : 'MISS';
    }
  }
  return { ...row, ratio, status };
}

export function rowCells(r: Row): string[] {
  return [
    r.section,
    r.name,
    fmt(r.value, r.unit),
    r.reference ? `${fmt(r.reference.value, r.unit)} (${r.reference.name})` : '',
    r.ratio === null || r.ratio === undefined ? '' : `${(r.ratio * 100).toFixed(0)}%`,
    r.target?.label ?? '',
    r.status ?? '',
  ];
}

export const TABLE_HEADER = ['Section', 'Measure', 'Beacon', 'Reference (same run)', 'Ratio', 'Target', 'Status'];
