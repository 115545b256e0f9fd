/**
 * The `container` format: a Dockerfile and its ignore file. A slim Python of the interpreter's minor version, the
 * project's dependencies from the files it has, a non-root user, a health check; one server process per container
 * unless --workers-in-container.
 */
import * as path from 'node:path';
import { appName, headerLines, IMAGE_ROOT, placeOf } from './analysis';
import { type ImagePlan, IMAGE_UID, imagePlan, missingServerPackages, publishedPort, TLS_IN_CONTAINER } from './image';
import { commentLines, shellCommand } from './quoting';
import type { Caveat, ExportFile, ExportInput, ExportResult } from './types';

/** Versions of the tools the image installs to read a lock file (pinned, as hadolint asks: DL3013). */
export const LOCK_TOOLS = { uv: 'uv==0.13.8', poetry: 'poetry==2.5.1' };

const DOCKERIGNORE = [
  '# What the image does not need, or must not hold (keys, local settings).',
  '.git', '.venv', 'venv', 'env', '**/__pycache__', '**/*.py[cod]', '.vscode', 'node_modules', '.pytest_cache', '.mypy_cache',
  '*.pem', '*.key', '.env', '.env.*', '*.sqlite3',
];

export function containerSupply(key: string): string {
  return `pass it when the container starts (docker run -e ${key} ..., or --env-file)`;
}

export function exportContainer(input: ExportInput): ExportResult {
  const plan = imagePlan(input, containerSupply, true);
  const name = appName(input);
  const { lines, caveats: depCaveats } = dependencyLines(input, plan);
  const caveats = [...plan.caveats, ...depCaveats, ...certificateCaveats(plan)];
  const runFlags = runOptions(input, plan);
  const build = buildCommand(input, name);
  const run = `docker run -d --name ${name} -p ${publishedPort(input.definition.host, input.definition.port, plan.port)} ${runFlags.join(' ')}${runFlags.length ? ' ' : ''}${name}`;
  const header = headerLines(input, 'A container image', caveats, [
    '',
    plan.command.workers === 1 && !input.options.workersInContainer
      ? 'One server process per container, as for a cluster: the cluster (or Compose) runs as many containers as the task has workers. For one machine, export with --workers-in-container to keep the task\'s workers in one container.'
      : `The task's ${plan.command.workers} workers in one container (--workers-in-container): for one machine. For a cluster, export without it (one process per container).`,
    `Build: ${build}`,
    `Run: ${run}`,
    ...(input.definition.preLaunch.length > 0 ? ['Before the first run and each deploy (preLaunch), once:', ...input.definition.preLaunch.map((s) => `  docker run --rm ${name} ${shellCommand(s)}`)] : []),
  ]);
  const docker: string[] = [
    '# syntax=docker/dockerfile:1',
    ...commentLines(header),
    `# python ${input.project.pythonVersion}: the same minor version`,
    `FROM python:${minorVersion(input.project.pythonVersion)}-slim`,
    '',
    'ENV PYTHONDONTWRITEBYTECODE=1 \\',
    '    PYTHONUNBUFFERED=1 \\',
    '    PIP_DISABLE_PIP_VERSION_CHECK=1',
    '# A user without a login and without root\'s rights; numeric, so Kubernetes can check runAsNonRoot.',
    `RUN useradd --no-log-init --system --uid ${IMAGE_UID} --user-group --no-create-home app`,
    `WORKDIR ${IMAGE_ROOT}`,
    '',
    ...lines,
    '',
    `USER ${IMAGE_UID}:${IMAGE_UID}`,
  ];
  if (plan.workdir !== IMAGE_ROOT) docker.push('# cwd', `WORKDIR ${plan.workdir}`);
  const plain = plan.env.filter((e) => e.kind === 'plain');
  if (plain.length > 0) docker.push('# env', `ENV ${plain.map((e) => `${e.key}=${dockerValue(e.value)}`).join(' \\\n    ')}`);
  docker.push(
    '# bind: the port; inside a container the server listens on every interface',
    `EXPOSE ${plan.port}`,
    `# --health-path ${input.options.healthPath}`,
    `HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 CMD ${JSON.stringify(plan.healthCheck)}`,
    `# gracefulTimeout ${input.definition.gracefulTimeout} s: the server stops gracefully on SIGTERM; give docker stop that long (-t ${input.definition.gracefulTimeout + 5})`,
    'STOPSIGNAL SIGTERM',
    '# server, app, workers, workerClass, timeout, args',
    `CMD ${JSON.stringify(plan.argv)}`,
    '',
  );
  const contextIsOut = path.resolve(input.options.outDir) === path.resolve(input.project.folder);
  const files: ExportFile[] = [
    { name: 'Dockerfile', text: docker.join('\n') },
    // Outside the build context, BuildKit reads the ignore file named after the Dockerfile, beside it.
    { name: contextIsOut ? '.dockerignore' : 'Dockerfile.dockerignore', text: `${DOCKERIGNORE.join('\n')}\n` },
  ];
  return { format: 'container', files, caveats, next: [`Build: ${build}`, `Run: ${run}`] };
}

export function minorVersion(version: string): string {
  return version.split('.').slice(0, 2).join('.');
}

