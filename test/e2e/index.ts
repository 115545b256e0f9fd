// The tests module that VS Code loads into the extension host (extensionTestsPath = out/test/e2e/index).
// Runs every out/test/e2e/**/*.test.js with mocha (bdd: describe/it), 60 s per test, except the sessions' files:
// when SERVER_WORKERS_E2E_SESSION names one (the harness's extra code-server sessions: untrusted, lifetime), only
// out/test/e2e/sessions/<name>.test.js runs. When the env var SERVER_WORKERS_E2E_RESULTS names a file, writes each
// test's result there as JSON for the harness.
import * as fs from 'node:fs';
import * as path from 'node:path';
import Mocha from 'mocha';

export interface E2eTestResult {
  title: string;
  file?: string;
  state: 'passed' | 'failed' | 'pending';
  durationMs?: number;
  error?: string;
}

export interface E2eResults {
  passed: number;
  failed: number;
  pending: number;
  durationMs: number;
  tests: E2eTestResult[];
}

const SESSIONS_DIR = 'sessions';

function findTestFiles(root: string, session: string | undefined): string[] {
  if (session) return [path.join(root, SESSIONS_DIR, `${session}.test.js`)];
  return (fs.readdirSync(root, { recursive: true }) as string[])
    .filter((rel) => rel.endsWith('.test.js') && !rel.startsWith(`${SESSIONS_DIR}${path.sep}`))
    .sort()
    .map((rel) => path.join(root, rel));
}

function describeError(error: unknown): string {
  if (error instanceof Error) return error.stack ?? `${error.name}: ${error.message}`;
  return String(error);
}

export async function run(): Promise<void> {
  const started = Date.now();
  const resultsFile = process.env.SERVER_WORKERS_E2E_RESULTS;
  const mocha = new Mocha({ ui: 'bdd', timeout: 60_000, color: false, reporter: 'spec' });
  const grep = process.env.SERVER_WORKERS_E2E_GREP;
  if (grep) mocha.grep(grep);
  for (const file of findTestFiles(__dirname, process.env.SERVER_WORKERS_E2E_SESSION)) mocha.addFile(file);

  const tests: E2eTestResult[] = [];
  const record = (test: Mocha.Runnable, state: E2eTestResult['state'], error?: unknown) => {
    tests.push({
      title: test.fullTitle(),
      file: test.file ? path.relative(__dirname, test.file) : undefined,
      state,
      durationMs: test.duration,
      error: error === undefined ? undefined : describeError(error),
    });
  };
  const write = () => {
    if (!resultsFile) return;
    const results: E2eResults = {
      passed: tests.filter((t) => t.state === 'passed').length,
      failed: tests.filter((t) => t.state === 'failed').length,
      pending: tests.filter((t) => t.state === 'pending').length,
      durationMs: Date.now() - started,
      tests,
    };
    fs.mkdirSync(path.dirname(resultsFile), { recursive: true });
    fs.writeFileSync(resultsFile, JSON.stringify(results, null, 2) + '\n');
  };

  try {
    await mocha.loadFilesAsync();
  } catch (error) {
    tests.push({ title: 'loading the e2e test files', state: 'failed', error: describeError(error) });
    write();
    throw error;
  }
  const failures = await new Promise<number>((resolve) => {
    const runner = mocha.run((count) => resolve(count));
    runner.on('pass', (test) => record(test, 'passed'));
    runner.on('fail', (test, error) => record(test, 'failed', error)); // tests and hooks ("before all" hook: ...)
    runner.on('pending', (test) => record(test, 'pending'));
  });
  write();
  if (failures > 0) throw new Error(`${failures} e2e test(s) failed`);
}
