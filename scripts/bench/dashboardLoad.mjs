// The dashboard section's load, in its own process (its CPU is not the host's): GET URL at RATE requests per second
// for SECONDS, over a few keep-alive connections. Prints one JSON line {requests, errors}.
//   node scripts/bench/dashboardLoad.mjs URL RATE SECONDS
import * as http from 'node:http';

const [url, rate, seconds] = process.argv.slice(2);
if (!/^http:\/\/127\.0\.0\.1:\d+\//.test(url ?? '')) {
  console.error('dashboardLoad.mjs: the load only ever targets http://127.0.0.1:PORT/');
  process.exit(2);
}
const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
const end = Date.now() + Number(seconds) * 1000;
let requests = 0;
let errors = 0;
const one = () => new Promise((resolve) => {
  http.get(url, { agent }, (response) => {
    response.resume();
    response.on('end', resolve);
  }).on('error', () => {
    errors++;
    resolve();
  });
});
const interval = 1000 / Number(rate);
let next = Date.now();
const pending = new Set();
while (Date.now() < end) {
  const request = one().then(() => pending.delete(request));
  pending.add(request);
  requests++;
  next += interval;
  const wait = next - Date.now();
  if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
}
await Promise.all(pending);
agent.destroy();
process.stdout.write(`${JSON.stringify({ requests, errors })}\n`);
