/**
 * Debounces file changes into reloads: the watched paths that changed are collected until none has changed for
 * `quietMs`, then handed over at once, so a save of many files or a `git checkout` is one reload. Paths outside the
 * root or not matched by the globs are dropped here, whatever watcher reported them.
 */
import { isWatched } from './globs';

export const DEFAULT_QUIET_MS = 200;

export interface WatchScope {
  /** The server's cwd: the globs are relative to it. */
  root: string;
  include: readonly string[];
  exclude: readonly string[];
}

export class ChangeBatcher {
  private readonly pending = new Set<string>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly scope: WatchScope,
    private readonly flush: (files: string[]) => void,
    private readonly quietMs = DEFAULT_QUIET_MS,
  ) {}

  /** A watcher saw `file` (absolute) change, appear or go. */
  changed(file: string): void {
    if (!isWatched(this.scope.root, file, this.scope.include, this.scope.exclude)) return;
    this.pending.add(file);
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => this.fire(), this.quietMs);
  }

  dispose(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.pending.clear();
  }

  private fire(): void {
    this.timer = undefined;
    const files = [...this.pending].sort();
    this.pending.clear();
    if (files.length > 0) this.flush(files);
  }
}
