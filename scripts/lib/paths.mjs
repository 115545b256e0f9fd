// Where the repository and its git-ignored tool folder are, for every script.
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
/** code-server installs, Node binaries from npm, and the scratch folders of the runs that use them. */
export const vscodeTestDir = path.join(repoRoot, '.vscode-test');
