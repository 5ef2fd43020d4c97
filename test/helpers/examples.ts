// The container examples as files people copy (examples/container, examples/kubernetes,
// examples/compose), read once: the pod test runs with exactly these options, the examples test
// checks that the files agree with each other.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parse, parseAllDocuments } from 'yaml';
import { readConfigFile, type ConfigFile } from '../../src/config/config-file.js';
import { repoRoot } from './sockvisor.js';

export const examplesDir = join(repoRoot, 'examples');
/** sockvisor's options for the app container (the image's /etc/sockvisor/app.toml). */
export const sockvisorToml = join(examplesDir, 'container', 'sockvisor.toml');
/** The nginx sidecar's server block (conf.d/default.conf). */
export const nginxServerConf = join(examplesDir, 'container', 'nginx.conf');
export const dockerfile = join(examplesDir, 'container', 'Dockerfile');
export const kubernetesYaml = join(examplesDir, 'kubernetes', 'app.yaml');
export const composeYaml = join(examplesDir, 'compose', 'compose.yaml');

// The manifests are plain data here: the examples test validates them against the schemas.
export type Manifest = { apiVersion: string; kind: string; metadata: { name: string }; [key: string]: any };

export interface PodExample {
  config: ConfigFile;
  /** the one socket of the config, as the app container sees it */
  socketPath: string;
  socketDir: string;
  /** the numeric ids the config names */
  socketGroup: number;
  allowUid: number;
  appUid: number;
  stopTimeoutS: number;
  /** the text of examples/container/nginx.conf */
  nginxServer: string;
  manifests: Manifest[];
  compose: any;
}

/** Reads and parses every example file (YAML errors throw, naming the file). */
export function readPodExample(): PodExample {
  const config = readConfigFile(sockvisorToml, examplesDir);
  const sockets = config.options.socket ?? [];
  if (sockets.length !== 1) throw new Error(`${sockvisorToml} should name one socket, not ${sockets.length}`);
  const socketPath = sockets[0]!;
  const documents = parseAllDocuments(readFileSync(kubernetesYaml, 'utf8'));
  const manifests = (Array.isArray(documents) ? documents : [documents]).map((doc) => {
    if (doc.errors.length > 0) throw new Error(`${kubernetesYaml}: ${doc.errors.map((e) => e.message).join('; ')}`);
    return doc.toJS() as Manifest;
  });
  return {
    config,
    socketPath,
    socketDir: dirname(socketPath),
    socketGroup: Number(config.options.socketGroup),
    allowUid: Number(config.options.socketAllow?.[0]),
    appUid: Number(config.options.user),
    stopTimeoutS: Number(config.options.stopTimeout),
    nginxServer: readFileSync(nginxServerConf, 'utf8'),
    manifests,
    compose: parse(readFileSync(composeYaml, 'utf8')),
  };
}

/** The manifest of that kind (and name), or an error naming what is missing. */
export function manifestOf(example: PodExample, kind: string): Manifest {
  const found = example.manifests.find((m) => m.kind === kind);
  if (!found) throw new Error(`${kubernetesYaml} has no ${kind}`);
  return found;
}
