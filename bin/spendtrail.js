#!/usr/bin/env node
// Runs the TypeScript sources directly (tsx), so a clone needs no build step.
import v8 from 'node:v8';
import { register } from 'tsx/esm/api';

// The bulk commands stream files of any length. V8 otherwise lets the heap grow to about four
// times what is live before a full collection; a smaller step keeps resident memory near the
// live heap (~50 MB) at the cost of a few percent more collection work.
if (process.argv.slice(2).some((a) => a === 'record' || a === 'import')) v8.setFlagsFromString('--heap-growing-percent=50');

register();
const { main } = await import('../src/interfaces/cli/main.ts');
await main(process.argv);
