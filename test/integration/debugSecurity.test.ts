/**
 * Only the server's user can reach a worker's debugger (docs/agent-protocol.md, "Debugging"). A second local user
 * (an unused uid: test/support/otherUser.ts) can neither connect to the debugger of a Gunicorn + UvicornWorker
 * worker (the 0700 folder; and, with the folder opened by the test, the SO_PEERCRED check), nor find a TCP port for
 * it (the worker holds none but the server's own), nor put anything of theirs where the editor connects.
 * Needs root (to run as another uid): run as another user, it is reported as skipped.
 */
import * as assert from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { canSwitchUsers, createOtherUser, folderOthersCanReach, nodeOthersCanRun, type OtherUser } from '../support/otherUser';
import { DapClient, debugSocketOf, sendUntilStopped, threadOf } from './dapClient';
import { appsDir, createServer, eventually, get, linesOf, stopAndCheck, type TestServer } from './support';

const skip = canSwitchUsers ? false : 'needs root, to run as a second uid';

let otherUser: OtherUser | undefined;
/** The Node the second user runs (a copy it can reach, wherever this one lies). */
let otherUserNode: string | undefined;

/** Runs `script` (JavaScript, for this node binary) as the second user; its stdout's JSON. */
function asOtherUser(script: string, ...args: string[]): Record<string, unknown> {
  return JSON.parse(otherUser!.runSync([otherUserNode!, '-e', script, ...args])) as Record<string, unknown>;
}

/** Connects to a Unix socket, sends a DAP initialize request, and reports what came back before the end (5 s). */
const TRY_DEBUGGER = `
const net = require('node:net');
const socket = net.connect(process.argv[1]);
let received = 0;
const report = (outcome) => { console.log(JSON.stringify({ ...outcome, received })); process.exit(0); };
socket.on('connect', () => {
  const body = JSON.stringify({ seq: 1, type: 'request', command: 'initialize', arguments: { adapterID: 'debugpy' } });
  socket.write('Content-Length: ' + Buffer.byteLength(body) + '\\r\\n\\r\\n' + body);
});
socket.on('data', (chunk) => (received += chunk.length));
socket.on('error', (error) => report({ error: error.code }));
socket.on('close', () => report({ closed: true }));
setTimeout(() => report({ timedOut: true }), 5000);
`;

/** Lists a folder and makes a Unix socket in it: what each attempt's error was ('ok' when it worked). */
const TRY_FOLDER = `
const fs = require('node:fs');
const net = require('node:net');
const [folder, name] = process.argv.slice(1);
const outcome = {};
try { fs.readdirSync(folder); outcome.list = 'ok'; } catch (error) { outcome.list = error.code; }
const server = net.createServer();
server.on('error', (error) => { outcome.bind = error.code; console.log(JSON.stringify(outcome)); process.exit(0); });
server.listen(folder + '/' + name, () => { outcome.bind = 'ok'; server.close(); console.log(JSON.stringify(outcome)); });
`;

/** The local port of every TCP socket (any state, IPv4 and IPv6) among the open files of `pid`. */
function tcpPortsOf(pid: number): number[] {
  const inodes = new Set(fs.readdirSync(`/proc/${pid}/fd`).flatMap((fd) => {
    try {
      return [/^socket:\[(\d+)\]$/.exec(fs.readlinkSync(`/proc/${pid}/fd/${fd}`))?.[1] ?? ''];
    } catch {
      return []; // closed meanwhile
    }
  }));
  const ports: number[] = [];
  for (const table of [`/proc/${pid}/net/tcp`, `/proc/${pid}/net/tcp6`]) {
    const rows = fs.existsSync(table) ? fs.readFileSync(table, 'latin1').split('\n').slice(1) : [];
    for (const columns of rows.map((row) => row.trim().split(/\s+/)).filter((c) => c.length >= 10 && inodes.has(c[9]))) {
      ports.push(parseInt(columns[1].split(':').pop() ?? '', 16));
    }
  }
  return ports;
}

function assertNoDebuggerPort(server: TestServer, pid: number, when: string): void {
  const ports = tcpPortsOf(pid);
  assert.ok(ports.includes(server.port), `the check sees the worker's sockets: it holds the server's port ${server.port} (${when})`);
  assert.deepStrictEqual(ports.filter((port) => port !== server.port), [], `worker ${pid} holds no TCP socket but the server's port ${when}`);
}

function lineOf(file: string, text: string): number {
  return fs.readFileSync(file, 'utf8').split('\n').findIndex((line) => line.includes(text)) + 1;
}

