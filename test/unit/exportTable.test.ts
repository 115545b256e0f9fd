/**
 * The one table from task property to each format's setting (src/export/propertyTable.ts): the README holds it as
 * rendered, and every setting a cell names is in what that format writes for a task that sets every property.
 */
import * as assert from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { resolveDefinition, type ServerKind } from '../../src/core/definition';
import { type ExportFormat, exportFiles } from '../../src/export';
import { PROPERTY_TABLE, renderPropertyTable, TABLE_COLUMNS, type TableColumn } from '../../src/export/propertyTable';
import type { ExportInput } from '../../src/export/types';
import { repoRoot } from '../support/paths';

const PROJECT = '/srv/shop';

/** A task of `server` that sets every property the table names (within what that server takes). */
function everything(server: ServerKind, workersInContainer: boolean): ExportInput {
  const definition = resolveDefinition({
    server,
    app: 'main:app',
    workers: 3,
    bind: '127.0.0.1:8100',
    ...(server === 'gunicorn' ? { workerClass: 'gthread' } : {}),
    ...(server === 'granian' ? { interface: 'wsgi' } : {}),
    timeout: 45,
    gracefulTimeout: 12,
    certfile: `${PROJECT}/certs/cert.pem`,
    keyfile: `${PROJECT}/certs/key.pem`,
    env: { MODE: 'production', SECRET_KEY: 'not-in-the-files' },
    args: ['--example-arg'],
    preLaunch: [['python', 'manage.py', 'migrate']],
    ...(server === 'hypercorn' ? {} : { maxMemoryMb: 256 }),
    restartMax: 4,
    python: `${PROJECT}/.venv/bin/python`,
    cwd: `${PROJECT}/src`,
  }, { defaultPython: 'python3', defaultCwd: PROJECT, defaultWorkers: 2 });
  return {
    definition,
    project: {
      folder: PROJECT,
      pythonVersion: '3.12.4',
      packages: { gunicorn: '27.0.1', uvicorn: '0.54.0', 'uvicorn-worker': '0.4.0', granian: '2.8.7', hypercorn: '0.18.0' },
      dependencies: { kind: 'requirements', file: `${PROJECT}/requirements.txt`, text: 'fastapi\ngunicorn\nuvicorn\ngranian\nhypercorn\n' },
    },
    options: { workersInContainer, healthPath: '/healthz', outDir: PROJECT },
    kept: [],
  };
}

const SERVER_COLUMNS: Partial<Record<TableColumn, ServerKind>> = { gunicorn: 'gunicorn', uvicorn: 'uvicorn', granian: 'granian', hypercorn: 'hypercorn' };

/** All the text a column's format writes, over the servers and container modes it covers. */
function columnText(column: TableColumn): string {
  const server = SERVER_COLUMNS[column];
  const format: ExportFormat = server ? 'gunicorn' : (column as ExportFormat);
  const servers: ServerKind[] = server ? [server] : ['gunicorn', 'uvicorn', 'granian', 'hypercorn'];
  return servers.flatMap((kind) => [false, true].map((inContainer) => exportFiles(format, everything(kind, inContainer)).files.map((f) => f.text).join('\n'))).join('\n');
}

/** What a setting named in a cell looks like in a file: a YAML path's last key, else the text itself. */
function inFile(setting: string, column: TableColumn): RegExp {
  const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  if ((column === 'compose' || column === 'kubernetes') && /^[a-z_.]+\.[a-z_]+$/i.test(setting)) return new RegExp(`\\b${escape(setting.split('.').pop()!)}:`);
  return new RegExp(escape(setting));
}

describe('the property table', () => {
  it('is the README\'s "To production" table, as rendered (node scripts/export-table.mjs writes it)', () => {
    const readme = fs.readFileSync(path.join(repoRoot, 'README.md'), 'utf8');
    const start = '<!-- export-table:start -->\n';
    const end = '\n<!-- export-table:end -->';
    assert.ok(readme.includes(start) && readme.includes(end), 'the README marks the table');
    assert.strictEqual(readme.slice(readme.indexOf(start) + start.length, readme.indexOf(end)), renderPropertyTable());
  });

  it('has a cell for every column in every row', () => {
    for (const row of PROPERTY_TABLE) for (const column of TABLE_COLUMNS) assert.ok(row.cells[column.id].trim() !== '', `${row.property} / ${column.id}`);
  });

  for (const column of TABLE_COLUMNS) {
    it(`${column.title}: every setting its cells name is in the files it writes`, () => {
      const text = columnText(column.id);
      for (const row of PROPERTY_TABLE) {
        for (const [, setting] of row.cells[column.id].matchAll(/`([^`]+)`/g)) {
          assert.match(text, inFile(setting, column.id), `${row.property} -> ${column.title}: \`${setting}\``);
        }
      }
      assert.ok(!text.includes('not-in-the-files'), 'and the secret is in none of them');
    });
  }
});
