/** `node scripts/bench.mjs --smoke`: the benchmark runs end to end with tiny sizes, so that it cannot rot. Speed is never asserted. */
import * as assert from 'node:assert';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { repoRoot } from '../support/paths';

const SECTIONS = ['throughput', 'latency', 'flood', 'reaction', 'sampling', 'extension', 'reload', 'agentTools', 'dashboard'];

/** Pids whose command line mentions `text` (PM2's daemon names its home in its title). */
function processesMentioning(text: string): number[] {
  return fs.readdirSync('/proc').filter((entry) => /^\d+$/.test(entry)).flatMap((entry) => {
    try {
      return fs.readFileSync(`/proc/${entry}/cmdline`, 'latin1').includes(text) ? [Number(entry)] : [];
    } catch {
      return [];
    }
  });
}

function runBench(jsonFile: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(repoRoot, 'scripts', 'bench.mjs'), '--smoke', '--json', jsonFile], { cwd: repoRoot });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('benchmark (smoke)', { timeout: 180000 }, () => {
  it('runs every section, prints the table and writes it as JSON; the flood delivers every line', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-smoke-'));
    const jsonFile = path.join(dir, 'bench.json');
    try {
      const { code, stdout, stderr } = await runBench(jsonFile);
      const output = `${stdout}\n${stderr}`.slice(-4000);
      assert.strictEqual(code, 0, `bench --smoke exited ${code}:\n${output}`);
      assert.match(stdout, /^\| section \| figure \| measured \| target \| \|$/m, 'the table is printed');

      const report = JSON.parse(fs.readFileSync(jsonFile, 'utf8')) as {
        mode: string;
        machine: Record<string, unknown>;
        table: Array<{ section: string; figure: string; value: string }>;
        results: Record<string, Record<string, unknown> & { error?: string }>;
      };
      assert.strictEqual(report.mode, 'smoke');
      assert.ok(report.machine.cores, 'the machine is described');
      for (const section of SECTIONS) {
        assert.ok(report.results[section], `the JSON has the ${section} section`);
        assert.strictEqual(report.results[section].error, undefined, `${section} was measured`);
        const number = section === 'extension' ? '6' : String(SECTIONS.indexOf(section) + 1);
        assert.ok(report.table.some((row) => row.section.startsWith(number)), `the table has rows of section ${section}`);
      }
      for (const row of report.table) assert.ok(stdout.includes(`| ${row.figure} | ${row.value} |`), `printed: ${row.figure}`);

      const flood = report.results.flood as { linesWritten: number; linesDelivered: number; channelLines: number; outOfOrderEvents: number; lastLineReachedSink: boolean };
      assert.ok(flood.linesWritten > 0);
      assert.strictEqual(flood.linesDelivered, flood.linesWritten, 'the flood delivered every line');
      assert.strictEqual(flood.channelLines, flood.linesWritten, 'every line reached the output channels');
      assert.strictEqual(flood.outOfOrderEvents, 0, 'in order, each in its own worker\'s stream');
      assert.strictEqual(flood.lastLineReachedSink, true, 'each worker\'s last line reached the sink');

      const latency = report.results.latency as { linesWritten: number; linesReceived: number };
      assert.strictEqual(latency.linesReceived, latency.linesWritten, 'every timestamped line arrived');
      const throughput = report.results.throughput as { rounds: Array<Record<string, { rps: number }>>; errors: number };
      assert.ok(throughput.rounds.length > 0 && throughput.rounds.every((r) => ['a', 'b', 'bi', 'c', 'd'].every((m) => r[m].rps > 0)), 'a, b, b\' (insight), c and d (PM2) each served');
      const counted = report.results.throughput as { insightRequestsCounted: number; pm2LogBytes: number };
      assert.ok(counted.insightRequestsCounted > 0, 'b\' counted its requests');
      assert.ok(counted.pm2LogBytes > 0, 'PM2 wrote the access lines to its log files');
      assert.deepStrictEqual(processesMentioning('sw-bench-pm2-'), [], 'PM2\'s daemon of the benchmark is gone');
      assert.strictEqual(throughput.errors, 0, 'no request failed');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
