/**
 * The commands of the palette and the tree, registered at activation; what they do (commandHandlers.ts) loads when
 * the first one runs. A command's error is said in a message.
 */
import * as vscode from 'vscode';
import { COMMAND_IDS, type CommandContext } from './commandIds';

export function registerCommands(ctx: CommandContext): vscode.Disposable[] {
  let handlers: Promise<ReturnType<typeof import('./commandHandlers').commandHandlers>> | undefined;
  return COMMAND_IDS.map((id) => vscode.commands.registerCommand(id, async (...args: unknown[]) => {
    try {
      handlers ??= import('./commandHandlers').then((module) => module.commandHandlers(ctx));
      return await (await handlers)[id](...args);
    } catch (error) {
      void vscode.window.showErrorMessage(error instanceof Error ? error.message : String(error));
      return undefined;
    }
  }));
}
