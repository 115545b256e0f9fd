/**
 * The `kubernetes` format: a kustomization of a Deployment (replicas from workers, one server process per pod,
 * probes, a memory limit, the graceful stop, non-root), a Service, preLaunch as a Job (once, not per pod), an Ingress
 * with a TLS secret when the task has a certificate, and a HorizontalPodAutoscaler left commented out.
 */
import { appName, headerLines } from './analysis';
import { exportContainer } from './container';
import { IMAGE_UID, imagePlan } from './image';
import { STOP_MARGIN_SECONDS } from './systemd';
import type { Caveat, ExportFile, ExportInput, ExportResult } from './types';
import { yamlText } from './yamlFile';

const NAME_LABEL = 'app.kubernetes.io/name';

export function exportKubernetes(input: ExportInput): ExportResult {
  const def = input.definition;
  const name = appName(input);
  const secretName = `${name}-env`;
  const plan = imagePlan(input, (key) => `put it in the Secret ${secretName} (kubectl create secret generic ${secretName} --from-literal=${key}=...)`, false);
  const image = exportContainer(input);
  const caveats: Caveat[] = [
    ...plan.caveats,
    ...image.caveats.filter((c) => !c.property.startsWith('env.') && c.property !== 'certfile, keyfile' && !plan.caveats.some((d) => d.message === c.message)),
  ];
  const tlsSecret = `${name}-tls`;
  const host = `${name}.example.com`;
  const https = def.certfile !== undefined && def.keyfile !== undefined;
  if (https) {
    caveats.push({ property: 'certfile, keyfile', message: `HTTPS ends at the Ingress: create its secret from them (kubectl create secret tls ${tlsSecret} --cert=... --key=...); the pods serve HTTP. Its host ${host} stands for your domain: set it in ingress.yaml.` });
  }
  if (def.restart === 'never') caveats.push({ property: 'restart', message: 'is "never", but a Deployment always restarts its pods: not carried over.' });
  const replicas = input.options.workersInContainer ? 1 : def.workers;
  const labels = { [NAME_LABEL]: name };
  const podSecurity = { runAsNonRoot: true, runAsUser: IMAGE_UID, runAsGroup: IMAGE_UID, seccompProfile: { type: 'RuntimeDefault' } };
  const containerSecurity = { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } };
  const env = plan.env.map((entry) => (entry.kind === 'plain'
    ? { name: entry.key, value: entry.value }
    : { name: entry.key, valueFrom: { secretKeyRef: { name: secretName, key: entry.key } } }));
  const probe = { httpGet: { path: input.options.healthPath, port: 'http' } };
  const container: Record<string, unknown> = {
    name,
    image: name,
    command: plan.argv,
    ports: [{ name: 'http', containerPort: plan.port }],
    ...(env.length > 0 ? { env } : {}),
    readinessProbe: { ...probe, periodSeconds: 5, timeoutSeconds: 3, failureThreshold: 3 },
    livenessProbe: { ...probe, initialDelaySeconds: 10, periodSeconds: 15, timeoutSeconds: 5, failureThreshold: 3 },
    ...(plan.memoryMb !== undefined ? { resources: { requests: { memory: `${plan.memoryMb}Mi` }, limits: { memory: `${plan.memoryMb}Mi` } } } : {}),
    securityContext: containerSecurity,
  };
  const deployment = {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, labels },
    spec: {
      replicas,
      selector: { matchLabels: labels },
      template: {
        metadata: { labels },
        spec: { terminationGracePeriodSeconds: def.gracefulTimeout + STOP_MARGIN_SECONDS, securityContext: podSecurity, containers: [container] },
      },
    },
  };
  const containerPath = ['spec', 'template', 'spec', 'containers', 0];
  const files: ExportFile[] = [{
    name: 'deployment.yaml',
    text: yamlText(deployment, headerLines(input, 'A Deployment', [], ['The image is the one the Dockerfile of the container format builds; kustomization.yaml names where it is pushed.']), [
      { at: ['spec', 'replicas'], text: input.options.workersInContainer ? `workers: the task's ${def.workers} in one pod (--workers-in-container)` : `workers ${def.workers}: as many pods, one server process each (the cluster replicates, not the server)` },
      { at: ['spec', 'template', 'spec', 'terminationGracePeriodSeconds'], text: `gracefulTimeout ${def.gracefulTimeout} s, and ${STOP_MARGIN_SECONDS} s more before the kubelet kills it` },
      { at: ['spec', 'template', 'spec', 'securityContext'], text: 'Not root: the image\'s own user' },
      { at: [...containerPath, 'command'], text: 'server, app, workerClass, timeout, args' },
      { at: [...containerPath, 'ports'], text: `bind: port ${def.port}; in a pod the server listens on every interface` },
      ...(env.length > 0 ? [{ at: [...containerPath, 'env'], text: `env; a secret from the Secret ${secretName}` }] : []),
      { at: [...containerPath, 'readinessProbe'], text: `--health-path ${input.options.healthPath}: set the path your app answers on (with 200; the probes' Host is the pod's IP, which an allowed-hosts list must accept)` },
      ...(plan.memoryMb !== undefined ? [{ at: [...containerPath, 'resources'], text: `maxMemoryMb ${def.maxMemoryMb}` }] : []),
    ]),
  }];
  files.push({
    name: 'service.yaml',
    text: yamlText({
      apiVersion: 'v1', kind: 'Service', metadata: { name, labels },
      spec: { selector: labels, ports: [{ name: 'http', port: 80, targetPort: 'http' }] },
    }, headerLines(input, 'A Service in front of the pods', [])),
  });
  if (def.preLaunch.length > 0) files.push(prelaunchJob(input, name, env, podSecurity, containerSecurity));
  if (https) {
    files.push({
      name: 'ingress.yaml',
      text: yamlText({
        apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', metadata: { name, labels },
        spec: {
          tls: [{ hosts: [host], secretName: tlsSecret }],
          rules: [{ host, http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name, port: { name: 'http' } } } }] } }],
        },
      }, headerLines(input, 'An Ingress that serves HTTPS', [], [`certfile, keyfile: kubectl create secret tls ${tlsSecret} --cert=${def.certfile ?? ''} --key=${def.keyfile ?? ''}`, `${host}: your domain, the name the certificate is for.`])),
    });
  }
  files.push(hpaFile(input, name, replicas));
  const resources = files.filter((f) => f.name !== 'hpa.yaml').map((f) => f.name);
  const kustomization = {
    apiVersion: 'kustomize.config.k8s.io/v1beta1',
    kind: 'Kustomization',
    resources,
    images: [{ name, newName: name, newTag: 'latest' }],
  };
  files.unshift({
    name: 'kustomization.yaml',
    text: yamlText(kustomization, headerLines(input, 'Kubernetes manifests (a kustomization)', caveats, [
      '',
      'Apply: kubectl apply -k <this folder>',
      ...(def.preLaunch.length > 0 ? [`The Job ${name}-prelaunch runs preLaunch once; a Job cannot change once made, so delete it before each deploy: kubectl delete job ${name}-prelaunch --ignore-not-found`] : []),
    ]), [
      { at: ['resources'], text: 'hpa.yaml (a HorizontalPodAutoscaler) is left out: choose its numbers, then add it here' },
      { at: ['images'], text: 'Where the image built from the Dockerfile is pushed: your registry and tag' },
    ]),
  });
  const next = [
    `Build the image with the container format's Dockerfile (server-workers export --format container), and push it where kustomization.yaml's images says`,
    ...(plan.env.some((e) => e.kind !== 'plain') ? [`Create the Secret: kubectl create secret generic ${secretName} ${plan.env.filter((e) => e.kind !== 'plain').map((e) => `--from-literal=${e.key}=...`).join(' ')}`] : []),
    ...(https ? [`Create the TLS secret: kubectl create secret tls ${tlsSecret} --cert=${def.certfile ?? ''} --key=${def.keyfile ?? ''}`] : []),
    `Apply: kubectl apply -k ${input.options.outDir}`,
  ];
  return { format: 'kubernetes', files, caveats, next };
}

