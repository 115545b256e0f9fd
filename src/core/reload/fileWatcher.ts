/**
 * The CLI's watcher for reload on save (the extension uses VS Code's): chokidar, which watches each folder with the
 * kernel's notifications (inotify) and skips excluded folders while it walks the tree, so a virtualenv or
 * node_modules of tens of thousands of files is never read nor watched. (Node's recursive fs.watch has no exclusion:
 * on Linux it walks and watches everything under the root, virtualenvs included.) Editors' atomic saves (write a
 * temporary file, rename it over) come out as one change.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { type FSWatcher, watch } from 'chokidar';
import { folderExcluded, matchesAny, relativeForGlobs } from './globs';
import type { WatchScope } from './changeBatcher';

export class FileWatcher {
  private constructor(private readonly watcher: FSWatcher) {}

  /** Watches `scope`; `changed(file)` for every watched file added, changed or removed. Resolves once it watches. */
  static start(scope: WatchScope, changed: (file: string) => void): Promise<FileWatcher> {
    const ignored = (file: string, stats?: fs.Stats): boolean => {
      const relative = relativeForGlobs(scope.root, file);
      if (relative === undefined) return false; // the root itself
      if (folderExcluded(relative, scope.exclude)) return true;
      if (stats?.isDirectory()) return fs.existsSync(path.join(file, 'pyvenv.cfg')); // a virtualenv by another name
      return stats?.isFile() === true && !matchesAny(relative, scope.include);
    };
    const watcher = watch(scope.root, { ignoreInitial: true, ignored, followSymlinks: false });
    for (const event of ['add', 'change', 'unlink'] as const) watcher.on(event, (file: string) => changed(path.resolve(scope.root, file)));
    watcher.on('error', () => undefined); // a folder that vanished while being read: the others are still watched
    return new Promise((resolve) => watcher.once('ready', () => resolve(new FileWatcher(watcher))));
  }

  close(): Promise<void> {
    return this.watcher.close();
  }
}
