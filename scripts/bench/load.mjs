// The load of the throughput section, in its own process: autocannon against one URL on 127.0.0.1.
//   node scripts/bench/load.mjs URL CONNECTIONS SECONDS WARMUP_SECONDS [RECONNECT_EVERY]
// A warm-up run (discarded), then the measured run; prints one JSON line {requests, seconds, rps, errors, ...}.
// RECONNECT_EVERY: each connection reconnects after that many requests. Keep-alive connections opened together
// all land on the worker that wakes first (Uvicorn accepts every pending connection at once), so one worker would
// serve the whole run; reconnecting now and then spreads them over the workers as real clients do. How often sets
// the noise: connections held for 100 requests left the workers unevenly loaded for a good part of a 3 s trial,
// and trials of one server spread ±10 %; for 40 requests, ±3 % (examples/fastapi, 4 workers, 2 cores).
import autocannon from 'autocannon';

const [url, connections, seconds, warmup, reconnectEvery] = process.argv.slice(2);
if (!/^http:\/\/127\.0\.0\.1:\d+\//.test(url ?? '')) {
  console.error('load.mjs: the load only ever targets http://127.0.0.1:PORT/');
  process.exit(2);
}

function run(duration) {
  const reconnectRate = Number(reconnectEvery) > 0 ? Number(reconnectEvery) : undefined;
  return autocannon({ url, connections: Number(connections), duration, pipelining: 1, timeout: 10, reconnectRate });
}

if (Number(warmup) > 0) await run(Number(warmup));
const result = await run(Number(seconds));
const requests = result.requests.total;
process.stdout.write(`${JSON.stringify({
  requests,
  seconds: result.duration,
  rps: requests / result.duration,
  errors: result.errors,
  timeouts: result.timeouts,
  non2xx: result.non2xx,
  latencyP50Ms: result.latency.p50,
  latencyP99Ms: result.latency.p99,
  cpuSeconds: (process.cpuUsage().user + process.cpuUsage().system) / 1e6, // this process's, warm-up included
})}\n`);
