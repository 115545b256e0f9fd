import * as assert from 'node:assert';
import { describe, it } from 'node:test';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { CpuSecondsReader } from '../../src/core/metrics/cpuSeconds';
import { exposureWarning, parseMetricsAddress } from '../../src/core/metrics/metricsEndpoint';
import { readProcStat } from '../../src/core/process/procfs';
import { escapeLabel, prometheusText } from '../../src/core/metrics/prometheusText';
import type { ServerModel, WorkerInsight, WorkerModel } from '../../src/core/model';

function insight(served: number, durations?: WorkerInsight['durations']): WorkerInsight {
  return {
    served, rate: 0, p50Ms: null, p99Ms: null, latencyCount: 0, statuses: { '1xx': 0, '2xx': served - 1, '3xx': 0, '4xx': 1, '5xx': 0 },
    exceptions: 0, inFlight: 2, requests: [], ...(durations ? { durations } : {}),
  };
}

function worker(slot: number, pid: number, fields: Partial<WorkerModel> = {}): WorkerModel {
  return { slot, pid, state: 'ready', startedAt: 0, cpuPercent: 0, rssBytes: 1000 + pid, restarts: 0, debugging: false, generation: 1, ...fields };
}

function server(name: string, workers: WorkerModel[], retiring: WorkerModel[] = []): ServerModel {
  return { id: name, name, kind: 'gunicorn', state: 'running', url: '', desiredWorkers: workers.length, workers, retiring, incoming: [], reload: { onSave: false, generation: 1 } };
}

/** The sample lines of a family (the lines that start with its name). */
function samples(text: string, name: string): string[] {
  return text.split('\n').filter((line) => line.startsWith(name));
}

