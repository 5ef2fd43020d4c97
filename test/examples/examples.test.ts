// The container examples people copy: the Kubernetes manifests validate against the Kubernetes
// schemas (kubernetes-models' compiled OpenAPI validators, offline), the compose file against
// docker-compose's own schema (`docker-compose config`, Debian's docker-compose, no daemon needed),
// and the files agree with each other and with sockvisor's config, so they cannot drift apart.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, test } from 'node:test';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Service } from 'kubernetes-models/v1/Service';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { parseMode } from '../../src/socket/mode.js';
import { composeYaml, dockerfile, kubernetesYaml, manifestOf, readPodExample, sockvisorToml, type Manifest } from '../helpers/examples.js';
import { repoRoot } from '../helpers/sockvisor.js';
import { cleanupTempDirs, makeTempDir } from '../helpers/tmp.js';

const run = promisify(execFile);
after(cleanupTempDirs);

const MODELS: Record<string, new (data: never) => { validate(): void }> = {
  'v1/ConfigMap': ConfigMap as never,
  'v1/Service': Service as never,
  'apps/v1/Deployment': Deployment as never,
};

/** Validates one manifest against the schema of its apiVersion and kind; throws with the schema's complaint. */
function validateManifest(manifest: Manifest): void {
  const Model = MODELS[`${manifest.apiVersion}/${manifest.kind}`];
  assert.ok(Model, `no schema here for ${manifest.apiVersion} ${manifest.kind}`);
  new Model(manifest as never).validate();
}

/** `docker-compose -f FILE config -q`: exit 0 and nothing said, or the complaint. */
async function composeConfig(file: string): Promise<{ ok: boolean; said: string }> {
  try {
    const { stdout, stderr } = await run('docker-compose', ['-f', file, 'config', '-q']);
    return { ok: true, said: stdout + stderr };
  } catch (error) {
    const e = error as { stdout?: string; stderr?: string; message: string };
    return { ok: false, said: `${e.stdout ?? ''}${e.stderr ?? ''}` || e.message };
  }
}

test('the Kubernetes manifests validate against the Kubernetes schemas, and the validator does refuse a wrong one', () => {
  const example = readPodExample();
  assert.deepEqual(
    example.manifests.map((m) => m.kind),
    ['ConfigMap', 'Deployment', 'Service'],
  );
  for (const manifest of example.manifests) {
    assert.doesNotThrow(() => validateManifest(manifest), `${manifest.kind} ${manifest.metadata.name}`);
  }
  // The same Deployment with a port written as a word, and with a probe missing its handler's port: refused.
  const broken = structuredClone(manifestOf(example, 'Deployment'));
  broken.spec.template.spec.containers[0].ports[0].containerPort = 'probes';
  assert.throws(() => validateManifest(broken), /containerPort must be integer/);
  const noPort = structuredClone(manifestOf(example, 'Deployment'));
  delete noPort.spec.template.spec.containers[0].readinessProbe.httpGet.port;
  assert.throws(() => validateManifest(noPort), /port/);
});

test('the compose file is valid for docker-compose, which also refuses a typo and an undeclared volume', async () => {
  const checked = await composeConfig(composeYaml);
  assert.ok(checked.ok, `docker-compose config refused ${composeYaml}: ${checked.said}`);
  const dir = await makeTempDir('sockvisor-compose-');
  const text = readFileSync(composeYaml, 'utf8');
  const typo = join(dir, 'typo.yaml');
  writeFileSync(typo, text.replace('stop_grace_period:', 'stop_grace_periods:'));
  assert.match((await composeConfig(typo)).said, /Unsupported config option for services\.app: 'stop_grace_periods'/);
  const undeclared = join(dir, 'undeclared.yaml');
  writeFileSync(undeclared, text.replace(/\nvolumes:[\s\S]*$/, '\n'));
  const said = (await composeConfig(undeclared)).said;
  assert.match(said, /Named volume "run-app:\/run\/app(:rw)?" is used in service "app" but no declaration was found/);
});

