/** `server-workers`: picks the command. Each command is a module of its own; what they share lives beside them. */
import { exportCommand } from './export';
import { RUN_USAGE, runCommand } from './run';

const COMMANDS: Record<string, (args: string[]) => Promise<number>> = {
  run: runCommand,
  export: exportCommand,
  mcp: async (args) => (await import('./mcp')).mcpCommand(args), // the MCP SDK loads only for this command
};

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === '-h' || command === '--help' || command === undefined) {
    process.stdout.write(`${RUN_USAGE}\n`);
    return command === undefined ? 2 : 0;
  }
  const handler = COMMANDS[command];
  if (handler === undefined) {
    process.stderr.write(`server-workers: unknown command "${command}". Did you mean "server-workers run"?\n\n${RUN_USAGE}\n`);
    return 2;
  }
  return handler(rest);
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (error) => {
      process.stderr.write(`server-workers: ${error instanceof Error ? error.stack : String(error)}\n`);
      process.exit(1);
    },
  );
}
