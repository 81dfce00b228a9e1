/** The `totals` section of the aggregator config (parsed once with the rest, in ../config.ts). */
import { z } from 'zod';
import { DEFAULT_K } from './suppress.js';

/** Which windows are served: see docs/TOTALS.md, "When a window is published, and why". */
export const PUBLISH_MODES = ['final', 'complete', 'live'] as const;
export type PublishMode = (typeof PUBLISH_MODES)[number];

export const TotalsConfigSchema = z.strictObject({
  /** No published cell counts fewer than k installations. */
  k: z.number().int().min(2).max(1000).default(DEFAULT_K),
  /** Laplace noise on published counts (scale 1/epsilon per count); null: off. */
  epsilon: z.number().positive().max(100).nullable().default(null),
  /** The aggregator's Ed25519 signing key (PKCS#8 PEM, mode 0600), created on first start;
   * null: `aggregator-key.pem` beside the database file (an in-memory key for ':memory:'). */
  keyPath: z.string().min(1).max(4096).nullable().default(null),
  /** "final": only windows no report can be accepted for any more (a window still open to
   * late reports can be polled around one installation's delivery, which differencing turns
   * into that installation's labels); "complete": every ended window; "live": also the
   * current one (demos). */
  publish: z.enum(PUBLISH_MODES).default('final'),
  /** Cache-Control max-age of API responses, seconds. */
  maxAgeSeconds: z.number().int().min(0).max(86_400).default(300),
});

export type TotalsConfig = z.infer<typeof TotalsConfigSchema>;
export const DEFAULT_TOTALS_CONFIG: TotalsConfig = TotalsConfigSchema.parse({});