test("the examples agree: socket path, nginx's uwsgi_pass, the volume, fsGroup, probe port, grace periods; nothing is 0666", () => {
  const example = readPodExample();
  const { config, socketPath, socketDir } = example;
  const deployment = manifestOf(example, 'Deployment');
  const pod = deployment.spec.template.spec;
  const app = pod.containers.find((c: { name: string }) => c.name === 'app');
  const nginx = pod.containers.find((c: { name: string }) => c.name === 'nginx');
  assert.ok(app && nginx, 'the pod should have an app and an nginx container');

  // nginx passes to the socket sockvisor holds; the ConfigMap is examples/container/nginx.conf.
  assert.match(example.nginxServer, new RegExp(`uwsgi_pass unix:${socketPath};`));
  assert.equal(manifestOf(example, 'ConfigMap').data['default.conf'], example.nginxServer);
  // Both containers mount the shared volume at the socket's folder, an emptyDir.
  const volume = pod.volumes.find((v: { emptyDir?: object }) => v.emptyDir !== undefined);
  const mounts = (c: { volumeMounts: { name: string; mountPath: string }[] }): boolean =>
    c.volumeMounts.some((m) => m.name === volume.name && m.mountPath === socketDir);
  for (const c of [app, nginx]) assert.ok(mounts(c), `${c.name} does not mount ${volume.name} at ${socketDir}`);
  for (const name of ['app', 'nginx']) {
    const volumes = example.compose.services[name].volumes as string[];
    assert.ok(volumes.includes(`run-app:${socketDir}`), `compose's ${name} does not mount run-app at ${socketDir}`);
  }

  // The socket's group is the pod's fsGroup; the mode lets no other user in.
  assert.equal(pod.securityContext.fsGroup, example.socketGroup);
  const mode = parseMode(config.options.socketMode!);
  assert.equal(mode & 0o007, 0, `socket-mode ${config.options.socketMode} lets other users in`);
  assert.ok(!/0?666/.test(readFileSync(kubernetesYaml, 'utf8') + readFileSync(composeYaml, 'utf8')), 'an example mentions 0666');

  // The probes ask sockvisor's --probe port: /ready for readiness, /live for liveness.
  const probePort = Number(/:(\d+)$/.exec(config.options.probe ?? '')?.[1]);
  assert.equal(app.ports.find((p: { name: string }) => p.name === app.readinessProbe.httpGet.port).containerPort, probePort);
  assert.equal(app.readinessProbe.httpGet.path, '/ready');
  assert.equal(app.livenessProbe.httpGet.path, '/live');
  assert.equal(app.livenessProbe.httpGet.port, app.readinessProbe.httpGet.port);
  assert.match(example.compose.services.app.healthcheck.test.join(' '), new RegExp(`127\\.0\\.0\\.1:${probePort}/ready`));

  // The kubelet's and docker's SIGKILL come after sockvisor's own stop-timeout, with margin.
  const grace = pod.terminationGracePeriodSeconds as number;
  assert.ok(grace >= example.stopTimeoutS + 5, `terminationGracePeriodSeconds ${grace} vs stop-timeout ${example.stopTimeoutS}`);
  assert.ok(Number.parseInt(example.compose.services.app.stop_grace_period, 10) >= example.stopTimeoutS + 5);

  // The image runs sockvisor as PID 1 (exec form) with this config file.
  const docker = readFileSync(dockerfile, 'utf8');
  const target = /^COPY examples\/container\/sockvisor\.toml (\S+)$/m.exec(docker)?.[1];
  assert.ok(target, 'the Dockerfile does not copy sockvisor.toml');
  assert.match(docker, new RegExp(`^ENV SOCKVISOR_CONFIG=${target}$`, 'm'));
  assert.match(docker, /^ENTRYPOINT \["sockvisor"\]$/m);
  // `sockvisor` there is the package's bin: the file with the #! line (another file would not execute).
  const bin = (JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { bin: { sockvisor: string } }).bin.sockvisor;
  const link = /^RUN ln -s \/usr\/local\/lib\/node_modules\/sockvisor\/(\S+) \/usr\/local\/bin\/sockvisor$/m.exec(docker)?.[1];
  assert.equal(link, bin, 'the Dockerfile links /usr/local/bin/sockvisor to another file than the package.json bin');
  assert.match(docker, new RegExp(`^RUN useradd --uid ${example.appUid} `, 'm'));
  assert.ok(app.command === undefined && app.args === undefined, 'the app container overrides the image entrypoint');
  // The emptyDir (0777 from the kubelet) is made go-w by an init container before sockvisor starts.
  const init = pod.initContainers?.[0];
  assert.deepEqual(init?.command, ['chmod', 'go-w', socketDir]);
  assert.ok(mounts(init), `the init container does not mount ${volume.name} at ${socketDir}`);

  // Every id the config names is explained in a comment of each file that relies on it.
  for (const [file, ids] of [
    [sockvisorToml, [0, example.appUid, example.allowUid, example.socketGroup]],
    [kubernetesYaml, [0, example.appUid, example.allowUid, example.socketGroup]],
    [composeYaml, [0, example.appUid, example.allowUid, example.socketGroup]],
  ] as const) {
    const comments = readFileSync(file, 'utf8')
      .split('\n')
      .filter((l) => l.trim().startsWith('#'))
      .join('\n');
    for (const id of ids) assert.match(comments, new RegExp(`\\b${id}\\b`), `${file} does not explain the id ${id} in a comment`);
  }
});