/** `docker build` of the project, with this Dockerfile wherever it was written. */
export function buildCommand(input: ExportInput, name: string): string {
  const dockerfile = path.join(input.options.outDir, 'Dockerfile');
  const contextIsOut = path.resolve(input.options.outDir) === path.resolve(input.project.folder);
  return contextIsOut ? `docker build -t ${name} ${shellCommand([input.project.folder])}` : `docker build -t ${name} -f ${shellCommand([dockerfile])} ${shellCommand([input.project.folder])}`;
}

/** What `docker run` needs that an image cannot say: secrets, certificates, the memory limit, the restart policy. */
function runOptions(input: ExportInput, plan: ImagePlan): string[] {
  const def = input.definition;
  const options: string[] = [];
  for (const entry of plan.env) if (entry.kind !== 'plain') options.push(`-e ${entry.key}`);
  if (plan.https && def.certfile && def.keyfile) {
    options.push(`-v ${shellCommand([def.certfile])}:${TLS_IN_CONTAINER.certfile}:ro`, `-v ${shellCommand([def.keyfile])}:${TLS_IN_CONTAINER.keyfile}:ro`);
  }
  if (plan.memoryMb !== undefined) options.push(`--memory ${plan.memoryMb}m`);
  options.push(def.restart === 'on-failure' ? `--restart on-failure:${def.restartMax}` : '--restart no');
  return options;
}

function certificateCaveats(plan: ImagePlan): Caveat[] {
  if (!plan.https) return [];
  return [{ property: 'certfile, keyfile', message: `are not copied into the image (a key does not belong in one): mount them at ${TLS_IN_CONTAINER.certfile} and ${TLS_IN_CONTAINER.keyfile} when it runs (the -v options of the Run line).` }];
}

/** The Dockerfile's steps that install the project's dependencies, and copy the project. */
function dependencyLines(input: ExportInput, plan: ImagePlan): { lines: string[]; caveats: Caveat[] } {
  const deps = input.project.dependencies;
  const folder = input.project.folder;
  const missing = missingServerPackages(input, plan);
  // The server packages the dependency file does not name go in the same RUN (one layer, as hadolint's DL3059 asks).
  const pins = missing.pins.join(' ');
  const withPins = (command: string) => (pins ? `${command} ${pins}` : command);
  const rel = (file: string) => {
    const place = placeOf(file, folder);
    return place.inside ? place.relative : path.basename(file);
  };
  const dir = (file: string) => path.posix.dirname(rel(file));
  const copy = (files: string[]) => `COPY ${files.map(rel).join(' ')} ./${dir(files[0]) === '.' ? '' : `${dir(files[0])}/`}`;
  switch (deps.kind) {
    case 'requirements':
      return install('The dependencies first: this layer is built again only when they change.', copy([deps.file]), [withPins(`pip install --no-cache-dir -r ${rel(deps.file)}`)], missing.caveats);
    case 'uv':
      return install('The dependencies first, as uv.lock pins them (without the dev group): built again only when they change.', copy([deps.file, deps.lock]), [
        `pip install --no-cache-dir ${LOCK_TOOLS.uv}`,
        `uv export --frozen --no-dev --no-emit-project --project ${dir(deps.file)} -o /tmp/requirements.txt`,
        withPins('pip install --no-cache-dir -r /tmp/requirements.txt'),
      ], missing.caveats);
    case 'poetry':
      return install('The dependencies first, as poetry.lock pins them (the main group): built again only when they change.', copy([deps.file, deps.lock]), [
        withPins(`pip install --no-cache-dir ${LOCK_TOOLS.poetry}`),
        'poetry config virtualenvs.create false',
        `poetry install --directory ${dir(deps.file)} --only main --no-root --no-interaction`,
      ], missing.caveats);
    case 'pyproject':
      return {
        lines: ['COPY . .', `RUN ${withPins(`pip install --no-cache-dir ./${dir(deps.file) === '.' ? '' : dir(deps.file)}`)}`],
        caveats: [{ property: 'dependencies', message: `${rel(deps.file)} has no lock file (uv.lock, poetry.lock) beside it: the image installs the newest versions its ranges allow, not the ones you tested.` }, ...missing.caveats],
      };
    case 'none':
      return {
        lines: ['COPY . .', ...(pins ? [`RUN pip install --no-cache-dir ${pins}`] : [])],
        caveats: [{ property: 'dependencies', message: 'the project has no requirements.txt, pyproject.toml, uv.lock or poetry.lock: the image installs only the server. Add a requirements.txt with what the app imports.' }, ...missing.caveats],
      };
  }
}

/** The dependency files copied first, then one RUN of `commands` (a layer rebuilt only when they change), then the project. */
function install(comment: string, copy: string, commands: string[], caveats: Caveat[]): { lines: string[]; caveats: Caveat[] } {
  return { lines: [`# ${comment}`, copy, `RUN ${commands.join(' \\\n    && ')}`, '', 'COPY . .'], caveats };
}

/** An ENV value: bare when safe, else double-quoted; `$` escaped so Docker does not expand it. */
function dockerValue(value: string): string {
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(value)) return value;
  return `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\$/g, '\\$')}"`;
}
