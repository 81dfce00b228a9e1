#!/usr/bin/env node
// The `beacon` command: a thin launcher for the compiled CLI (built by `npm ci`/`npm run build`).
import('../dist/cli/main.js').then((m) => m.main(process.argv.slice(2))).then(
  (code) => { process.exitCode = code; },
  (err) => { console.error(`beacon: ${err && err.message ? err.message : err}`); process.exitCode = 1; },
);
