/** What an export takes and gives: a resolved task and facts of its project in, files and what was not carried out. */
import type { ResolvedDefinition } from '../core/definition';
import type { PythonEnvironment } from '../core/pythonEnvironment';

export type ExportFormat = 'gunicorn' | 'systemd' | 'container' | 'compose' | 'kubernetes';
export const EXPORT_FORMATS: readonly ExportFormat[] = ['gunicorn', 'systemd', 'container', 'compose', 'kubernetes'];

/** How the project installs its dependencies, from the files it has (looked for in the task's cwd, then the project). */
export type DependencySource =
  | { kind: 'requirements'; file: string; text: string }
  | { kind: 'uv'; file: string; lock: string; text: string }
  | { kind: 'poetry'; file: string; lock: string; text: string }
  | { kind: 'pyproject'; file: string; text: string }
  | { kind: 'none' };

/** What an export needs of the project besides the definition (src/export/project.ts gathers it from disk). */
export interface ProjectFacts {
  /** The project's folder (the task's workspace folder): the image's build context, the root of relative paths. */
  folder: string;
  /** The interpreter's version, e.g. "3.11.7": the image's Python is its minor version. */
  pythonVersion: string;
  /** The versions of the server packages in the task's environment. */
  packages: PythonEnvironment['packages'];
  dependencies: DependencySource;
}

export interface ExportOptions {
  /** Keep the task's N workers in one container (one machine), instead of one server process per container. */
  workersInContainer: boolean;
  /** The path the health checks and probes request (default "/"). */
  healthPath: string;
  /** The folder the files are written to: paths in them are relative to it where a file refers to another. */
  outDir: string;
}

/**
 * A task variable the export kept as written (`${env:NAME}`, `${input:...}`): only where it can be carried as a
 * reference (an `env` value); `where` is its place in the task (`env.DATABASE_URL`).
 */
export interface KeptVariable {
  where: string;
  variable: string;
}

export interface ExportInput {
  definition: ResolvedDefinition;
  project: ProjectFacts;
  options: ExportOptions;
  kept: readonly KeptVariable[];
}

export interface ExportFile {
  /** Relative to the output folder. */
  name: string;
  text: string;
  /** A script to run (serve.sh). */
  executable?: boolean;
}

/** Something of the task that a format could not carry over as it is: said in the file and in the answer. */
export interface Caveat {
  /** The task property, as written in tasks.json (`env.SECRET_KEY`, `certfile`). */
  property: string;
  message: string;
}

export interface ExportResult {
  format: ExportFormat;
  files: ExportFile[];
  caveats: Caveat[];
  /** What to run next (start the server, build the image, apply the manifests): one line each. */
  next: string[];
}
