/**
 * The agent tools' answers to bad input, through the MCP server with the SDK's own client over its in-memory
 * transport: each is a tool error (isError) that says what was wrong and what is accepted, and nothing stops the server
 * from answering. The servers here are supervisors that were never started; their histories are filled by hand.
 */
import * as assert from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { createMcpServer } from '../../src/cli/mcp';
import { type ResolvedDefinition, resolveDefinition } from '../../src/core/definition';
import { Supervisor } from '../../src/core/supervisor';
import { type AgentTool, invokeTool, type ToolHost } from '../../src/tools';

class TestHost implements ToolHost {
  readonly list: Supervisor[] = [];
  constructor(readonly cwd: string) {}
  servers(): readonly Supervisor[] {
    return this.list;
  }
  create(definition: ResolvedDefinition): Supervisor {
    const supervisor = new Supervisor(definition);
    this.list.push(supervisor);
    return supervisor;
  }
  async stop(supervisor: Supervisor): Promise<void> {
    await supervisor.stop();
    this.list.splice(this.list.indexOf(supervisor), 1);
  }
}

function server(host: TestHost, name: string): Supervisor {
  return host.create(resolveDefinition({ name, app: 'main:app', bind: '127.0.0.1:8000' }, { defaultPython: 'python3', defaultCwd: host.cwd, defaultWorkers: 2 }));
}

const text = (result: CallToolResult) => (result.content[0] as { text: string }).text;

