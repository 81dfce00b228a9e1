/** The `totals` section of the aggregator config (parsed once with the rest, in ../config.ts). */
import { z } from 'zod';
import { DEFAULT_K } from './suppress.js';

export const TotalsConfigSchema = z.strictObject({
  /** No published cell counts fewer than k installations. */
  k: z.number().int().min(2).max(1000).default(DEFAULT_K),
  /** Laplace noise on published counts (scale 1/epsilon per count); null: off. */
  epsilon: z.number().positive().max(100).nullable().default(null),
  /** The aggregator's Ed25519 signing key (PKCS#8 PEM, mode 0600), created on first start;
   * null: `aggregator-key.pem` beside the database file (an in-memory key for ':memory:'). */
  keyPath: z.string().min(1).max(4096).nullable().default(null),
  /** Cache-Control max-age of API responses, seconds. */
  maxAgeSeconds: z.number().int().min(0).max(86_400).default(300),
});

export type TotalsConfig = z.infer<typeof TotalsConfigSchema>;
export const DEFAULT_TOTALS_CONFIG: TotalsConfig = TotalsConfigSchema.parse({});
