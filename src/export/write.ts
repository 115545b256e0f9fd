/** The exported files against what the output folder holds: new, unchanged or changed; and writing them. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { ExportFile } from './types';

export type FileStatus = 'new' | 'unchanged' | 'changed';

export interface PlannedFile {
  file: ExportFile;
  path: string;
  status: FileStatus;
}

export function planWrites(outDir: string, files: readonly ExportFile[]): PlannedFile[] {
  return files.map((file) => {
    const target = path.join(outDir, file.name);
    let existing: string | undefined;
    try {
      existing = fs.readFileSync(target, 'utf8');
    } catch {
      existing = undefined;
    }
    const status: FileStatus = existing === undefined ? 'new' : existing === file.text ? 'unchanged' : 'changed';
    return { file, path: target, status };
  });
}

/** Writes the new and changed files (the caller has asked before replacing one); a script is made executable. */
export function writePlanned(planned: readonly PlannedFile[]): void {
  for (const { file, path: target, status } of planned) {
    if (status === 'unchanged') continue;
    fs.mkdirSync(path.dirname(target), { recursive: true });
    fs.writeFileSync(target, file.text, { mode: file.executable ? 0o755 : 0o644 });
    if (file.executable) fs.chmodSync(target, 0o755);
  }
}