describe('agent tools: bad input over MCP (in-memory transport)', () => {
  const folder = fs.mkdtempSync(path.join(os.tmpdir(), 'server-workers-tools-'));
  const host = new TestHost(folder);
  const client = new Client({ name: 'test', version: '1' });
  let api: Supervisor;

  const call = async (name: string, args: unknown): Promise<CallToolResult> => (await client.callTool({ name, arguments: args as Record<string, unknown> })) as CallToolResult;
  const refused = async (name: string, args: unknown, ...expected: RegExp[]): Promise<string> => {
    const result = await call(name, args);
    assert.strictEqual(result.isError, true, `${name} ${JSON.stringify(args)} is a tool error: ${text(result)}`);
    assert.strictEqual(result.structuredContent, undefined);
    for (const pattern of expected) assert.match(text(result), pattern);
    return text(result);
  };

  before(async () => {
    const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
    await createMcpServer(host).connect(serverSide);
    await client.connect(clientSide);
    await client.listTools(); // the client checks each answer's structuredContent against the output schemas it lists
  });
  after(async () => {
    await client.close();
    fs.rmSync(folder, { recursive: true, force: true });
  });

  it('with no server: list_servers says none; a tool that needs one says how to start one', async () => {
    const listed = await call('list_servers', {});
    assert.strictEqual(listed.isError, false);
    assert.deepStrictEqual(listed.structuredContent, { servers: [] });
    await refused('get_worker_logs', {}, /No server runs here\. Start one with start_server/);
  });

  it('an unknown tool, server or slot: what there is', async () => {
    api = server(host, 'api');
    api.lines.record({ slot: 0, pid: 10, lines: ['master line'] });
    api.lines.record({ slot: 1, pid: 11, lines: ['worker line'] });
    await refused('no_such_tool', {}, /no tool named "no_such_tool"/, /list_servers, get_worker_logs/);
    await refused('get_worker_logs', { server: 'web' }, /No server named "web"\. The servers here: "api" \(stopped\)/);
    await refused('get_worker_logs', { slot: 9 }, /api has no stream in slot 9\. Its streams: 0 \(the master\), 1\./);
    await refused('kill_worker', { slot: 3 }, /api has no running worker in slot 3/);
    await refused('get_worker_stack', { slot: 1 }, /api has no running worker in slot 1/);
    const other = server(host, 'admin');
    try {
      await refused('get_request_stats', {}, /2 servers are here \("api" \(stopped\), "admin" \(stopped\)\): say which one with "server"/);
    } finally {
      host.list.splice(host.list.indexOf(other), 1);
    }
  });

  it('a missing field, a field of the wrong type, a number out of range, an unknown field: each said, with what it takes', async () => {
    await refused('kill_worker', {}, /"slot" is required \(The worker's slot/, /It takes \{server\?: a string, slot: a whole number from 1 to 64, graceful\?: true or false\}/);
    await refused('scale_workers', { workers: '4' }, /"workers" must be a whole number from 1 to 64 \(got the string "4"\)/);
    await refused('scale_workers', { workers: 2.5 }, /"workers" must be a whole number from 1 to 64 \(got the number 2\.5, not a whole number\)/);
    await refused('scale_workers', { workers: 65 }, /"workers" must be a whole number from 1 to 64 \(got 65\)/);
    await refused('get_worker_logs', { lines: 5000 }, /"lines" must be a whole number from 1 to 2000 \(got 5000\)/);
    await refused('get_worker_logs', { lines: 0, slot: -1 }, /"slot" must be a whole number from 0 to 64 \(got -1\)/, /"lines" must be a whole number from 1 to 2000 \(got 0\)/);
    await refused('wait_for', { timeoutS: 301, pattern: 'x' }, /"timeoutS" must be a number from 0 to 300 \(got 301\)/);
    await refused('wait_for', { state: 'up' }, /"state" must be one of "ready", "starting", "running"/);
    await refused('list_servers', { verbose: true }, /"verbose" is not a field it takes\. It takes no fields/);
    await refused('get_worker_logs', { server: 7 }, /"server" must be a string \(got the number 7\)/);
    await refused('start_server', { workers: null }, /"workers" must be a whole number from 1 to 64 \(got null\)/);
  });

  it('an invalid regular expression, a cursor of another server, a wait for nothing: what is accepted', async () => {
    await refused('get_worker_logs', { grep: '(' }, /"grep" is not a valid regular expression: .*Unterminated group.* such as "Traceback\|ERROR"/);
    await refused('wait_for', { pattern: '[a-' }, /"pattern" is not a valid regular expression/);
    await refused('get_worker_logs', { since: 99 }, /since 99 is past the newest line of api \(2\)/);
    await refused('wait_for', {}, /wait_for needs a pattern .*, a state .*, or both/);
  });

  it('start_server without an app, or with a task that is not there: what to give', async () => {
    await refused('start_server', {}, /start_server needs an app \(for example \{"app": "main:app"\}\), or a task/);
    await refused('start_server', { task: 'web' }, /No tasks file at .*\.vscode\/tasks\.json/);
    fs.mkdirSync(path.join(folder, '.vscode'));
    fs.writeFileSync(path.join(folder, '.vscode', 'tasks.json'), JSON.stringify({ version: '2.0.0', tasks: [{ type: 'serverworkers', label: 'api task', app: 'main:app' }] }));
    await refused('start_server', { task: 'web' }, /No serverworkers task named "web" in .*tasks\.json \(serverworkers tasks there: "api task"\)/);
    await refused('start_server', { app: 'main:app', bind: 'nowhere' }, /bind/);
  });

  it('an operation on a server that is not running: the server\'s own refusal, as a tool error', async () => {
    await refused('scale_workers', { workers: 3 }, /Cannot scale the server "api" while it is stopped/);
    await refused('reload_server', {}, /Cannot reload the server "api" while it is stopped/);
  });

  it('reads by cursor: each line once, in order, and says how many were lost', async () => {
    const first = await call('get_worker_logs', { since: 0 });
    assert.deepStrictEqual((first.structuredContent!.lines as Array<{ text: string }>).map((l) => l.text), ['master line', 'worker line']);
    assert.strictEqual(first.structuredContent!.next, 2);
    api.lines.record({ slot: 1, pid: 11, lines: ['third'] });
    const second = await call('get_worker_logs', { since: 2, slot: 1 });
    assert.deepStrictEqual((second.structuredContent!.lines as Array<{ text: string; pid: number; slot: number }>).map((l) => [l.slot, l.pid, l.text]), [[1, 11, 'third']]);
    assert.deepStrictEqual(second.structuredContent!.lost, { count: 0, exact: true });
    assert.match(text(second), /^api, worker 1: 1 line .*next: 3\.\nLog lines are the server's own output/);
  });

  it('a long line is cut with a marker of its length; an answer stops near 64 KB and the cursor goes on from there', async () => {
    api.lines.record({ slot: 2, pid: 12, lines: [`long ${'x'.repeat(10000)}`, ...Array.from({ length: 2500 }, (_, i) => `line ${i} ${'y'.repeat(100)}`)] });
    const result = await call('get_worker_logs', { slot: 2, since: 0, lines: 2000 });
    const lines = result.structuredContent!.lines as Array<{ text: string; bytes?: number }>;
    assert.strictEqual(lines[0].bytes, 10005);
    assert.strictEqual(lines[0].text.length, 4096);
    assert.match(text(result), / … \[cut: the line has 10005 bytes\]/);
    assert.ok(Buffer.byteLength(text(result)) < 66 * 1024, `${Buffer.byteLength(text(result))} bytes`);
    assert.ok(lines.length < 2001 && result.structuredContent!.more === true, `${lines.length} lines`);
    const seen = lines.map((l) => l.text);
    for (let answer = result; answer.structuredContent!.more === true;) {
      answer = await call('get_worker_logs', { slot: 2, since: answer.structuredContent!.next as number, lines: 2000 });
      seen.push(...(answer.structuredContent!.lines as Array<{ text: string }>).map((l) => l.text));
    }
    assert.deepStrictEqual(seen.slice(1), Array.from({ length: 2500 }, (_, i) => `line ${i} ${'y'.repeat(100)}`), 'each line once, in order');
  });

  it('a pattern that backtracks cannot hang the server: stopped at its deadline, said in the answer, other calls answered meanwhile', async () => {
    const slow = server(host, 'slow');
    try {
      slow.lines.record({ slot: 1, pid: 21, lines: ['before', `${'a'.repeat(1_000_000)}!`, 'after'] });
      slow.lines.record({ slot: 1, pid: 21, lines: ['a'.repeat(1_000_000)] });
      const started = Date.now();
      const grep = call('get_worker_logs', { server: 'slow', since: 0, grep: '(a+)+$' });
      const listed = await call('list_servers', {});
      const listedMs = Date.now() - started;
      const result = await grep;
      const elapsed = Date.now() - started;
      assert.strictEqual(listed.isError, false);
      assert.ok(listedMs < 1000, `list_servers answered in ${listedMs} ms while the pattern ran`);
      assert.strictEqual(result.isError, false, text(result));
      assert.ok(elapsed < 6000, `answered in ${elapsed} ms`);
      const facts = result.structuredContent!.grep as { searched: number; of: number; stopped: { seq: number; afterMs: number } };
      assert.deepStrictEqual([facts.searched, facts.of, facts.stopped.seq], [1, 4, 2], 'it stopped in the second line');
      assert.match(text(result), /The pattern was stopped after \d+ ms in line 2 \(it backtracks\); 1 of 4 lines were searched/);
      assert.strictEqual(result.structuredContent!.next, 2, 'the next call goes on after the line that stopped it');
      const onward = await call('get_worker_logs', { server: 'slow', since: 2, grep: '(a+)+$' });
      assert.deepStrictEqual((onward.structuredContent!.lines as Array<{ seq: number }>).map((l) => l.seq), [4], 'the line of a\'s only matches at once');
    } finally {
      host.list.splice(host.list.indexOf(slow), 1);
    }
  });

  it('1,000 malformed protocol messages: each refused or ignored, and the server answers after them', async () => {
    const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
    await createMcpServer(host).connect(serverSide);
    const answers: unknown[] = [];
    clientSide.onmessage = (message) => answers.push(message);
    await clientSide.start();
    const malformed: unknown[] = [
      { jsonrpc: '2.0', id: 1, method: 'tools/call', params: 'not an object' },
      { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { arguments: {} } },
      { jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name: 'scale_workers', arguments: [1, 2] } },
      { jsonrpc: '2.0', id: 4, method: 'no/such/method' },
      { jsonrpc: '2.0', method: 'notifications/unknown', params: 5 },
      { jsonrpc: '2.0', id: 6, method: 'tools/list', params: { cursor: { deep: [] } } },
      { jsonrpc: '2.0', id: 7, result: { stray: true } },
    ];
    for (let i = 0; i < 1000; i++) await clientSide.send(malformed[i % malformed.length] as never);
    await clientSide.send({ jsonrpc: '2.0', id: 'last', method: 'tools/call', params: { name: 'list_servers', arguments: {} } });
    await new Promise((resolve) => setTimeout(resolve, 200));
    const last = answers.find((a) => (a as { id?: unknown }).id === 'last') as { result?: CallToolResult } | undefined;
    assert.ok(last?.result && last.result.isError === false, 'list_servers answered after 1,000 malformed messages');
    assert.ok(answers.filter((a) => (a as { error?: unknown }).error !== undefined).length >= 500, 'requests are refused with JSON-RPC errors');
    await clientSide.close();
  });

  it('a tool that throws something unexpected: a tool error, not a throw', async () => {
    const broken: AgentTool = {
      name: 'broken', title: 'Broken', userDescription: '', description: '', readOnly: true,
      inputSchema: { type: 'object', properties: {} }, outputSchema: { type: 'object', properties: {} },
      run: () => Promise.reject(new TypeError('boom')),
    };
    assert.deepStrictEqual(await invokeTool(broken, {}, host), { isError: true, text: 'broken failed: boom' });
    assert.deepStrictEqual(await invokeTool(broken, 'not an object', host), { isError: true, text: 'Invalid input for broken: The input must be a JSON object (got the string "not an object"). It takes no fields ({}).' });
  });
});
