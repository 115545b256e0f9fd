// The benchmark's table: one row per figure, with its target and whether it is met. Markdown, so that
// docs/performance.md can quote a run as it printed.
import { round } from './lib.mjs';

const fmt = (value, digits = 1) => (typeof value === 'number' && Number.isFinite(value) ? round(value, digits).toLocaleString('en-US') : String(value));
const spread = (s, digits = 1, unit = '') => `${fmt(s.median, digits)}${unit} [${fmt(s.min, digits)}–${fmt(s.max, digits)}]`;
const kb = (bytes) => `${fmt(bytes / 1024, 1)} KB`;

/** Rows: { section, figure, value, target, ok } (ok: true, false, or null when there is no target). */
export function rows(results) {
  const out = [];
  const add = (section, figure, value, target = '', ok = null) => out.push({ section, figure, value, target, ok });
  const failed = (section, name) => {
    const r = results[name];
    if (r?.error) {
      add(section, 'not measured', r.error.split('\n')[0].slice(0, 160), '', false);
      return true;
    }
    return !r;
  };

  if (!failed('1 throughput', 'throughput')) {
    const t = results.throughput;
    const modes = ['a', 'b', 'bi', 'c', 'd'];
    const each = (values, digits) => modes.map((m) => fmt(values[m].median, digits)).join(' · ');
    const n = t.rounds.length;
    // The verdicts: CPU per request, round by round (a throughput target x is a CPU target 1/x: on 2 saturated cores
    // every µs of CPU a request costs more is a share of the requests/s).
    add('1 throughput', `CPU per request b/a (server + supervising process, over the server alone), median [min–max] of ${n} rounds`, spread(t.cpuRatioBA, 3), '≤ 1.031 (b/a ≥ 0.97)', t.cpuRatioBA.median <= 1 / 0.97);
    add('1 throughput', `CPU per request b'/a (request insight on), median [min–max] of ${n} rounds`, spread(t.cpuRatioBiA, 3), '≤ 1.020 (b\'/a ≥ 0.98)', t.cpuRatioBiA.median <= 1 / 0.98);
    add('1 throughput', `CPU per request b/c (the core against a terminal's pipe reader), median [min–max] of ${n} rounds`, spread(t.cpuRatioBC, 3), '≤ 1.0 (b/c ≥ 1.0)', t.cpuRatioBC.median <= 1);
    add('1 throughput', `CPU per request d/a (PM2), median [min–max] of ${n} rounds`, spread(t.cpuRatioDA, 3));
    add('1 throughput', 'supervising process CPU per request (over the harness\'s): b supervisor', `${fmt(t.supervisorCpuUsPerRequest.b.median, 1)} µs [${fmt(t.supervisorCpuUsPerRequest.b.min, 1)}–${fmt(t.supervisorCpuUsPerRequest.b.max, 1)}]`, '≤ 5 µs', t.supervisorCpuUsPerRequest.b.median <= 5);
    add('1 throughput', 'supervising process CPU per request: b\' supervisor · c pipe reader · d PM2 daemon', `${fmt(t.supervisorCpuUsPerRequest.bi.median, 1)} · ${fmt(t.supervisorCpuUsPerRequest.c.median, 1)} · ${fmt(t.pm2DaemonCpuUsPerRequest.median, 1)} µs`);
    add('1 throughput', 'workers\' CPU per request: b insight off · b\' on (b\'/b, median of rounds)', `${fmt(t.serverCpuUsPerRequest.b.median, 0)} · ${fmt(t.serverCpuUsPerRequest.bi.median, 0)} µs (${fmt((t.insightCpuRatio.median - 1) * 100, 2)} %)`, '< 2 % more', t.insightCpuRatio.median < 1.02);
    add('1 throughput', 'server CPU per request: a · b · b\' · c · d', `${each(t.serverCpuUsPerRequest, 0)} µs`);
    add('1 throughput', 'failed requests', fmt(t.errors, 0), '0', t.errors === 0);
    // Context: requests/s, which the targets were first written in.
    add('1 throughput', `req/s a direct · b core · b' core + insight · c pipe · d PM2 (median of ${n})`, each(t.rps, 0));
    const of = (r) => (r.usedQuietOnly ? `${r.n} quiet rounds of ${n} (all: ${spread(r.all, 3)})` : `all ${r.n} rounds (${r.quietRounds} quiet)`);
    for (const [name, label] of [['ratioBA', 'b/a'], ['ratioBiA', 'b\'/a'], ['ratioBC', 'b/c'], ['ratioDA', 'd/a']]) {
      add('1 throughput', `req/s ${label} (context), median [min–max] of ${of(t[name])}`, spread(t[name], 3));
    }
  }
  if (!failed('2 log latency', 'latency')) {
    const l = results.latency;
    add('2 log latency', `worker write → output sink, p50 · p99 · max (${fmt(l.linesReceived, 0)} lines)`, `${fmt(l.p50Ms, 1)} · ${fmt(l.p99Ms, 1)} · ${fmt(l.maxMs, 1)} ms`, 'p99 < 35 ms', l.p99Ms < 35 && l.linesReceived === l.linesWritten);
  }
  if (!failed('3 log flood', 'flood')) {
    const f = results.flood;
    add('3 log flood', 'lines delivered / written', `${fmt(f.linesDelivered, 0)} / ${fmt(f.linesWritten, 0)}`, 'equal, in order', f.linesDelivered === f.linesWritten && f.channelLines === f.linesWritten && f.outOfOrderEvents === 0 && f.lastLineReachedSink);
    add('3 log flood', 'time to the output sink', `${fmt(f.seconds, 2)} s (${fmt(f.linesPerSecond / 1000, 0)}k lines/s)`);
    const m = f.memoryMB;
    add('3 log flood', 'supervising process RSS before → peak → after', `${fmt(m.rssBefore, 0)} → ${fmt(m.rssPeak, 0)} → ${fmt(m.rssAfter, 0)} MB (growth: peak +${fmt(m.growthPeak, 0)}, after +${fmt(m.growthAfter, 0)})`, 'growth < 64 MB', m.growthPeak < 64);
  }
  if (!failed('4 reaction', 'reaction')) {
    const r = results.reaction;
    add('4 reaction', `hello → model event, median [min–max] of ${r.helloToModelMs.n}`, spread(r.helloToModelMs, 2, ' ms'), '< 20 ms', r.helloToModelMs.max < 20);
    add('4 reaction', `SIGKILL → exit event, median [min–max] of ${r.sigkillToExitEventMs.n}`, spread(r.sigkillToExitEventMs, 1, ' ms'));
    add('4 reaction', 'SIGKILL → respawn event (new pid in the slot)', spread(r.sigkillToRespawnEventMs, 1, ' ms'));
    add('4 reaction', 'SIGKILL → replacement ready', spread(r.sigkillToReadyEventMs, 1, ' ms'));
  }
  if (!failed('5 sampling', 'sampling')) {
    const s = results.sampling;
    add('5 sampling', `stats sampler CPU, ${s.processes - 1} workers, 1 sample/s`, `${fmt(s.samplerPercentOfCore, 3)} % of a core (${fmt(s.cpuUsPerCall.median / 1000, 2)} ms CPU per sample)`, '< 0.25 %', s.samplerPercentOfCore < 0.25);
    add('5 sampling', 'whole supervising process CPU while idle (models published per second)', `${fmt(s.processPercentOfCore, 3)} % of a core (${fmt(s.modelChangesPerSecond, 1)})`, '< 0.3 %', s.processPercentOfCore < 0.3);
  }
  if (!failed('6 extension', 'extension')) {
    const e = results.extension;
    add('6 extension', 'dist/extension.js: what activation loads (minified, names kept · gzip)', `${kb(e.bundleBytes)} (${kb(e.bundleGzipBytes)} gzip)`, '< 120 KB', e.bundleBytes < 120 * 1024);
    add('6 extension', 'loaded on first use (dist/lazy/, files) · the whole extension as one minified file', `${kb(e.lazyBytes)} (${fmt(e.lazyFiles, 0)}) · ${kb(e.minifiedBytes)}`);
    if (e.vscode?.skipped) {
      add('6 extension', 'activation in VS Code', `not measured: ${e.vscode.skipped}`, '< 15 ms', null);
    } else if (e.vscode) {
      const v = e.vscode;
      add('6 extension', `activation in VS Code (load + activate), median [min–max] of ${v.activationMs.n}`, spread(v.activationMs, 0, ' ms'), '< 15 ms', v.activationMs.median < 15);
      add('6 extension', 'VS Code until activated, ours · empty extension', `${fmt(v.untilActivatedMs.median, 0)} · ${fmt(v.emptyExtension.untilActivatedMs.median, 0)} ms`);
    }
    const node = e.nodeApproximation;
    add('6 extension', `activation in plain Node: load, median [min–max] of ${node.loadMs.n} (+ activate ${fmt(node.activateMs.median, 1)} ms)`, `${spread(node.loadMs, 1, ' ms')} (CPU ${fmt(node.loadCpuMs.median, 1)} ms)`, 'load < 8 ms', node.loadMs.median < 8);
    if (e.idleHost) {
      const { current, baseline, workers } = e.idleHost;
      const figure = (f) => `${fmt(f.steady.median, 2)} % of a core [${fmt(f.steady.min, 2)}–${fmt(f.steady.max, 2)}] (${fmt(f.treeItemsPerSecond, 0)} tree items rendered/s)`;
      add('6 extension', `extension host CPU, ${workers} idle workers past their first minute, median [min–max] of ${current.steady.n} windows`, figure(current), '< 0.3 %', current.steady.median < 0.3);
      add('6 extension', 'the same in the workers\' first minute (uptime in seconds: every row each second)', `${fmt(current.firstMinute.percentOfCore, 2)} % of a core (${fmt(current.firstMinute.treeItemsPerSecond, 0)} tree items rendered/s)`);
      if (baseline) add('6 extension', 'the same, baseline bundle · ratio current/baseline', `${figure(baseline)} · ${fmt(current.steady.median / baseline.steady.median, 2)}`);
    }
  }
  if (!failed('7 reload', 'reload')) {
    const r = results.reload;
    for (const k of r.kinds) {
      add('7 reload', `${k.kind}, ${r.setup.workers} workers (${k.method}): save → every worker serving the new code, median · max of ${k.toAllNewMs.n}`, `${fmt(k.toAllNewMs.median / 1000, 2)} · ${fmt(k.toAllNewMs.max / 1000, 2)} s`, 'median < 1.5 s', k.toAllNewMs.median < 1500);
      add('7 reload', `${k.kind}: save → first new answer · save → old workers gone (medians)`, `${fmt(k.toFirstNewAnswerMs.median / 1000, 2)} · ${fmt(k.toReloadedMs.median / 1000, 2)} s`);
      add('7 reload', `${k.kind}: requests failed during ${r.setup.saves} reloads under load`, `${fmt(k.failedRequests, 0)} of ${fmt(k.requests, 0)}${k.failedReloads.length ? ` (${k.failedReloads.length} reloads failed: ${k.failedReloads[0].message})` : ''}`, '0', k.failedRequests === 0);
    }
    const u = r.uvicornReload;
    if (u) add('7 reload', `uvicorn --reload (1 worker), beside: save → the new code, median · max of ${u.toNewAnswerMs.n}`, `${fmt(u.toNewAnswerMs.median / 1000, 2)} · ${fmt(u.toNewAnswerMs.max / 1000, 2)} s`);
    if (u) add('7 reload', 'uvicorn --reload: requests failed during its reloads', `${fmt(u.failedRequests, 0)} of ${fmt(u.requests, 0)}`);
  }
  return out;
}

export function table(tableRows) {
  const lines = ['| section | figure | measured | target | |', '| --- | --- | --- | --- | --- |'];
  for (const r of tableRows) {
    const mark = r.ok === true ? 'met' : r.ok === false ? '**MISSED**' : '';
    lines.push(`| ${r.section} | ${r.figure} | ${r.value} | ${r.target} | ${mark} |`);
  }
  return lines.join('\n');
}
