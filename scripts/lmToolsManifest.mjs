#!/usr/bin/env node
// Writes package.json's contributes.languageModelTools (and their package.nls.json strings) from the agent tools
// (src/tools/, compiled: run `npm run compile` first). test/unit/lmToolsManifest.test.ts fails until they agree.
//   node scripts/lmToolsManifest.mjs
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { repoRoot } from './lib/paths.mjs';

const { TOOLS } = createRequire(import.meta.url)(path.join(repoRoot, 'out', 'src', 'tools', 'index.js'));
const write = (file, json) => fs.writeFileSync(path.join(repoRoot, file), `${JSON.stringify(json, null, 2)}\n`);
const manifest = JSON.parse(fs.readFileSync(path.join(repoRoot, 'package.json'), 'utf8'));
const nls = JSON.parse(fs.readFileSync(path.join(repoRoot, 'package.nls.json'), 'utf8'));
manifest.contributes.languageModelTools = TOOLS.map((tool) => {
  nls[`lmTool.${tool.name}.displayName`] = tool.title;
  nls[`lmTool.${tool.name}.userDescription`] = tool.userDescription;
  return {
    name: `server-workers_${tool.name}`,
    displayName: `%lmTool.${tool.name}.displayName%`,
    toolReferenceName: tool.name,
    canBeReferencedInPrompt: true,
    userDescription: `%lmTool.${tool.name}.userDescription%`,
    modelDescription: tool.description,
    icon: '$(server-process)',
    tags: ['server-workers', 'python', 'servers', ...(tool.readOnly ? ['read-only'] : [])],
    // A tool that changes something is offered only in a trusted workspace (and refuses to run in any other).
    ...(tool.readOnly ? {} : { when: 'isWorkspaceTrusted' }),
    inputSchema: tool.inputSchema,
  };
});
write('package.json', manifest);
write('package.nls.json', nls);
console.log(`${TOOLS.length} tools written to package.json`);
