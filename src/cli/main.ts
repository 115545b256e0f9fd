/** `server-workers`: picks the command. Each command is a module of its own, loaded when it runs. */

const USAGE = `Usage: server-workers COMMAND [options]

Commands:
  run       run a multi-worker Python web server and separate each worker's output
  export    write a task's production configuration (gunicorn.conf.py, systemd, a container image, Compose, Kubernetes)
  mcp       serve the agent tools over stdio to an MCP client (start servers, read a worker's lines, stacks)

"server-workers COMMAND --help" says what a command takes.`;

const COMMANDS: Record<string, (args: string[]) => Promise<number>> = {
  run: async (args) => (await import('./run')).runCommand(args),
  export: async (args) => (await import('./export')).exportCommand(args),
  mcp: async (args) => (await import('./mcp')).mcpCommand(args), // the MCP SDK loads only for this command
};

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === '-h' || command === '--help' || command === undefined) {
    (command === undefined ? process.stderr : process.stdout).write(`${USAGE}\n`);
    return command === undefined ? 2 : 0;
  }
  const handler = COMMANDS[command];
  if (handler === undefined) {
    process.stderr.write(`server-workers: unknown command "${command}". Did you mean "server-workers run"?\n\n${USAGE}\n`);
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
