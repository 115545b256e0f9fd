// The soak's steady load, in its own process: LANES requests in flight at once, each on a new connection (so that
// a killed worker takes only the requests it is serving), PAUSE_MS between a lane's requests. One JSON line per
// answered request `[id, pid]`, per failed one `{"id", "t0", "t1", "error"}`; EOF on stdin ends it after the
// requests in flight, with `{"done": {"sent", "ok", "failed"}}`.
//   node scripts/bench/soakLoad.mjs PORT LANES PAUSE_MS
import * as http from 'node:http';

const [port, lanes, pauseMs] = process.argv.slice(2).map(Number);
let nextId = 0;
let stopping = false;
const counts = { sent: 0, ok: 0, failed: 0 };
process.stdin.on('end', () => (stopping = true));
process.stdin.resume();

function request(id) {
  return new Promise((resolve) => {
    const t0 = Date.now();
    const fail = (error) => {
      counts.failed++;
      process.stdout.write(`${JSON.stringify({ id, t0, t1: Date.now(), error: String(error?.message ?? error) })}\n`);
      resolve();
    };
    const req = http.get({ host: '127.0.0.1', port, path: `/req?id=${id}`, agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => (text += chunk));
      res.on('error', fail);
      res.on('end', () => {
        try {
          const body = JSON.parse(text);
          counts.ok++;
          process.stdout.write(`${JSON.stringify([id, body.pid])}\n`);
          resolve();
        } catch {
          fail(new Error(`status ${res.statusCode}: ${text.slice(0, 100)}`));
        }
      });
    });
    req.setTimeout(30000, () => req.destroy(new Error('timed out')));
    req.on('error', fail);
  });
}

async function lane() {
  while (!stopping) {
    counts.sent++;
    await request(++nextId);
    await new Promise((resolve) => setTimeout(resolve, pauseMs));
  }
}

await Promise.all(Array.from({ length: lanes }, lane));
process.stdout.write(`${JSON.stringify({ done: counts })}\n`);
