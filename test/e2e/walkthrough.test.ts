import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { EXTENSION_ID } from './support';

interface WalkthroughStep {
  id: string;
  description: string;
  media: { markdown?: string; image?: string };
  completionEvents?: string[];
}

interface Walkthrough {
  id: string;
  steps: WalkthroughStep[];
}

const COMMAND_LINK = /\(command:([\w.]+)(?:\?[^)]*)?\)/g;
const IMAGE_LINK = /!\[[^\]]*\]\(([^)\s]+)\)/g;

function matchesOf(text: string, pattern: RegExp): string[] {
  return [...text.matchAll(pattern)].map((m) => m[1]);
}

function installed(): vscode.Extension<unknown> {
  const extension = vscode.extensions.getExtension(EXTENSION_ID);
  assert.ok(extension, `${EXTENSION_ID} is not installed`);
  return extension;
}

// Run against the packaged .vsix too (npm test's e2e-vsix phase): what the walkthrough and the runtime read from
// the extension's folder must have been packaged.
describe('Walkthrough and packaged files', () => {
  it('the walkthrough is contributed: five steps, each with its markdown, and every command link is a registered command', async () => {
    const extension = installed();
    await extension.activate();
    const manifest = extension.packageJSON as { contributes?: { walkthroughs?: Walkthrough[] } };
    const walkthroughs = manifest.contributes?.walkthroughs ?? [];
    assert.equal(walkthroughs.length, 1, 'one walkthrough');
    const [walkthrough] = walkthroughs;
    assert.deepEqual(walkthrough.steps.map((s) => s.id), ['interpreter', 'createTask', 'startWorkers', 'scale', 'debug']);

    const registered = new Set(await vscode.commands.getCommands(true));
    for (const step of walkthrough.steps) {
      const links = matchesOf(step.description, COMMAND_LINK);
      assert.ok(links.length > 0, `step ${step.id} has a command button`);
      for (const command of links) assert.ok(registered.has(command), `step ${step.id} links to ${command}, which is not a registered command`);
      const ownCompletions = (step.completionEvents ?? []).filter((e) => e.startsWith('onCommand:serverWorkers.'));
      for (const event of ownCompletions) {
        const command = event.slice('onCommand:'.length);
        assert.ok(registered.has(command), `step ${step.id} completes on ${command}, which is not a registered command`);
      }

      assert.ok(step.media.markdown, `step ${step.id} has a markdown page`);
      const markdownFile = path.join(extension.extensionPath, step.media.markdown);
      assert.ok(fs.existsSync(markdownFile), `${step.media.markdown} is missing from the extension`);
      const markdown = fs.readFileSync(markdownFile, 'utf8');
      for (const command of matchesOf(markdown, COMMAND_LINK)) assert.ok(registered.has(command), `${step.media.markdown} links to ${command}, not registered`);
      for (const image of matchesOf(markdown, IMAGE_LINK).filter((src) => !/^https?:/.test(src))) {
        const file = path.resolve(path.dirname(markdownFile), image);
        assert.ok(fs.existsSync(file), `${step.media.markdown} shows ${image}, which is missing from the extension`);
      }
    }

    // The workbench knows it by id: opening it does not fail.
    await vscode.commands.executeCommand('workbench.action.openWalkthrough', `${EXTENSION_ID}#${walkthrough.id}`, false);
    await vscode.commands.executeCommand('workbench.action.closeActiveEditor');
  });

  it('the files read at run time are in the extension folder: the agent, the icons, the README images', () => {
    const extension = installed();
    const manifest = extension.packageJSON as { main: string; icon: string; l10n?: string; contributes: { viewsContainers: { activitybar: Array<{ icon: string }> } } };
    const wanted = [
      manifest.main.endsWith('.js') ? manifest.main : `${manifest.main}.js`,
      'dist/cli.js',
      'python/sitecustomize.py',
      ...['__init__', 'state', 'connection', 'master', 'forks', 'worker', 'readiness', 'patches', 'debug', 'debug_socket'].map((m) => `python/server_workers_agent/${m}.py`),
      manifest.icon,
      ...manifest.contributes.viewsContainers.activitybar.map((c) => c.icon),
      ...(manifest.l10n ? [manifest.l10n] : []),
    ];
    // vsce stores the README as readme.md
    const readmeName = fs.readdirSync(extension.extensionPath).find((name) => /^readme\.md$/i.test(name));
    assert.ok(readmeName, 'the extension has a README');
    const readme = fs.readFileSync(path.join(extension.extensionPath, readmeName), 'utf8');
    wanted.push(...matchesOf(readme, IMAGE_LINK).filter((src) => !/^https?:/.test(src)));
    const missing = wanted.filter((rel) => !fs.existsSync(path.join(extension.extensionPath, rel)));
    assert.deepEqual(missing, [], `missing from ${extension.extensionPath}`);
  });
});
