#!/usr/bin/env node
// Writes the README's "To production" table from the one table in src/export/propertyTable.ts (compiled: run
// `npm run compile` first). test/unit/exportTable.test.ts checks the README holds exactly this.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createRequire } from 'node:module';
import { repoRoot } from './lib/paths.mjs';

const require = createRequire(import.meta.url);
const { renderPropertyTable } = require(path.join(repoRoot, 'out', 'src', 'export', 'propertyTable.js'));
const readme = path.join(repoRoot, 'README.md');
const text = fs.readFileSync(readme, 'utf8');
const start = '<!-- export-table:start -->\n';
const end = '\n<!-- export-table:end -->';
if (!text.includes(start) || !text.includes(end)) {
  console.error(`README.md has no ${start.trim()} ... ${end.trim()} block: add one where the table goes`);
  process.exit(1);
}
fs.writeFileSync(readme, `${text.slice(0, text.indexOf(start) + start.length)}${renderPropertyTable()}${text.slice(text.indexOf(end))}`);
console.log('README.md: the property table is written');
