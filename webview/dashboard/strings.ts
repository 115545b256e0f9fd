/**
 * The page's words, in the person's language: the host writes them into the page (src/extension/dashboard/pageStrings.ts,
 * each through vscode.l10n.t), keyed by the English text; `{0}`, `{1}` are filled in order.
 */
import type { PageString } from './protocol';

let strings: Partial<Record<PageString, string>> = {};

/** Takes the strings the host wrote into the page (the JSON text of a script element). */
export function loadStrings(json: string | null | undefined): void {
  try {
    strings = JSON.parse(json ?? '{}') as Partial<Record<PageString, string>>;
  } catch {
    strings = {};
  }
}

export function t(key: PageString, ...args: Array<string | number>): string {
  return (strings[key] ?? key).replace(/\{(\d+)\}/g, (whole, index: string) => (args[Number(index)] === undefined ? whole : String(args[Number(index)])));
}
