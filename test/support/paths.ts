import * as path from 'node:path';

/** The repository root, from the compiled location `out/test/support/`. */
export const repoRoot = path.resolve(__dirname, '..', '..', '..');
export const agentDir = path.join(repoRoot, 'python');
export const fixturesDir = path.join(repoRoot, 'test', 'fixtures');
export const fastapiExample = path.join(repoRoot, 'examples', 'fastapi');
export const flaskExample = path.join(repoRoot, 'examples', 'flask');

/**
 * The pinned test virtualenv that `npm run setup` creates (latest gunicorn, uvicorn, uvicorn-worker, ...), or the
 * one SERVER_WORKERS_TEST_PYTHON names: the integration-py39 and integration-py313 phases run the agent's files on
 * the oldest and newest Python the README claims (scripts/lib/pythonRuntimes.mjs).
 */
export const testPython = process.env.SERVER_WORKERS_TEST_PYTHON || path.join(repoRoot, '.venv', 'bin', 'python');
/** A virtualenv with a Uvicorn before 0.30 (no worker respawn, no signals). */
export const oldUvicornPython = path.join(repoRoot, '.venv-uvicorn-0.29', 'bin', 'python');
