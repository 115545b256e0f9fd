/**
 * The agent tools in VS Code (agent mode): each tool that package.json contributes (`languageModelTools`,
 * `server-workers_<name>`) is registered at activation with a stand-in; the tools themselves (src/tools/) and their
 * adapter load on the first call. The tools act on this window's servers: the Workers view's.
 */
import * as vscode from 'vscode';
import type { ServerRegistry } from '../serverRegistry';

type Adapter = typeof import('./adapter');

export interface LanguageModelTools {
  /** What a tool's prepareInvocation last returned (for this extension's tests). */
  prepared(name: string): vscode.PreparedToolInvocation | undefined;
}

/** Registers every contributed tool; the registrations end with the extension (context.subscriptions). */
export function registerLanguageModelTools(context: vscode.ExtensionContext, registry: ServerRegistry): LanguageModelTools {
  const prepared = new Map<string, vscode.PreparedToolInvocation | undefined>();
  const contributed = (context.extension.packageJSON as { contributes?: { languageModelTools?: Array<{ name: string }> } }).contributes?.languageModelTools ?? [];
  let adapter: Promise<Adapter> | undefined;
  const load = () => (adapter ??= import('./adapter'));
  if (typeof vscode.lm?.registerTool !== 'function') return { prepared: () => undefined };
  context.subscriptions.push(...contributed.map(({ name }) => vscode.lm.registerTool<unknown>(name, {
    async prepareInvocation(options) {
      const preparation = await (await load()).prepare(name, options.input, registry);
      prepared.set(name, preparation);
      return preparation;
    },
    async invoke(options, token) {
      return (await load()).invoke(name, options.input, registry, token);
    },
  })));
  return { prepared: (name) => prepared.get(name) };
}
