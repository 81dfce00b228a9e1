/**
 * Beacon's installation library: the public API an app imports.
 * The protocol core (manifests, reports, envelopes, verification) is exported too,
 * so that other tools can build and check reports with the same code.
 */
export * from './protocol/index.js';
export { loadManifestDir, loadManifestFile, SHIPPED_MANIFESTS_DIR } from './manifests.js';
export { loadOrCreateKey, readKeyFile, createKeyFile, keyToPem, keyFromPem, SeqCounter } from './keyfile.js';
export * from './beacon/index.js';
