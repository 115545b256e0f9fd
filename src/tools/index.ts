/**
 * The agent tools, written once: both adapters (VS Code's language model tools, the MCP server) list TOOLS and call
 * invokeTool, which checks the input, runs the tool and turns every failure into an answer: nothing it does throws.
 */
import { DefinitionError } from '../core/definition';
import { ServerError } from '../core/errors';
import { killWorker, reloadServer, restartServer, scaleWorkers, stopServer } from './control';
import { getWorkerLogs } from './logs';
import { getRequestStats, listServers } from './serverTools';
import { getWorkerStack } from './stack';
import { startServer } from './start';
import { type AgentTool, type ToolHost, ToolError } from './types';
import { checkInput } from './validate';
import { waitFor } from './waitFor';

export type { AgentTool, ToolHost } from './types';

export const TOOLS: readonly AgentTool[] = [
  listServers, getWorkerLogs, getRequestStats, getWorkerStack, waitFor,
  startServer, reloadServer, scaleWorkers, killWorker, restartServer, stopServer,
];

export function findTool(name: string): AgentTool | undefined {
  return TOOLS.find((tool) => tool.name === name);
}

export interface ToolResult {
  isError: boolean;
  text: string;
  /** The data that matches the tool's output schema (an error's facts, when it has some). */
  data?: Record<string, unknown>;
}

/** Runs a tool on an input nobody has checked; a bad input, a refusal or a failure is a result with isError. */
export async function invokeTool(tool: AgentTool, input: unknown, host: ToolHost, signal: AbortSignal = new AbortController().signal): Promise<ToolResult> {
  try {
    const checked = checkInput(tool.name, tool.inputSchema, input);
    const answer = await tool.run(checked, host, signal);
    return { isError: false, text: answer.text, data: answer.data };
  } catch (error) {
    if (error instanceof ToolError) return { isError: true, text: error.message, ...(error.data ? { data: error.data } : {}) };
    if (error instanceof ServerError || error instanceof DefinitionError) return { isError: true, text: error.message };
    const message = error instanceof Error ? error.message : String(error);
    return { isError: true, text: `${tool.name} failed: ${message}` };
  }
}
