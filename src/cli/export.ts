/** `server-workers export`: a task (or the run flags) to the files of a production format, never replacing a file unasked. */
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { DefinitionError } from '../core/definition';
import { LaunchRequestError } from '../core/launchRequest';
import { PythonNotFoundError } from '../core/pythonEnvironment';
import { EXPORT_FORMATS, type ExportFormat, exportFiles, FORMAT_DESCRIPTIONS } from '../export';
import { projectFacts } from '../export/project';
import { ExportError, resolveForExport } from '../export/resolve';
import type { ExportResult } from '../export/types';
import { planWrites, type PlannedFile, writePlanned } from '../export/write';
import { DEFINITION_FLAGS, launchRequestFromFlags } from './runFlags';

export const EXPORT_USAGE = `Usage: server-workers export [--task NAME | the run options] --format FORMAT --out DIR [options] [-- extra server args]

Writes the production configuration of a server, from the serverworkers task (or the run options) that runs it here:
what you ran with N workers is what you ship. What cannot be carried over as it is (a secret in env, a path outside
the project, a variable only VS Code expands) is said in the files and here.

Formats:
${EXPORT_FORMATS.map((f) => `  ${f.padEnd(12)}${FORMAT_DESCRIPTIONS[f]}`).join('\n')}

Options:
  --format FORMAT             one of the formats above
  --out DIR                   the folder to write to (made if missing)
  --dry-run                   print the files and what would change; write nothing
  --force                     replace files that exist with other contents (without it, nothing is written)
  --workers-in-container      container, compose, kubernetes: keep the task's N workers in one container (one
                              machine), instead of one server process per container
  --health-path PATH          the path health checks and probes request (default /)
  --json                      the answer as one JSON object on stdout
  --task NAME, --tasks-file PATH, --folder DIR, and every option of server-workers run that describes a server
                              (--app, --workers, --bind, --env ...): as in run; they override the task's values
  -h, --help                  this text

Exit codes: 0 written (or printed), 1 failed, 2 invalid options, or files exist and differ (without --force).`;

const EXPORT_FLAGS = {
  ...DEFINITION_FLAGS,
  format: { type: 'string' },
  out: { type: 'string' },
  'dry-run': { type: 'boolean' },
  force: { type: 'boolean' },
  'workers-in-container': { type: 'boolean' },
  'health-path': { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

export async function exportCommand(rest: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args: rest, allowPositionals: true, options: EXPORT_FLAGS });
  } catch (error) {
    return invalid(`${(error as Error).message}\n\n${EXPORT_USAGE}`);
  }
  const { values, positionals } = parsed;
  if (values.help) {
    process.stdout.write(`${EXPORT_USAGE}\n`);
    return 0;
  }
  const format = values.format as ExportFormat | undefined;
  if (format === undefined || !EXPORT_FORMATS.includes(format)) {
    return invalid(`--format must be ${EXPORT_FORMATS.join(', ')} (got ${format === undefined ? 'nothing' : `"${format}"`}).`);
  }
  if (values.out === undefined && !values['dry-run']) return invalid('--out DIR is required: the folder to write the files to (or --dry-run to print them).');
  const healthPath = values['health-path'] ?? '/';
  if (!healthPath.startsWith('/')) return invalid(`--health-path must start with / (got "${healthPath}").`);

  let result: ExportResult;
  const outDir = path.resolve(values.out ?? '.');
  try {
    const task = resolveForExport(launchRequestFromFlags(values, positionals));
    const project = await projectFacts(task.definition, task.folder);
    result = exportFiles(format, {
      definition: task.definition, project, kept: task.kept,
      options: { workersInContainer: values['workers-in-container'] === true, healthPath, outDir },
    });
  } catch (error) {
    if (error instanceof DefinitionError || error instanceof LaunchRequestError || error instanceof ExportError || error instanceof PythonNotFoundError) {
      return invalid(error.message);
    }
    throw error;
  }
  const planned = planWrites(outDir, result.files);
  const json = values.json === true;
  if (values['dry-run']) {
    if (json) process.stdout.write(`${JSON.stringify(answer(result, outDir, planned, false))}\n`);
    else process.stdout.write(dryRunText(result, planned));
    return 0;
  }
  const changed = planned.filter((p) => p.status === 'changed');
  if (changed.length > 0 && values.force !== true) {
    const message = `${changed.length === 1 ? 'This file exists' : 'These files exist'} with other contents, so nothing was written: ${changed.map((p) => p.path).join(', ')}. ` +
      'Pass --force to replace them, or --dry-run to see the new text first (or --out another folder).';
    if (json) process.stdout.write(`${JSON.stringify({ event: 'error', reason: 'exists', message, files: changed.map((p) => p.path) })}\n`);
    else process.stderr.write(`server-workers: ${message}\n`);
    return 2;
  }
  writePlanned(planned);
  if (json) process.stdout.write(`${JSON.stringify(answer(result, outDir, planned, true))}\n`);
  else process.stdout.write(summaryText(result, outDir, planned));
  return 0;
}

function invalid(message: string): number {
  process.stderr.write(`server-workers: ${message}\n`);
  return 2;
}

function answer(result: ExportResult, outDir: string, planned: PlannedFile[], written: boolean) {
  return {
    event: written ? 'exported' : 'dry-run',
    format: result.format,
    outDir,
    files: planned.map((p) => ({ name: p.file.name, path: p.path, status: p.status, ...(written ? {} : { text: p.file.text }) })),
    caveats: result.caveats,
    next: result.next,
  };
}

const STATUS_WORDS = { new: 'new', unchanged: 'unchanged', changed: 'replaced' } as const;

function caveatLines(result: ExportResult): string[] {
  if (result.caveats.length === 0) return [];
  return ['', 'Not carried over as it is (also said in the files):', ...result.caveats.map((c) => `  - ${c.property}: ${c.message}`)];
}

function summaryText(result: ExportResult, outDir: string, planned: PlannedFile[]): string {
  const lines = [
    `Exported ${result.format} to ${outDir}:`,
    ...planned.map((p) => `  ${p.file.name} (${STATUS_WORDS[p.status]})`),
    ...caveatLines(result),
    '',
    'Next:',
    ...result.next.map((n) => `  ${n}`),
  ];
  return `${lines.join('\n')}\n`;
}

function dryRunText(result: ExportResult, planned: PlannedFile[]): string {
  const parts = planned.map((p) => `==> ${p.path} (${p.status === 'changed' ? 'exists with other contents: --force replaces it' : p.status}) <==\n${p.file.text}`);
  const lines = ['Dry run: nothing was written.', ...caveatLines(result), '', 'Next:', ...result.next.map((n) => `  ${n}`)];
  return `${parts.join('\n')}\n${lines.join('\n')}\n`;
}
