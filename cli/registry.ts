/** The manifests a CLI command uses: `--manifests DIR`, or the ones shipped with Beacon. */
import { existsSync, statSync } from 'node:fs';
import { loadManifestDir, SHIPPED_MANIFESTS_DIR } from '../src/manifests.js';
import { BeaconError } from '../src/protocol/errors.js';
import type { ManifestRegistry } from '../src/protocol/registry.js';

export function loadRegistry(dir: string | undefined): { registry: ManifestRegistry; dir: string } {
  const from = dir ?? SHIPPED_MANIFESTS_DIR;
  if (!existsSync(from) || !statSync(from).isDirectory()) throw new BeaconError('bad_manifest', `manifest directory ${from} does not exist`);
  return { registry: loadManifestDir(from), dir: from };
}
