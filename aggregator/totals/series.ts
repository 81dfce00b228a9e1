/** A field's published cells across consecutive windows, cut from the totals documents
 * (so a series never shows a cell that the totals of that period suppress). Pure. */
import type { FieldSpec } from '../../src/protocol/manifest.js';
import type { Series, Totals } from './schema.js';

export function seriesOf(field: string, spec: FieldSpec, docs: Totals[]): Series {
  const first = docs[0]!;
  const last = docs[docs.length - 1]!;
  return {
    product: first.product,
    field,
    kind: spec.kind,
    window: first.window,
    from: first.period,
    to: last.period,
    k: first.k,
    noise: first.noise,
    points: docs.map((t) => {
      const f = t.fields.find((x) => x.name === field);
      return {
        period: t.period,
        from: t.from,
        to: t.to,
        complete: t.complete,
        final: t.final,
        belowThreshold: t.belowThreshold,
        installations: t.installations,
        cells: f?.cells ?? [],
        absent: f ? f.absent : null,
      };
    }),
  };
}
