/** The metrics tests' scrape: GET /metrics, read by prometheus_client's text parser (test/fixtures/metrics/). */
import { spawnSync } from 'node:child_process';
import * as http from 'node:http';
import * as path from 'node:path';
import { fixturesDir, testPython } from '../support/paths';

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number | '+Inf';
}

export interface Family {
  name: string;
  type: string;
  samples: Sample[];
}

export function fetchText(url: string): Promise<{ status: number; contentType: string; text: string }> {
  return new Promise((resolve, reject) => {
    const request = http.get(url, { agent: false }, (response) => {
      let text = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (text += chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, contentType: String(response.headers['content-type']), text }));
      response.on('error', reject);
    });
    request.setTimeout(10000, () => request.destroy(new Error(`${url} did not answer within 10 s`)));
    request.on('error', reject);
  });
}

/** One scrape, parsed as Prometheus would; fails when the answer is not 200 or the parser rejects the text. */
export async function scrape(url: string): Promise<Family[]> {
  const { status, contentType, text } = await fetchText(url);
  if (status !== 200) throw new Error(`${url} answered ${status}: ${text.slice(0, 300)}`);
  if (!contentType.startsWith('text/plain; version=0.0.4')) throw new Error(`${url}: content-type ${contentType}`);
  const parsed = spawnSync(testPython, [path.join(fixturesDir, 'metrics', 'parse_metrics.py')], { input: text, encoding: 'utf8' });
  if (parsed.status !== 0) throw new Error(`prometheus_client could not parse the scrape: ${parsed.stderr}\n${text.slice(0, 2000)}`);
  return JSON.parse(parsed.stdout) as Family[];
}

/** The samples named `name` (a family's own or its _bucket/_count/_sum). */
export function samplesNamed(families: Family[], name: string): Sample[] {
  return families.flatMap((f) => f.samples).filter((s) => s.name === name);
}

export function sumOf(samples: Sample[]): number {
  return samples.reduce((total, s) => total + (typeof s.value === 'number' ? s.value : NaN), 0);
}
