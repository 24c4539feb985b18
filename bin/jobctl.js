#!/usr/bin/env node
// Runs the compiled CLI (`npm run build` writes dist/; `npm pack` and `npm publish` build first). In this repository,
// `npm run jobctl -- <args>` runs the TypeScript sources instead, through tsx.
const path = require('node:path');

const cli = path.join(__dirname, '../dist/cli/jobctl.js');
try {
  require.resolve(cli);
} catch {
  process.stderr.write('durable-jobs is not built: run `npm run build`\n');
  process.exit(1);
}
require(cli);
