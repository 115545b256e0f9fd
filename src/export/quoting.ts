/** Values written into other languages' files: each quoted as that language reads it back, never as shell text to run. */

/** A Python (or TOML basic) string literal: JSON's escapes are both languages' escapes. */
export function pyString(value: string): string {
  return JSON.stringify(value);
}

/** One word for a POSIX shell: bare when it is safe, else in single quotes. */
export function shellWord(value: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(value) ? value : `'${value.replace(/'/g, `'\\''`)}'`;
}

/** A command for a shell, one word each, for a comment or a script. */
export function shellCommand(argv: readonly string[]): string {
  return argv.map(shellWord).join(' ');
}

/**
 * One word of a systemd command line (ExecStart=): `%` is a specifier and `$` a variable there, so both are doubled;
 * a word with spaces, quotes or backslashes is double-quoted with C escapes.
 */
export function systemdWord(value: string): string {
  const escaped = value.replace(/%/g, '%%').replace(/\$/g, '$$$$');
  if (escaped !== '' && /^[A-Za-z0-9_@%+=:,./$-]+$/.test(escaped)) return escaped;
  return `"${escaped.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n').replace(/\t/g, '\\t')}"`;
}

/** A systemd setting's value in double quotes (Environment="KEY=value"): `%` doubled, quotes and backslashes escaped. */
export function systemdQuoted(value: string): string {
  return `"${value.replace(/%/g, '%%').replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`;
}

/** Lines as comments, with `mark` ("#", "//") before each; an empty line stays a bare mark. */
export function commentLines(lines: readonly string[], mark = '#'): string[] {
  return lines.flatMap((line) => line.split('\n')).map((line) => (line === '' ? mark : `${mark} ${line}`));
}

/**
 * A command's arguments laid out one option per line (`--flag value`), for a script or a unit; `word` quotes each.
 * The words before the first option (`-m gunicorn main:app`) stay on the first line.
 */
export function optionLines(argv: readonly string[], word: (value: string) => string): string[][] {
  const lines: string[][] = [[]];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg.startsWith('--') && lines[lines.length - 1].length > 0) lines.push([]);
    lines[lines.length - 1].push(word(arg));
  }
  return lines;
}
