// The load of the throughput section, in its own process: autocannon against one URL on 127.0.0.1.
//   node scripts/bench/load.mjs URL CONNECTIONS SECONDS WARMUP_SECONDS
// A warm-up run (discarded), then the measured run; prints one JSON line {requests, seconds, rps, errors, ...}.
import autocannon from 'autocannon';

const [url, connections, seconds, warmup] = process.argv.slice(2);
if (!/^http:\/\/127\.0\.0\.1:\d+\//.test(url ?? '')) {
  console.error('load.mjs: the load only ever targets http://127.0.0.1:PORT/');
  process.exit(2);
}

function run(duration) {
  return autocannon({ url, connections: Number(connections), duration, pipelining: 1, timeout: 10 });
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
})}\n`);