describe('a worker\'s debugger is private to the server\'s user (a second local user)', { timeout: 120000 }, () => {
  let server: TestServer | undefined;
  let client: DapClient | undefined;
  let savedTmp: string | undefined;
  let tmp: string | undefined;

  before(() => {
    if (skip) return;
    otherUser = createOtherUser();
    assert.notStrictEqual(otherUser.uid, process.getuid?.());
    // The server's runtime folder where the second user could reach it but for its own 0700 (TMPDIR may be inside
    // a folder closed to others on a CI machine, which would refuse the second user before the worker's check).
    savedTmp = process.env.TMPDIR;
    tmp = folderOthersCanReach('sw-dbg-');
    process.env.TMPDIR = tmp;
    otherUserNode = nodeOthersCanRun(tmp);
  });

  after(async () => {
    if (skip) return;
    client?.close();
    await server?.supervisor.stop();
    otherUser?.remove();
    if (savedTmp === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = savedTmp;
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('gunicorn + UvicornWorker: no TCP port, the folder refuses them, SO_PEERCRED drops them, the session goes on', { skip }, async () => {
    server = await createServer({ app: 'echo_asgi:app', workers: 2 });
    await server.supervisor.start();
    const target = server.supervisor.model().workers.find((w) => w.slot === 1);
    assert.ok(target);
    assertNoDebuggerPort(server, target.pid, 'before the debugger starts');

    const reply = await server.supervisor.requestWorker(1, { t: 'debug' }, 60000);
    assertNoDebuggerPort(server, target.pid, 'once the debugger listens');
    // The reply names a socket in the server's 0700 folder, owned by the server's user (checked by debugSocketOf):
    // no TCP endpoint, no endpoint exchange, nothing that a second user could answer first.
    const socketPath = debugSocketOf(reply, target.pid);
    const folder = path.dirname(socketPath);

    // The second user cannot reach the socket, see the folder, or put a socket of theirs in it.
    assert.deepStrictEqual(asOtherUser(TRY_DEBUGGER, socketPath), { error: 'EACCES', received: 0 }, 'connecting fails: EACCES');
    assert.deepStrictEqual(asOtherUser(TRY_FOLDER, folder, path.basename(socketPath)), { list: 'EACCES', bind: 'EACCES' });
    assert.deepStrictEqual(asOtherUser(TRY_FOLDER, folder, 'dbg-1.sock'), { list: 'EACCES', bind: 'EACCES' });

    // The server's user attaches, and stops at a breakpoint in a handler.
    client = await DapClient.connect(socketPath);
    const file = path.join(appsDir, 'echo_asgi.py');
    const line = lineOf(file, 'query = parse_qs(scope');
    await client.attach({ [file]: [line] });
    const processEvent = await client.waitForEvent('process');
    assert.strictEqual(processEvent.body?.systemProcessId, target.pid, 'the socket leads to the worker itself');
    const port = server.port;
    const { event, sent: requests } = await sendUntilStopped(client, () => get(port, '/pid', 30000).catch((error: Error) => error));
    const threadId = threadOf(event);
    assertNoDebuggerPort(server, target.pid, 'while a session is attached and stopped');

    // With the folder and the socket opened to everyone, the kernel lets the second user connect: the worker checks
    // the peer's uid and closes the connection before reading a byte, and the session is not disturbed.
    fs.chmodSync(folder, 0o777);
    fs.chmodSync(socketPath, 0o777);
    try {
      const refused = asOtherUser(TRY_DEBUGGER, socketPath);
      assert.strictEqual(refused.received, 0, `no DAP answer to the second user: ${JSON.stringify(refused)}`);
      assert.ok(refused.closed === true || refused.error === 'ECONNRESET' || refused.error === 'EPIPE', `the worker closed the connection: ${JSON.stringify(refused)}`);
    } finally {
      fs.chmodSync(folder, 0o700);
      fs.chmodSync(socketPath, 0o600);
    }
    const refusal = `refused a debugger connection from uid ${otherUser!.uid}`;
    await eventually('the worker to say whom it refused', () => linesOf(server!, 1).some((l) => l.includes(refusal)));
    assert.strictEqual((await client.topFrame(threadId)).line, line, 'the session still answers, still stopped at the breakpoint');

    await client.request('setBreakpoints', { source: { path: file }, breakpoints: [] });
    await client.request('continue', { threadId });
    const answers = await Promise.all(requests);
    assert.deepStrictEqual(answers.filter((a) => a instanceof Error), [], 'every request got its answer');
    await client.disconnect();
    assertNoDebuggerPort(server, target.pid, 'after the session');
    await stopAndCheck(server);
    assert.ok(!fs.existsSync(folder), 'the folder and the socket are gone with the server');
  });
});
