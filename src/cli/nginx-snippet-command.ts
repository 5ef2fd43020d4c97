// `sockvisor nginx-snippet -s PATH`: prints the nginx location block for the socket run would hold
// with the same -s (or SOCKVISOR_SOCKET), so the two are written from one value.
import type { Argv, ArgumentsCamelCase } from 'yargs';
import { UsageError } from '../errors.js';
import { socketPathOf, socketsFromEnv } from './socket-env.js';

interface SnippetArgs {
  socket?: string | string[];
  location: string;
  protocol: 'uwsgi' | 'http';
  params: string;
}

export const command = 'nginx-snippet';
export const describe = 'print the nginx location block that passes to the socket (same -s as run)';

export function builder(yargs: Argv): Argv<SnippetArgs> {
  return yargs
    .usage('$0 nginx-snippet -s PATH [--location URI] [--protocol uwsgi|http] [--params FILE]')
    .option('socket', {
      alias: 's',
      type: 'string',
      describe: 'the socket, exactly as given to run: PATH or NAME=PATH (default: SOCKVISOR_SOCKET)',
    })
    .option('location', { type: 'string', default: '/', describe: 'the location to serve from the socket' })
    .option('protocol', {
      choices: ['uwsgi', 'http'] as const,
      default: 'uwsgi' as const,
      describe: 'uwsgi: uwsgi_pass (uWSGI --socket); http: proxy_pass (uWSGI --http-socket, gunicorn, uvicorn)',
    })
    .option('params', {
      type: 'string',
      default: 'uwsgi_params',
      describe: 'the uwsgi_params file to include (relative: next to nginx.conf)',
    })
    .example(
      '$0 nginx-snippet -s /run/app/app.sock > /etc/nginx/snippets/app.conf',
      'then include it in a server block',
    ) as unknown as Argv<SnippetArgs>;
}

export async function handler(argv: ArgumentsCamelCase<SnippetArgs>): Promise<void> {
  // Loaded here, not at the top: every other command (run above all) would pay for loading it.
  const { nginxSnippet } = await import('../nginx/snippet.js');
  const values = argv.socket === undefined ? socketsFromEnv() : ([] as string[]).concat(argv.socket);
  try {
    if (values.length !== 1) {
      throw new UsageError(
        `nginx-snippet prints the block for one socket, but ${values.length === 0 ? 'none was given' : `${values.length} were given`}: give exactly one -s PATH, the same as to run.`,
      );
    }
    const path = socketPathOf(values[0]!, 'nginx-snippet');
    process.stdout.write(nginxSnippet({ path, location: argv.location, protocol: argv.protocol, params: argv.params }));
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`sockvisor nginx-snippet: ${error.message}\n`);
    process.exitCode = error.exitCode;
  }
}
