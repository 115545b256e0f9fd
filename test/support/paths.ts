import * as path from 'node:path';

/** The repository root, from the compiled location `out/test/support/`. */
export const repoRoot = path.resolve(__dirname, '..', '..', '..');
export const agentDir = path.join(repoRoot, 'python');
export const fixturesDir = path.join(repoRoot, 'test', 'fixtures');
export const fastapiExample = path.join(repoRoot, 'examples', 'fastapi');
export const flaskExample = path.join(repoRoot, 'examples', 'flask');

/** The pinned test virtualenv that `npm run setup` creates (latest gunicorn, uvicorn, uvicorn-worker, ...). */
export const testPython = path.join(repoRoot, '.venv', 'bin', 'python');
/** A virtualenv with a Uvicorn before 0.30 (no worker respawn, no signals). */
export const oldUvicornPython = path.join(repoRoot, '.venv-uvicorn-0.29', 'bin', 'python');
