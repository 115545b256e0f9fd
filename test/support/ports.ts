/**
 * Ports on 127.0.0.1 for tests, in plain Node and in the extension host alike: scripts/lib/ports.cjs, the one
 * implementation that the scripts use too. The compiled tests run from out/, so it is required from the repo root.
 */
import * as path from 'node:path';
import { repoRoot } from './paths';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const ports = require(path.join(repoRoot, 'scripts', 'lib', 'ports.cjs')) as typeof import('../../scripts/lib/ports.cjs');

export const { freePort, portFree } = ports;
