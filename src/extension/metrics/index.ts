/**
 * The setting serverWorkers.metricsEndpoint: while it names an address, the window's servers' figures are served there
 * in the Prometheus text format (src/core/metrics/). Registered at activation; the listener's code loads only when the
 * setting is set.
 */
import * as vscode from 'vscode';
import type { MetricsEndpoint } from '../../core/metrics/metricsEndpoint';
import type { ServerRegistry } from '../serverRegistry';

const SETTING = 'serverWorkers.metricsEndpoint';

export function registerMetricsEndpoint(registry: ServerRegistry): vscode.Disposable {
  let endpoint: MetricsEndpoint | undefined;
  let applied = '';
  let queue = Promise.resolve();
  const apply = () => {
    queue = queue.then(async () => {
      const wanted = vscode.workspace.getConfiguration().get<string>(SETTING, '').trim();
      if (wanted === applied && (endpoint !== undefined || wanted === '')) return;
      applied = wanted;
      await endpoint?.close();
      endpoint = undefined;
      if (wanted !== '') endpoint = await start(wanted, registry);
    });
  };
  apply();
  const watcher = vscode.workspace.onDidChangeConfiguration((event) => {
    if (event.affectsConfiguration(SETTING)) apply();
  });
  return {
    dispose: () => {
      watcher.dispose();
      queue = queue.then(() => endpoint?.close());
    },
  };
}

async function start(text: string, registry: ServerRegistry): Promise<MetricsEndpoint | undefined> {
  const { exposureWarning, MetricsEndpoint, parseMetricsAddress } = await import('../../core/metrics/metricsEndpoint');
  const address = parseMetricsAddress(text);
  if (!address) {
    void vscode.window.showErrorMessage(vscode.l10n.t('{0} must be HOST:PORT or PORT, for example 127.0.0.1:9464 (got "{1}"). No metrics are served.', SETTING, text));
    return undefined;
  }
  const warning = exposureWarning(address);
  if (warning) void vscode.window.showWarningMessage(vscode.l10n.t('The metrics endpoint listens on {0}:{1}: other machines on your network can read every worker\'s figures. Use 127.0.0.1 unless you mean to expose them.', address.host, address.port));
  try {
    return await MetricsEndpoint.listen(address, () => registry.models(), SETTING);
  } catch (error) {
    void vscode.window.showErrorMessage(error instanceof Error ? error.message : String(error));
    return undefined;
  }
}
