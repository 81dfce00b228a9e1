/**
 * A deterministic Laplace noise source: each (cell, true count) gets its noise from
 * HMAC-SHA256(secret, cell | count), so the same question always gets the same noisy
 * answer (no averaging attack by repetition), while a changed count gets fresh noise.
 */
import { createHmac } from 'node:crypto';
import { laplaceFromUniform, type NoiseOptions } from './suppress.js';

export function hmacNoise(secret: Uint8Array, epsilon: number): NoiseOptions {
  if (!(epsilon > 0) || !Number.isFinite(epsilon)) throw new RangeError('epsilon must be a positive number');
  return {
    epsilon,
    sample: (cell, count) => {
      const h = createHmac('sha256', secret).update(`beacon-noise\0${cell}\0${count}`).digest();
      // 48 random bits -> u in (0, 1).
      const u = (h.readUIntBE(0, 6) + 0.5) / 2 ** 48;
      return laplaceFromUniform(u, 1 / epsilon);
    },
  };
}
