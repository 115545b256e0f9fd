/**
 * Globs for the watched files, matched against paths relative to the server's cwd with `/` separators:
 * `**` any number of folders, `*` and `?` within one name, `{a,b}` either, `[...]` a character class. A glob without a
 * `/` matches a name in any folder (`*.py` is `**\/*.py`), as in .gitignore.
 */
import * as path from 'node:path';

const cache = new Map<string, RegExp>();

export function globToRegExp(glob: string): RegExp {
  const cached = cache.get(glob);
  if (cached) return cached;
  let source = glob.trim().replace(/\\/g, '/').replace(/^\.\//, '');
  if (!source.includes('/')) source = `**/${source}`;
  let out = '';
  let inBraces = 0;
  for (let i = 0; i < source.length; i++) {
    const c = source[i];
    if (c === '*') {
      if (source[i + 1] === '*') {
        const slashAfter = source[i + 2] === '/';
        const atStart = i === 0 || source[i - 1] === '/';
        if (atStart && slashAfter) {
          out += '(?:[^/]*/)*';
          i += 2;
        } else if (atStart && i + 2 === source.length) {
          out += '.*';
          i += 1;
        } else {
          out += '[^/]*';
          i += 1;
        }
      } else {
        out += '[^/]*';
      }
    } else if (c === '?') {
      out += '[^/]';
    } else if (c === '{') {
      inBraces++;
      out += '(?:';
    } else if (c === '}' && inBraces > 0) {
      inBraces--;
      out += ')';
    } else if (c === ',' && inBraces > 0) {
      out += '|';
    } else if (c === '[') {
      const end = source.indexOf(']', i + 1);
      if (end < 0) {
        out += '\\[';
      } else {
        const body = source.slice(i + 1, end).replace(/^!/, '^').replace(/\\/g, '\\\\');
        out += `[${body}]`;
        i = end;
      }
    } else {
      out += /[.+^$()|\\]/.test(c) ? `\\${c}` : c;
    }
  }
  const regExp = new RegExp(`^${out}$`);
  cache.set(glob, regExp);
  return regExp;
}

/** A path (absolute, or relative to `root`) as the globs see it; undefined when it is outside `root`. */
export function relativeForGlobs(root: string, file: string): string | undefined {
  const relative = path.relative(root, path.resolve(root, file));
  if (relative === '' || relative.startsWith('..') || path.isAbsolute(relative)) return undefined;
  return relative.split(path.sep).join('/');
}

export function matchesAny(relativePath: string, globs: readonly string[]): boolean {
  return globs.some((glob) => globToRegExp(glob).test(relativePath));
}

/** A folder no watched file can be in: an excluded folder (`x/**` matches `x/anything`). */
export function folderExcluded(relativeFolder: string, exclude: readonly string[]): boolean {
  return matchesAny(`${relativeFolder}/-`, exclude);
}

/** Watched: under the root, matched by an include glob and by no exclude glob. */
export function isWatched(root: string, file: string, include: readonly string[], exclude: readonly string[]): boolean {
  const relative = relativeForGlobs(root, file);
  return relative !== undefined && matchesAny(relative, include) && !matchesAny(relative, exclude);
}
