#!/usr/bin/env node
// The package's CLI (`heap-partner-api <command>`, `npx heap-partner-api`): a shim over the compiled src/cli/main.ts.
'use strict';

let cli;
try {
  cli = require('../dist/src/cli/main');
} catch (error) {
  // dist/ is built by `npm install` (prepare) or `npm run build`; a missing module means neither ran.
  if (error.code !== 'MODULE_NOT_FOUND') throw error;
  console.error(`${error.message.split('\n')[0]}\nrun npm install (or npm run build) first`);
  process.exit(1);
}

cli.main(process.argv.slice(2)).then((code) => {
  // undefined: a server (serve, emulator) now runs until a signal and exits by itself.
  if (code !== undefined) process.exitCode = code;
});
