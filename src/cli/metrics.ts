/** `run --metrics HOST:PORT`: the server's Prometheus text on /metrics (src/core/metrics/), for as long as it runs. */
import { exposureWarning, MetricsEndpoint, parseMetricsAddress } from '../core/metrics/metricsEndpoint';
import { ServerError, type Supervisor } from '../core/supervisor';
import { type CliOptions, type Emit, info } from './output';

export const METRICS_USAGE = `  --metrics HOST:PORT         serve the workers' figures in the Prometheus text format on
                              http://HOST:PORT/metrics (a port alone: 127.0.0.1:PORT)`;

/** Checks the flag's value before anything starts: an error message, or undefined when it is absent or right. */
export function metricsFlagProblem(value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'string' && parseMetricsAddress(value)) return undefined;
  return `--metrics takes HOST:PORT or PORT, for example --metrics 127.0.0.1:9464 (got ${JSON.stringify(value)}).`;
}

/**
 * Starts the endpoint of `--metrics`, before the server starts (a port in use fails the run before anything runs).
 * Returns the endpoint, undefined without the flag, or the error said already (the run then exits 1).
 */
export async function startMetrics(value: unknown, supervisor: Supervisor, options: CliOptions, emit: Emit): Promise<MetricsEndpoint | undefined | ServerError> {
  if (typeof value !== 'string') return undefined;
  const address = parseMetricsAddress(value)!;
  const warning = exposureWarning(address);
  if (warning && options.json) emit({ event: 'warning', message: warning });
  else if (warning) process.stderr.write(`server-workers: ${warning}\n`);
  try {
    const endpoint = await MetricsEndpoint.listen(address, () => [supervisor.model()], '--metrics HOST:PORT');
    if (options.json) emit({ event: 'metrics', url: endpoint.url });
    else info(options, `metrics at ${endpoint.url}`);
    return endpoint;
  } catch (error) {
    if (!(error instanceof ServerError)) throw error;
    if (options.json) emit({ event: 'error', reason: error.reason, message: error.message, portHolder: error.details.portHolder });
    else process.stderr.write(`server-workers: ${error.message}\n`);
    return error;
  }
}