describe('the Prometheus text', () => {
  it('one series per worker, labelled server, slot and pid; each family once with its HELP and TYPE', () => {
    const durations = { le: [0.01, 0.1], counts: [3, 1, 1], sumSeconds: 0.42 };
    const text = prometheusText([server('api', [worker(1, 11, { insight: insight(5, durations), restarts: 2 }), worker(2, 12, { insight: insight(1) })])], (pid) => pid / 10);
    assert.deepStrictEqual(samples(text, 'server_workers_requests_total{server="api",slot="1"'), [
      'server_workers_requests_total{server="api",slot="1",pid="11",status_class="1xx"} 0',
      'server_workers_requests_total{server="api",slot="1",pid="11",status_class="2xx"} 4',
      'server_workers_requests_total{server="api",slot="1",pid="11",status_class="3xx"} 0',
      'server_workers_requests_total{server="api",slot="1",pid="11",status_class="4xx"} 1',
      'server_workers_requests_total{server="api",slot="1",pid="11",status_class="5xx"} 0',
    ]);
    assert.deepStrictEqual(samples(text, 'server_workers_request_duration_seconds'), [
      'server_workers_request_duration_seconds_bucket{server="api",slot="1",pid="11",le="0.01"} 3',
      'server_workers_request_duration_seconds_bucket{server="api",slot="1",pid="11",le="0.1"} 4',
      'server_workers_request_duration_seconds_bucket{server="api",slot="1",pid="11",le="+Inf"} 5',
      'server_workers_request_duration_seconds_sum{server="api",slot="1",pid="11"} 0.42',
      'server_workers_request_duration_seconds_count{server="api",slot="1",pid="11"} 5',
    ], 'cumulative buckets, +Inf equal to the count');
    assert.deepStrictEqual(samples(text, 'server_workers_worker_cpu_seconds_total'), [
      'server_workers_worker_cpu_seconds_total{server="api",slot="1",pid="11"} 1.1',
      'server_workers_worker_cpu_seconds_total{server="api",slot="2",pid="12"} 1.2',
    ]);
    assert.deepStrictEqual(samples(text, 'server_workers_worker_restarts_total'), [
      'server_workers_worker_restarts_total{server="api",slot="1",pid="11"} 2',
      'server_workers_worker_restarts_total{server="api",slot="2",pid="12"} 0',
    ]);
    assert.deepStrictEqual(samples(text, 'server_workers_requests_in_flight').length, 2);
    assert.deepStrictEqual(samples(text, 'server_workers_workers{'), [
      'server_workers_workers{server="api",state="booting"} 0',
      'server_workers_workers{server="api",state="ready"} 2',
      'server_workers_workers{server="api",state="stopping"} 0',
      'server_workers_workers{server="api",state="exited"} 0',
    ]);
    for (const family of ['requests_total', 'request_duration_seconds', 'requests_in_flight', 'worker_cpu_seconds_total', 'worker_resident_memory_bytes', 'worker_restarts_total', 'workers']) {
      assert.strictEqual(text.split('\n').filter((l) => l.startsWith(`# TYPE server_workers_${family} `)).length, 1, family);
    }
    assert.ok(text.endsWith('\n'));
  });

  it('a replaced worker\'s series ends and its successor\'s begins; a retiring worker keeps its own; an exited row has none', () => {
    const before = prometheusText([server('api', [worker(1, 11, { insight: insight(9) })])], () => 1);
    const after = prometheusText([server('api', [worker(1, 13, { insight: insight(1), restarts: 1 })], [worker(1, 11, { state: 'stopping', insight: insight(10) })])], () => 1);
    const dead = prometheusText([server('api', [worker(1, 11, { state: 'exited', insight: insight(10) })])], () => 1);
    assert.ok(samples(before, 'server_workers_requests_total').every((l) => l.includes('pid="11"')));
    assert.deepStrictEqual(samples(after, 'server_workers_requests_total{server="api",slot="1",pid="13",status_class="2xx"}'), ['server_workers_requests_total{server="api",slot="1",pid="13",status_class="2xx"} 0']);
    assert.deepStrictEqual(samples(after, 'server_workers_requests_total{server="api",slot="1",pid="11",status_class="2xx"}'), ['server_workers_requests_total{server="api",slot="1",pid="11",status_class="2xx"} 9']);
    assert.deepStrictEqual(samples(dead, 'server_workers_requests_total'), []);
    assert.deepStrictEqual(samples(dead, 'server_workers_workers{server="api",state="exited"}'), ['server_workers_workers{server="api",state="exited"} 1']);
  });

  it('a worker without request insight has its process figures only; a pid /proc no longer shows has no CPU line', () => {
    const text = prometheusText([server('api', [worker(1, 11)])], () => undefined);
    assert.deepStrictEqual(samples(text, 'server_workers_requests_total'), []);
    assert.deepStrictEqual(samples(text, 'server_workers_worker_cpu_seconds_total'), []);
    assert.deepStrictEqual(samples(text, 'server_workers_worker_resident_memory_bytes'), ['server_workers_worker_resident_memory_bytes{server="api",slot="1",pid="11"} 1011']);
  });

  it('escapes a server name in a label value', () => {
    assert.strictEqual(escapeLabel('a "b"\\c\nd'), 'a \\"b\\"\\\\c\\nd');
    const text = prometheusText([server('shop "eu"', [worker(1, 11)])], () => 0);
    assert.ok(text.includes('server_workers_workers{server="shop \\"eu\\"",state="ready"} 1'));
  });

  it('the endpoint\'s address: HOST:PORT or a port alone on loopback; another address is warned about', () => {
    assert.deepStrictEqual(parseMetricsAddress('9464'), { host: '127.0.0.1', port: 9464 });
    assert.deepStrictEqual(parseMetricsAddress('[::1]:9464'), { host: '::1', port: 9464 });
    assert.deepStrictEqual(parseMetricsAddress('0.0.0.0:9464'), { host: '0.0.0.0', port: 9464 });
    for (const bad of ['', 'host', ':9464', '127.0.0.1:0', '127.0.0.1:70000', '9464x']) assert.strictEqual(parseMetricsAddress(bad), undefined, bad);
    assert.strictEqual(exposureWarning({ host: '127.0.0.1', port: 9464 }), undefined);
    assert.strictEqual(exposureWarning({ host: 'localhost', port: 9464 }), undefined);
    assert.match(exposureWarning({ host: '0.0.0.0', port: 9464 })!, /other machines on your network can read/);
  });

  it('reads each worker\'s CPU seconds through a descriptor it keeps, and lets go of the pids gone', () => {
    const reader = new CpuSecondsReader();
    const openFds = () => fs.readdirSync('/proc/self/fd').length;
    const before = openFds();
    const first = reader.read(process.pid)!;
    assert.ok(Math.abs(first - readProcStat(process.pid)!.cpuSeconds) < 0.05, `${first} s`);
    for (let spin = Date.now(); Date.now() - spin < 60;) Math.sqrt(spin); // some CPU between two reads
    assert.ok(reader.read(process.pid)! >= first, 'read again through the same descriptor: it counts on');
    assert.strictEqual(openFds(), before + 1, 'one descriptor for the pid');
    const gone = spawnSync('true').pid;
    assert.strictEqual(reader.read(gone), undefined, 'a pid /proc does not show');
    reader.keep(new Set());
    assert.strictEqual(openFds(), before, 'closed once the pid is not scraped');
  });
});

