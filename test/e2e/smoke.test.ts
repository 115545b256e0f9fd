import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';

const EXTENSION_ID = 'serverworkers.server-workers';

describe('smoke', () => {
  it('the extension is present and activates', async () => {
    const extension = vscode.extensions.getExtension(EXTENSION_ID);
    assert.ok(extension, `${EXTENSION_ID} is not among the installed extensions`);
    await extension.activate();
    assert.equal(extension.isActive, true);
  });

  it('registers the serverWorkers.start command', async () => {
    const commands = await vscode.commands.getCommands(true);
    assert.ok(commands.includes('serverWorkers.start'), 'serverWorkers.start is not registered');
  });
});
