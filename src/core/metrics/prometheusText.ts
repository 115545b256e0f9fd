/**
 * The Prometheus text format (version 0.0.4) of servers' workers, one series per worker labelled `server`, `slot` and
 * `pid`: a replaced worker's series ends and its successor's starts, so `rate()` never sees a counter go back. What
 * it says is the model as of the scrape (a scrape during a restart or a scale answers with what is true then), the
 * agents' counts and histograms (request insight), and each worker's CPU time from /proc, read at the scrape.
 */
import { STATUS_CLASSES, type ServerModel, type WorkerModel, type WorkerState } from '../model';
import { readProcStat } from '../process/procfs';

const WORKER_STATES: readonly WorkerState[] = ['booting', 'ready', 'stopping', 'exited'];

/** A metric family: its name, type, help, and lines. */
interface Family {
  name: string;
  type: 'counter' | 'gauge' | 'histogram';
  help: string;
  samples: string[];
}

/** Where a worker's CPU seconds come from (/proc at the scrape; tests and the benchmark may give their own). */
export type CpuSeconds = (pid: number) => number | undefined;

const procCpuSeconds: CpuSeconds = (pid) => readProcStat(pid)?.cpuSeconds;

/** The exposition of `servers`, ready to serve as `text/plain; version=0.0.4`. */
export function prometheusText(servers: readonly ServerModel[], cpuSeconds: CpuSeconds = procCpuSeconds): string {
  const family = (name: string, type: Family['type'], help: string): Family => ({ name: `server_workers_${name}`, type, help, samples: [] });
  const requests = family('requests_total', 'counter', 'Requests a worker served, by the class of the status it answered (request insight).');
  const durations = family('request_duration_seconds', 'histogram', 'How long the requests a worker served took, from the app\'s call to the end of its response (request insight).');
  const inFlight = family('requests_in_flight', 'gauge', 'Requests a worker is serving now (request insight).');
  const cpu = family('worker_cpu_seconds_total', 'counter', 'CPU time (user + system) a worker process used.');
  const memory = family('worker_resident_memory_bytes', 'gauge', 'Resident memory of a worker process.');
  const restarts = family('worker_restarts_total', 'counter', 'How many times the worker of this slot was replaced after dying, as of this worker.');
  const workers = family('workers', 'gauge', 'The server\'s workers, by state.');

  for (const server of servers) {
    const serverLabel = `server="${escapeLabel(server.name)}"`;
    for (const state of WORKER_STATES) {
      workers.samples.push(`${workers.name}{${serverLabel},state="${state}"} ${server.workers.filter((w) => w.state === state).length}`);
    }
    for (const worker of liveWorkers(server)) {
      const labels = `${serverLabel},slot="${worker.slot}",pid="${worker.pid}"`;
      const insight = worker.insight;
      if (insight) {
        for (const c of STATUS_CLASSES) requests.samples.push(`${requests.name}{${labels},status_class="${c}"} ${insight.statuses[c]}`);
        inFlight.samples.push(`${inFlight.name}{${labels}} ${insight.inFlight}`);
        const histogram = insight.durations;
        if (histogram) {
          let cumulative = 0;
          histogram.counts.forEach((count, i) => {
            cumulative += count;
            const le = i < histogram.le.length ? formatNumber(histogram.le[i]) : '+Inf';
            durations.samples.push(`${durations.name}_bucket{${labels},le="${le}"} ${cumulative}`);
          });
          durations.samples.push(`${durations.name}_sum{${labels}} ${formatNumber(histogram.sumSeconds)}`);
          durations.samples.push(`${durations.name}_count{${labels}} ${cumulative}`);
        }
      }
      const seconds = cpuSeconds(worker.pid);
      if (seconds !== undefined) cpu.samples.push(`${cpu.name}{${labels}} ${formatNumber(seconds)}`);
      memory.samples.push(`${memory.name}{${labels}} ${worker.rssBytes}`);
      restarts.samples.push(`${restarts.name}{${labels}} ${worker.restarts}`);
    }
  }
  return [requests, durations, inFlight, cpu, memory, restarts, workers]
    .map((f) => `# HELP ${f.name} ${f.help}\n# TYPE ${f.name} ${f.type}\n${f.samples.map((s) => `${s}\n`).join('')}`)
    .join('');
}

/** The processes a server has now: its workers (not the exited rows), the retiring ones, the incoming ones. */
function liveWorkers(server: ServerModel): WorkerModel[] {
  return [...server.workers.filter((w) => w.state !== 'exited'), ...server.retiring, ...server.incoming];
}

/** A label value: backslash, double quote and newline escaped. */
export function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function formatNumber(value: number): string {
  return Number.isFinite(value) ? String(value) : value > 0 ? '+Inf' : value < 0 ? '-Inf' : 'NaN';
}
