/** Export: a resolved task to the files of a production format (one module per format, each a pure function). */
import { exportCompose } from './compose';
import { exportContainer } from './container';
import { exportKubernetes } from './kubernetes';
import { exportServerConfig } from './serverConfig';
import { exportSystemd } from './systemd';
import type { ExportFormat, ExportInput, ExportResult } from './types';

export { EXPORT_FORMATS, type ExportFormat, type ExportInput, type ExportResult } from './types';

const EXPORTERS: Record<ExportFormat, (input: ExportInput) => ExportResult> = {
  gunicorn: exportServerConfig,
  systemd: exportSystemd,
  container: exportContainer,
  compose: exportCompose,
  kubernetes: exportKubernetes,
};

/** What each format writes, for pickers and --help. */
export const FORMAT_DESCRIPTIONS: Record<ExportFormat, string> = {
  gunicorn: "the server's own configuration: gunicorn.conf.py (Gunicorn), hypercorn.toml (Hypercorn), serve.sh (Uvicorn, Granian)",
  systemd: 'a systemd service unit for one machine',
  container: 'a Dockerfile and .dockerignore (one server process per container)',
  compose: 'compose.yaml, with the Dockerfile it builds',
  kubernetes: 'a kustomization: Deployment, Service, a preLaunch Job, a TLS Ingress, an HPA left commented out',
};

export function exportFiles(format: ExportFormat, input: ExportInput): ExportResult {
  return EXPORTERS[format](input);
}
