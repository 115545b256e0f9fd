/**
 * The one platform servers run on: Linux. The core reads /proc to admit workers, sample them and find their
 * descendants, the master's watchdog is a child subreaper, and the debugger admits its user's processes only by
 * SO_PEERCRED: none of them is on macOS or Windows. Tested on Linux locally, in WSL 2, over Remote-SSH and in Dev
 * Containers, which are also the way from another system: the server runs where the workspace is.
 */

const NAMES: Partial<Record<NodeJS.Platform, string>> = { darwin: 'macOS', win32: 'Windows' };

/** Why a server cannot start on `platform` (a `process.platform` value), or undefined on Linux. */
export function unsupportedPlatformMessage(platform: NodeJS.Platform): string | undefined {
  if (platform === 'linux') return undefined;
  const name = NAMES[platform] ? `${NAMES[platform]} (${platform})` : platform;
  const route = platform === 'win32'
    ? 'Open the folder in WSL (the WSL extension: "WSL: Reopen Folder in WSL") or in a Dev Container'
    : 'Open the folder in a Dev Container (the Dev Containers extension: "Dev Containers: Reopen in Container") or on a Linux machine over Remote-SSH';
  return `Server Workers runs servers on Linux only, and this is ${name}: it reads /proc to find and sample the workers and uses SO_PEERCRED to admit the debugger, which ${name} does not have. ${route}: the server then runs on Linux, and the editor stays where it is.`;
}
