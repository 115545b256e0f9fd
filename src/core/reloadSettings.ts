/** The `reload` property of a server (a task, a launch configuration, the CLI's --reload): when and what to watch. */

/** Watched when the property names no `include`: every Python file under the server's cwd. */
export const DEFAULT_INCLUDE: readonly string[] = ['**/*.py'];
/** Never watched unless `exclude` is given: virtualenvs, bytecode caches, version control, Node packages. */
export const DEFAULT_EXCLUDE: readonly string[] = [
  '**/.venv*/**', '**/venv/**', '**/env/**', '**/site-packages/**', '**/__pycache__/**', '**/.git/**', '**/node_modules/**', '**/.tox/**', '**/.nox/**',
];

export interface ReloadSettings {
  /** Reload on save: true or false when the definition says, undefined to follow the setting (CLI: off). */
  onSave: boolean | undefined;
  /** Globs relative to the server's cwd. */
  include: string[];
  exclude: string[];
}

export type ReloadProperty = boolean | { include?: string[]; exclude?: string[] };

/** Reads the property (undefined: not given); problems are pushed, said for people. */
export function resolveReloadProperty(value: unknown, problems: string[]): ReloadSettings {
  const settings: ReloadSettings = { onSave: undefined, include: [...DEFAULT_INCLUDE], exclude: [...DEFAULT_EXCLUDE] };
  if (value === undefined) return settings;
  if (typeof value === 'boolean') return { ...settings, onSave: value };
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    problems.push(`"reload" must be true, false or an object such as { "include": ["**/*.py"], "exclude": ["tests/**"] } (got ${JSON.stringify(value)}).`);
    return settings;
  }
  const object = value as Record<string, unknown>;
  for (const key of Object.keys(object)) {
    if (key !== 'include' && key !== 'exclude') problems.push(`"reload" takes "include" and "exclude" (glob lists); "${key}" is not one of them.`);
  }
  for (const key of ['include', 'exclude'] as const) {
    const globs = object[key];
    if (globs === undefined) continue;
    if (!Array.isArray(globs) || globs.some((g) => typeof g !== 'string' || g.trim() === '')) {
      problems.push(`"reload.${key}" must be a list of globs relative to the server's cwd, e.g. ["**/*.py", "templates/**"] (got ${JSON.stringify(globs)}).`);
      continue;
    }
    settings[key] = globs as string[];
  }
  return { ...settings, onSave: true };
}
