/**
 * What every format asks of a task the same way: which env values may be copied (a secret or a variable is only
 * referenced), where a path lies (inside the project or not), the name the files give the app, their header.
 */
import * as path from 'node:path';
import type { Caveat, ExportInput } from './types';

/** An env entry as a file may carry it: its value, or only its name, to be supplied where the app runs. */
export type EnvEntry =
  | { key: string; kind: 'plain'; value: string }
  | { key: string; kind: 'secret' }
  | { key: string; kind: 'variable'; variable: string };

const SECRET_NAME = /SECRET|PASSWORD|PASSWD|PASSPHRASE|TOKEN|API_?KEY|ACCESS_?KEY|PRIVATE_?KEY|CREDENTIAL|AUTH|SIGNING|SALT|(^|_)DSN$|(^|_)PASS$/i;
const CREDENTIAL_URL = /^[a-z][a-z0-9+.-]*:\/\/[^/@\s:]*:[^/@\s]+@/i;
const TOKEN_VALUE = /^(sk|pk|rk)_(live|test)_|^sk-[A-Za-z0-9]|^gh[pousr]_[A-Za-z0-9]{20,}|^xox[abpr]-|^AKIA[0-9A-Z]{16}$|^-----BEGIN [A-Z ]*PRIVATE KEY/;

/** True when an env entry looks like a secret: by its name (SECRET_KEY, DB_PASSWORD...) or its value (a URL with a password, a known token). */
export function looksSecret(key: string, value: string): boolean {
  return SECRET_NAME.test(key) || CREDENTIAL_URL.test(value) || TOKEN_VALUE.test(value);
}

/** The task's env, each entry as the files may carry it. */
export function envEntries(input: ExportInput): EnvEntry[] {
  return Object.entries(input.definition.env).map(([key, value]): EnvEntry => {
    const kept = input.kept.find((k) => k.where === `env.${key}`);
    if (kept) return { key, kind: 'variable', variable: kept.variable };
    if (looksSecret(key, value)) return { key, kind: 'secret' };
    return { key, kind: 'plain', value };
  });
}

/** Why an env entry is only referenced, and what to do, for a format whose way to supply it is `supply`. */
export function envCaveats(entries: EnvEntry[], supply: (key: string) => string): Caveat[] {
  return entries.flatMap((entry): Caveat[] => {
    if (entry.kind === 'secret') {
      return [{ property: `env.${entry.key}`, message: `looks like a secret: its value is not copied into the files; ${supply(entry.key)}.` }];
    }
    if (entry.kind === 'variable') {
      const why = entry.variable.startsWith('env:')
        ? `takes \${${entry.variable}} from the environment where the task runs`
        : `uses \${${entry.variable}}, which only VS Code can ask for`;
      return [{ property: `env.${entry.key}`, message: `${why}: the files reference ${entry.key} instead of a value; ${supply(entry.key)}.` }];
    }
    return [];
  });
}

/** Where a path of the task lies: inside the project (relative to it, with / separators) or outside it. */
export type PathPlace = { inside: true; relative: string } | { inside: false; absolute: string };

export function placeOf(file: string, project: string): PathPlace {
  const relative = path.relative(project, file);
  if (relative === '' ) return { inside: true, relative: '.' };
  if (relative.startsWith('..') || path.isAbsolute(relative)) return { inside: false, absolute: file };
  return { inside: true, relative: relative.split(path.sep).join('/') };
}

/** Where the project is inside an image. */
export const IMAGE_ROOT = '/app';

/** A path of the task inside the image, or undefined when it lies outside the project (not in the image). */
export function imagePath(file: string, project: string): string | undefined {
  const place = placeOf(file, project);
  if (!place.inside) return undefined;
  return place.relative === '.' ? IMAGE_ROOT : path.posix.join(IMAGE_ROOT, place.relative);
}

/** The app's name in the files: the task's label as a DNS label (Kubernetes names, the unit, the image). */
export function appName(input: ExportInput): string {
  const name = input.definition.name.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 40).replace(/-+$/, '');
  return /^[a-z]/.test(name) ? name : `app${name ? `-${name}` : ''}`;
}

/** A one-line description of the task, for the files' first comment. */
export function taskSummary(input: ExportInput): string {
  const def = input.definition;
  return `the Server Workers task "${def.name}" (${def.server} ${def.app}, ${def.workers} worker${def.workers === 1 ? '' : 's'})`;
}

/** The header every file starts with: where it came from, and what it could not carry over. */
export function headerLines(input: ExportInput, what: string, caveats: Caveat[], extra: string[] = []): string[] {
  const lines = [`${what}, exported from ${taskSummary(input)} by server-workers export.`, ...extra];
  if (caveats.length > 0) {
    lines.push('', 'Not carried over as it is (read before you deploy):');
    for (const caveat of caveats) lines.push(`- ${caveat.property}: ${caveat.message}`);
  }
  return lines;
}

/** Absolute paths of the task outside the project (certificates, the interpreter, args, env values). */
export function outsidePaths(input: ExportInput, properties: readonly PathProperty[]): Array<{ property: string; file: string }> {
  const def = input.definition;
  const found: Array<{ property: string; file: string }> = [];
  const check = (property: string, value: string | undefined) => {
    if (value !== undefined && path.isAbsolute(value) && !placeOf(value, input.project.folder).inside) found.push({ property, file: value });
  };
  for (const property of properties) {
    if (property === 'args') {
      def.args.forEach((arg, i) => check(`args[${i}]`, arg));
    } else if (property === 'env') {
      for (const entry of envEntries(input)) if (entry.kind === 'plain') check(`env.${entry.key}`, entry.value);
    } else {
      check(property, def[property]);
    }
  }
  return found;
}

export type PathProperty = 'certfile' | 'keyfile' | 'python' | 'cwd' | 'args' | 'env';
