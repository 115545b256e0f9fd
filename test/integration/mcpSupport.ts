/** `server-workers mcp` (dist/cli.js) in tests: the SDK's own client over stdio, its calls, the processes it runs. */
import * as assert from 'node:assert';
import { after } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { type CallToolResult, LoggingMessageNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { childrenOf, commandLine, isAlive } from '../../src/core/process/procfs';
import { cli } from './cliSupport';

export type Data = Record<string, unknown>;
export interface WorkerData {
  slot: number;
  pid: number;
  state: string;
  restarts: number;
  lastExit: string | null;
}
export interface LineData {
  seq: number;
  slot: number;
  pid: number;
  text: string;
}

export interface McpRun {
  client: Client;
  /** What the MCP server wrote on stderr. */
  stderr: string[];
  /** The logging notifications it sent (the servers' events). */
  events: Data[];
  call(name: string, args?: Data): Promise<CallToolResult>;
  /** Calls a tool that must answer without error; returns its structured content. */
  ok(name: string, args?: Data): Promise<Data>;
  /** Closes the client: stdin closes, and the SDK waits up to 2 s for the process to exit (then SIGTERM). */
  close(): Promise<void>;
  pid: number;
}

const running = new Set<McpRun>();
after(async () => {
  await Promise.allSettled([...running].map((run) => run.close()));
});

export const textOf = (result: CallToolResult) => (result.content[0] as { text: string }).text;

export async function startMcp(cwd: string): Promise<McpRun> {
  const transport = new StdioClientTransport({ command: process.execPath, args: [cli, 'mcp'], cwd, stderr: 'pipe' });
  const stderr: string[] = [];
  transport.stderr?.on('data', (chunk: Buffer) => stderr.push(...chunk.toString().split('\n').filter(Boolean)));
  const client = new Client({ name: 'integration-test', version: '1' });
  const events: Data[] = [];
  client.setNotificationHandler(LoggingMessageNotificationSchema, (notification) => {
    events.push(notification.params.data as Data);
  });
  await client.connect(transport);
  await client.listTools(); // the client then checks every answer's structuredContent against the tool's output schema
  const call = async (name: string, args: Data = {}) => (await client.callTool({ name, arguments: args }, undefined, { timeout: 180000 })) as CallToolResult;
  const run: McpRun = {
    client,
    stderr,
    events,
    call,
    pid: transport.pid!,
    async ok(name, args = {}) {
      const result = await call(name, args);
      assert.strictEqual(result.isError ?? false, false, `${name} ${JSON.stringify(args)} answered an error: ${textOf(result)}\nstderr: ${stderr.join('\n')}`);
      return result.structuredContent as Data;
    },
    async close() {
      running.delete(run);
      await client.close();
    },
  };
  running.add(run);
  return run;
}

/** The servers' every process as list_servers gives them: each master and its workers. */
export async function serverPids(mcp: McpRun): Promise<number[]> {
  const { servers } = (await mcp.ok('list_servers')) as { servers: Array<{ masterPid: number | null; workers: WorkerData[] }> };
  return servers.flatMap((s) => [...(s.masterPid ? [s.masterPid] : []), ...s.workers.filter((w) => w.state !== 'exited').map((w) => w.pid)]);
}

/** list_servers' workers of a server are exactly the live children of its master in /proc, all ready. */
export async function assertWorkersMatchProc(mcp: McpRun, server: string, count: number): Promise<WorkerData[]> {
  const { servers } = (await mcp.ok('list_servers')) as { servers: Array<{ name: string; masterPid: number; workers: WorkerData[] }> };
  const found = servers.find((s) => s.name === server)!;
  const pids = found.workers.map((w) => w.pid).sort();
  const children = childrenOf(found.masterPid).filter((pid) => isAlive(pid) && !commandLine(pid).includes('resource_tracker')).sort();
  assert.deepStrictEqual(pids, children, `list_servers' workers ${pids} are the master's children ${children}`);
  assert.deepStrictEqual(found.workers.map((w) => w.state), Array(count).fill('ready'), `${count} workers, every one ready`);
  return found.workers;
}

/** Polls get_worker_logs with its cursor until `done` holds for the lines seen; returns every line, in order. */
export async function pollLines(mcp: McpRun, args: Data, from: number, done: (lines: LineData[]) => boolean, timeoutMs = 60000): Promise<LineData[]> {
  const seen: LineData[] = [];
  const deadline = Date.now() + timeoutMs;
  let since = from;
  while (!done(seen)) {
    if (Date.now() > deadline) throw new Error(`timed out polling get_worker_logs: ${seen.length} lines so far`);
    const answer = await mcp.ok('get_worker_logs', { ...args, since, lines: 2000 });
    assert.deepStrictEqual(answer.lost, { count: 0, exact: true }, 'no line was dropped after the cursor');
    seen.push(...(answer.lines as LineData[]));
    since = answer.next as number;
    if (answer.more !== true) await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return seen;
}
