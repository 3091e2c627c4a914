#!/usr/bin/env node
// The seed's name for `heap-partner-api send` (same flags, parser and runner): a shim over the compiled src/cli/generateTestHeapHeaders.ts.
'use strict';

let cli;
try {
  cli = require('../dist/src/cli/generateTestHeapHeaders');
} catch (error) {
  // dist/ is built by `npm install` (prepare) or `npm run build`; a missing module means neither ran.
  if (error.code !== 'MODULE_NOT_FOUND') throw error;
  console.error(`${error.message.split('\n')[0]}\nrun npm install (or npm run build) first`);
  process.exit(1);
}

cli.main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
