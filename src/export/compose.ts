/**
 * The `compose` format: compose.yaml with the app's service built from the container format's Dockerfile (written
 * beside it): replicas from workers (one process each) or one container of N workers, a restart policy, a memory
 * limit, a health check, the certificate as Compose secrets, and preLaunch as one-off services the app waits for.
 */
import * as path from 'node:path';
import { appName, headerLines, placeOf } from './analysis';
import { exportContainer } from './container';
import { imagePlan, publishedPort, TLS_IN_CONTAINER } from './image';
import { STOP_MARGIN_SECONDS } from './systemd';
import type { Caveat, ExportInput, ExportResult } from './types';
import { type YamlComment, yamlText } from './yamlFile';

function composeSupply(key: string): string {
  return `set ${key} in the shell that runs docker compose, or in a .env file beside compose.yaml (never committed)`;
}

/** Compose interpolates `$` in values: a task's own `$` is written `$$`. */
function literal(value: string): string {
  return value.replace(/\$/g, '$$$$');
}

export function exportCompose(input: ExportInput): ExportResult {
  const def = input.definition;
  const name = appName(input);
  const plan = imagePlan(input, composeSupply, true);
  const container = exportContainer(input);
  const replicas = input.options.workersInContainer ? 1 : def.workers;
  const outDir = input.options.outDir;
  // Paths relative to compose.yaml when it is in the project (the tree can move), else as they are.
  const outInProject = placeOf(outDir, input.project.folder).inside;
  const fromOut = (file: string) => {
    if (!outInProject) return file;
    const relative = path.relative(outDir, file).split(path.sep).join('/');
    return relative === '' ? '.' : relative.startsWith('.') ? relative : `./${relative}`;
  };
  const dockerfile = path.join(outDir, 'Dockerfile');
  const build = { context: fromOut(input.project.folder), dockerfile: outInProject ? path.relative(input.project.folder, dockerfile).split(path.sep).join('/') : dockerfile };
  const environment: Record<string, string> = {};
  for (const entry of plan.env) {
    environment[entry.key] = entry.kind === 'plain' ? literal(entry.value) : `\${${entry.key}:?set ${entry.key}: see the top of compose.yaml}`;
  }
  // The image's own caveats (dependencies, paths), without those Compose answers its own way (env, certificates).
  const fromImage = container.caveats.filter((c) => !c.property.startsWith('env.') && c.property !== 'certfile, keyfile');
  const caveats: Caveat[] = [...plan.caveats, ...fromImage.filter((c) => !plan.caveats.some((d) => d.property === c.property && d.message === c.message))];
  const services: Record<string, unknown> = {};
  const comments: YamlComment[] = [];
  const steps = def.preLaunch.map((_step, i) => `${name}-prelaunch-${i + 1}`);
  for (const [i, step] of def.preLaunch.entries()) {
    services[steps[i]] = {
      build,
      image: name,
      command: (step[0] === 'python' ? ['python', ...step.slice(1)] : step).map(literal),
      restart: 'no',
      ...(Object.keys(environment).length > 0 ? { environment } : {}),
      ...(i > 0 ? { depends_on: { [steps[i - 1]]: { condition: 'service_completed_successfully' } } } : {}),
    };
    comments.push({ at: ['services', steps[i]], text: `preLaunch[${i}]: once, before the app starts${i > 0 ? ' (after the step before)' : ''}` });
  }
  const app: Record<string, unknown> = {
    build,
    image: name,
    command: plan.argv.map(literal),
    ports: [publishedPort(def.host, def.port, plan.port, replicas)],
  };
  if (Object.keys(environment).length > 0) app.environment = environment;
  const deploy: Record<string, unknown> = { replicas };
  if (plan.memoryMb !== undefined) deploy.resources = { limits: { memory: `${plan.memoryMb}M` } };
  app.deploy = deploy;
  app.restart = def.restart === 'on-failure' ? `on-failure:${def.restartMax}` : 'no';
  app.stop_grace_period = `${def.gracefulTimeout + STOP_MARGIN_SECONDS}s`;
  app.healthcheck = { test: ['CMD', ...plan.healthCheck], interval: '30s', timeout: '5s', retries: 3, start_period: '20s' };
  if (steps.length > 0) app.depends_on = { [steps[steps.length - 1]]: { condition: 'service_completed_successfully' } };
  const top: Record<string, unknown> = { services };
  if (plan.https && def.certfile && def.keyfile) {
    app.secrets = [{ source: 'tls_cert', target: path.posix.basename(TLS_IN_CONTAINER.certfile) }, { source: 'tls_key', target: path.posix.basename(TLS_IN_CONTAINER.keyfile) }];
    top.secrets = { tls_cert: { file: secretFile(input, def.certfile, fromOut, caveats, 'certfile') }, tls_key: { file: secretFile(input, def.keyfile, fromOut, caveats, 'keyfile') } };
    comments.push({ at: ['services', name, 'secrets'], text: 'certfile, keyfile: mounted in /run/secrets, never in the image' });
  }
  services[name] = app;
  comments.push(
    { at: ['services', name, 'command'], text: 'server, app, workers, workerClass, timeout, gracefulTimeout, args: the Dockerfile\'s CMD' },
    { at: ['services', name, 'ports'], text: `bind ${def.host}:${def.port}: published there${replicas > 1 ? ', one port per replica' : ''}` },
    {
      at: ['services', name, 'deploy'],
      text: input.options.workersInContainer
        ? `workers: the task's ${def.workers} in one container (--workers-in-container)`
        : `workers ${def.workers}: as many replicas, one server process each${plan.memoryMb !== undefined ? `; maxMemoryMb ${def.maxMemoryMb} per worker` : ''}`,
    },
    { at: ['services', name, 'restart'], text: `restart ${def.restart}, restartMax ${def.restartMax}; also brings the app back when Docker starts (autoStart)` },
    { at: ['services', name, 'stop_grace_period'], text: `gracefulTimeout ${def.gracefulTimeout} s, and ${STOP_MARGIN_SECONDS} s more before Docker kills it` },
    { at: ['services', name, 'healthcheck'], text: `--health-path ${input.options.healthPath}` },
  );
  if (app.environment) comments.push({ at: ['services', name, 'environment'], text: 'env' });
  const header = headerLines(input, 'A Compose file', caveats, [
    '',
    `The image is built from the Dockerfile beside this file (the container format): ${fromOut(path.join(outDir, 'Dockerfile'))}.`,
    'Start: docker compose up -d --build',
  ]);
  const compose = yamlText(top, header, comments);
  return {
    format: 'compose',
    files: [...container.files, { name: 'compose.yaml', text: compose }],
    caveats,
    next: [`Start: docker compose -f ${path.join(outDir, 'compose.yaml')} up -d --build`],
  };
}

function secretFile(input: ExportInput, file: string, fromOut: (file: string) => string, caveats: Caveat[], property: string): string {
  if (placeOf(file, input.project.folder).inside) return fromOut(file);
  caveats.push({ property, message: `${file} is outside the project: compose.yaml names it as it is, so it must exist on the machine that runs docker compose.` });
  return file;
}
