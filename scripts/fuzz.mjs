#!/usr/bin/env node
// `npm run test:fuzz -- --runs N [--seed S]`: the property-based tests with N cases per property (npm test runs
// each with its own bounded count and a fixed seed: test/support/fuzz.ts). A failure prints fast-check's seed and
// path, which replay it (`--seed S` and the test's own `path` parameter).
//   unit         out/test/unit/properties.test.js      the line splitter, task definitions, the CLI's variables
//   integration  out/test/integration/agentFuzz.test.js  random frames on a running server's agent socket
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { parseArgs } from 'node:util';

const root = path.resolve(import.meta.dirname, '..');
const { values } = parseArgs({ options: { runs: { type: 'string', default: '10000' }, seed: { type: 'string' } } });
const runs = Number(values.runs);
if (!Number.isInteger(runs) || runs < 1) {
  console.error(`--runs must be a whole number of cases (got ${values.runs})`);
  process.exit(2);
}
const env = { ...process.env, SERVER_WORKERS_FUZZ_RUNS: String(runs), ...(values.seed ? { SERVER_WORKERS_FUZZ_SEED: values.seed } : {}) };
const files = ['out/test/unit/properties.test.js', 'out/test/integration/agentFuzz.test.js'];
console.log(`[fuzz] ${runs} cases per property${values.seed ? `, seed ${values.seed}` : ', the fixed seed'}`);
const result = spawnSync(process.execPath, ['--test', '--test-concurrency=1', '--test-timeout=0', ...files], { cwd: root, env, stdio: 'inherit' });
process.exit(result.status ?? 1);
