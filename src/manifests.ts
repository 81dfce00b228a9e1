/** Loading product manifests from a directory (`config/products/*.json` by default). */
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BeaconError } from './protocol/errors.js';
import { validateManifest, type Manifest } from './protocol/manifest.js';
import { ManifestRegistry } from './protocol/registry.js';

/** The package root, whether running from source (tsx/vitest) or from dist/. */
export const PACKAGE_ROOT = (() => {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    try {
      readFileSync(join(dir, 'package.json'));
      return dir;
    } catch {
      dir = dirname(dir);
    }
  }
  return process.cwd();
})();

export const SHIPPED_MANIFESTS_DIR = join(PACKAGE_ROOT, 'config', 'products');

/** Reads and validates one manifest file; every problem is listed in the error. */
export function loadManifestFile(path: string): Manifest {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new BeaconError('bad_manifest', `${path}: ${(e as Error).message}`);
  }
  const r = validateManifest(json);
  if (!r.ok) throw new BeaconError('bad_manifest', `${path} is not a valid manifest:\n` + r.problems.map((p) => `  - ${p.path}: ${p.message}`).join('\n'));
  return r.manifest;
}

export function loadManifestDir(dir: string = SHIPPED_MANIFESTS_DIR): ManifestRegistry {
  const files = readdirSync(dir).filter((f) => f.endsWith('.json')).sort();
  return new ManifestRegistry(files.map((f) => loadManifestFile(resolve(dir, f))));
}