function prelaunchJob(input: ExportInput, name: string, env: unknown[], podSecurity: object, containerSecurity: object): ExportFile {
  const def = input.definition;
  const steps = def.preLaunch.map((step, i) => ({
    name: `prelaunch-${i + 1}`,
    image: name,
    command: step[0] === 'python' ? ['python', ...step.slice(1)] : step,
    ...(env.length > 0 ? { env } : {}),
    securityContext: containerSecurity,
  }));
  const job = {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name: `${name}-prelaunch`, labels: { [NAME_LABEL]: name } },
    spec: {
      backoffLimit: def.restartMax,
      template: {
        spec: {
          restartPolicy: 'Never',
          securityContext: podSecurity,
          // Init containers run one after another, each to success: the steps in order, the last as the Job's container.
          ...(steps.length > 1 ? { initContainers: steps.slice(0, -1) } : {}),
          containers: [steps[steps.length - 1]],
        },
      },
    },
  };
  return {
    name: 'job-prelaunch.yaml',
    text: yamlText(job, headerLines(input, 'preLaunch as a Job: the steps run once, in order, not in every pod', []), [
      { at: ['spec', 'backoffLimit'], text: `restartMax ${def.restartMax}: tries after a failed run` },
    ]),
  };
}

/** A HorizontalPodAutoscaler, commented out: the numbers are the user's to choose. */
function hpaFile(input: ExportInput, name: string, replicas: number): ExportFile {
  const hpa = {
    apiVersion: 'autoscaling/v2',
    kind: 'HorizontalPodAutoscaler',
    metadata: { name },
    spec: {
      scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name },
      minReplicas: replicas,
      maxReplicas: replicas * 2,
      metrics: [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 70 } } }],
    },
  };
  const body = yamlText(hpa, [], [
    { at: ['spec', 'minReplicas'], text: `the task's workers (${input.definition.workers})` },
    { at: ['spec', 'maxReplicas'], text: 'choose: as many pods as the cluster can give the app' },
    { at: ['spec', 'metrics'], text: 'choose: CPU use that adds a pod; it needs resources.requests.cpu on the container (deployment.yaml)' },
  ]);
  const header = headerLines(input, 'A HorizontalPodAutoscaler, left commented out', [], [
    'To scale the Deployment with load: choose the numbers, remove the leading "# ", and add hpa.yaml to kustomization.yaml\'s resources.',
  ]);
  const lines = [...header.map((l) => (l === '' ? '#' : `# ${l}`)), '', ...body.trimEnd().split('\n').map((l) => `# ${l}`), ''];
  return { name: 'hpa.yaml', text: lines.join('\n') };
}
