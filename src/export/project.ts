/** What an export needs of the project from disk: its dependency files, and the interpreter's version and packages. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { ResolvedDefinition } from '../core/definition';
import { detectEnvironment } from '../core/pythonEnvironment';
import { placeOf } from './analysis';
import type { DependencySource, ProjectFacts } from './types';

export async function projectFacts(definition: ResolvedDefinition, folder: string): Promise<ProjectFacts> {
  const environment = await detectEnvironment(definition.python);
  return { folder, pythonVersion: environment.pythonVersion, packages: environment.packages, dependencies: findDependencies(definition.cwd, folder) };
}

/** The project's dependency files: in the task's folder first, then the project's; a lock file wins over requirements.txt. */
export function findDependencies(cwd: string, folder: string): DependencySource {
  const dirs = [...new Set([cwd, folder])].filter((dir) => placeOf(dir, folder).inside);
  for (const dir of dirs) {
    const file = (name: string) => path.join(dir, name);
    const read = (name: string) => fs.readFileSync(file(name), 'utf8');
    const has = (name: string) => fs.existsSync(file(name));
    if (has('pyproject.toml') && has('uv.lock')) return { kind: 'uv', file: file('pyproject.toml'), lock: file('uv.lock'), text: read('pyproject.toml') };
    if (has('pyproject.toml') && has('poetry.lock')) return { kind: 'poetry', file: file('pyproject.toml'), lock: file('poetry.lock'), text: read('pyproject.toml') };
    if (has('requirements.txt')) return { kind: 'requirements', file: file('requirements.txt'), text: read('requirements.txt') };
    if (has('pyproject.toml')) return { kind: 'pyproject', file: file('pyproject.toml'), text: read('pyproject.toml') };
  }
  return { kind: 'none' };
}
