// The nginx `location` block for a socket sockvisor holds, generated from the very same --socket
// value (and so the same SOCKVISOR_SOCKET), so that nginx's uwsgi_pass and the socket cannot drift.

export interface SnippetOptions {
  /** absolute socket path */
  path: string;
  /** the location's URI prefix */
  location: string;
  /** uwsgi: uwsgi_pass with uwsgi_params; http: proxy_pass (uWSGI --http-socket, gunicorn, uvicorn) */
  protocol: 'uwsgi' | 'http';
  /** the uwsgi_params file to include: relative names are looked up next to nginx.conf */
  params: string;
}

/** Quotes a value for nginx when it holds what nginx's tokenizer would split on. */
export function nginxQuote(value: string): string {
  return /^[^\s;{}"'\\#$]+$/.test(value) ? value : `"${value.replace(/["\\]/g, '\\$&')}"`;
}

/** The location block, four-space indented, ending with a newline. */
export function nginxSnippet(options: SnippetOptions): string {
  const body =
    options.protocol === 'http'
      ? [
          `proxy_pass ${nginxQuote(`http://unix:${options.path}:`)};`,
          'proxy_set_header Host $host;',
          'proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;',
          'proxy_set_header X-Forwarded-Proto $scheme;',
        ]
      : [`include ${nginxQuote(options.params)};`, `uwsgi_pass ${nginxQuote(`unix:${options.path}`)};`];
  return `location ${nginxQuote(options.location)} {\n${body.map((l) => `    ${l}\n`).join('')}}\n`;
}
