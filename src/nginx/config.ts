// Reading nginx's configuration the way nginx tokenizes it (ngx_conf_read_token): words split by
// blanks, `;` ends a directive, `{`/`}` open and close a block, `#` starts a comment at the start
// of a word, quotes group and backslash escapes. Pure: text in, directives with file and line out.
// `nginx -T` prints every file it read, each after a `# configuration file PATH:` line.

export interface Directive {
  name: string;
  args: string[];
  file: string;
  line: number;
  /** the directives of its block, when it has one */
  block?: Directive[];
}

export interface NginxConfigFile {
  path: string;
  directives: Directive[];
}

/** One place in nginx's configuration: FILE:LINE. */
export interface ConfigPlace {
  file: string;
  line: number;
}

interface Token {
  text: string;
  line: number;
  /** `;`, `{` or `}` rather than a word */
  special: boolean;
}

function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let line = 1;
  let i = 0;
  while (i < text.length) {
    const ch = text[i]!;
    if (ch === '\n') {
      line++;
      i++;
    } else if (ch === ' ' || ch === '\t' || ch === '\r') {
      i++;
    } else if (ch === '#') {
      while (i < text.length && text[i] !== '\n') i++;
    } else if (ch === ';' || ch === '{' || ch === '}') {
      tokens.push({ text: ch, line, special: true });
      i++;
    } else if (ch === '"' || ch === "'") {
      const start = line;
      let word = '';
      for (i++; i < text.length && text[i] !== ch; i++) {
        if (text[i] === '\\' && i + 1 < text.length) i++;
        if (text[i] === '\n') line++;
        word += text[i];
      }
      i++;
      tokens.push({ text: word, line: start, special: false });
    } else {
      const start = line;
      let word = '';
      while (i < text.length) {
        const c = text[i]!;
        if (c === ' ' || c === '\t' || c === '\r' || c === '\n' || c === ';') break;
        // `{` ends a word, except in a variable written ${name}.
        if (c === '{' && !word.endsWith('$')) break;
        if (c === '\\' && i + 1 < text.length) {
          word += text[i + 1];
          i += 2;
          continue;
        }
        word += c;
        i++;
      }
      tokens.push({ text: word, line: start, special: false });
    }
  }
  return tokens;
}

/** Parses one file's text into its directives (a syntax error ends the parse where it is). */
export function parseNginxConfig(text: string, file: string): Directive[] {
  const tokens = tokenize(text);
  let at = 0;
  const parseBlock = (): Directive[] => {
    const directives: Directive[] = [];
    while (at < tokens.length) {
      const first = tokens[at]!;
      if (first.special) {
        at++;
        if (first.text === '}') return directives;
        continue; // a stray ; or {
      }
      const directive: Directive = { name: first.text, args: [], file, line: first.line };
      for (at++; at < tokens.length && !tokens[at]!.special; at++) directive.args.push(tokens[at]!.text);
      const end = tokens[at];
      at++;
      if (end?.text === '{') directive.block = parseBlock();
      directives.push(directive);
    }
    return directives;
  };
  return parseBlock();
}

const DUMP_HEADER = /^# configuration file (.+):$/;

/** Splits the output of `nginx -T` into its files, in the order nginx read them (the main file first). */
export function parseNginxDump(dump: string): NginxConfigFile[] {
  const files: { path: string; lines: string[] }[] = [];
  for (const line of dump.split('\n')) {
    const header = DUMP_HEADER.exec(line);
    if (header) files.push({ path: header[1]!, lines: [] });
    else files.at(-1)?.lines.push(line);
  }
  return files.map((f) => ({ path: f.path, directives: parseNginxConfig(f.lines.join('\n'), f.path) }));
}

/** Every directive of a tree, depth first, with the names of the blocks around it. */
export function* walk(directives: Directive[], outer: Directive[] = []): Generator<{ directive: Directive; outer: Directive[] }> {
  for (const directive of directives) {
    yield { directive, outer };
    if (directive.block) yield* walk(directive.block, [...outer, directive]);
  }
}

/** nginx's `user USER [GROUP];` of the main context, with its place. */
export function userDirective(files: NginxConfigFile[]): { user: string; group?: string; place: ConfigPlace } | null {
  for (const file of files) {
    const directive = file.directives.find((d) => d.name === 'user' && !d.block && d.args.length >= 1);
    if (directive) {
      return {
        user: directive.args[0]!,
        ...(directive.args[1] ? { group: directive.args[1] } : {}),
        place: { file: directive.file, line: directive.line },
      };
    }
  }
  return null;
}

/** The `error_log` files of every context (not stderr, syslog: or memory:), with their places. */
export function errorLogFiles(files: NginxConfigFile[]): { path: string; place: ConfigPlace }[] {
  const logs: { path: string; place: ConfigPlace }[] = [];
  for (const file of files) {
    for (const { directive } of walk(file.directives)) {
      const target = directive.args[0];
      if (directive.name !== 'error_log' || !target || target === 'stderr' || /^(syslog|memory):/.test(target)) continue;
      logs.push({ path: target, place: { file: directive.file, line: directive.line } });
    }
  }
  return logs;
}

export const PASS_DIRECTIVES = ['uwsgi_pass', 'proxy_pass', 'fastcgi_pass', 'scgi_pass', 'grpc_pass'] as const;

/** Where nginx is told to connect to a unix socket, and from where. */
export interface UnixUpstream {
  path: string;
  /** the directive that names the path: a *_pass, or an upstream's `server` */
  place: ConfigPlace;
  directive: string;
  /** for an upstream's server: the upstream's name and the *_pass directives that use it */
  upstream?: string;
  usedBy?: (ConfigPlace & { directive: string })[];
}

/** What a *_pass argument points at: a unix path, an upstream (or host) name, or something only known per request. */
export function passTarget(directive: string, value: string): { unix: string } | { name: string } | { variable: true } {
  if (value.includes('$')) return { variable: true };
  const rest = value.replace(/^[a-z]+:\/\//i, '');
  if (rest.startsWith('unix:')) {
    const path = rest.slice('unix:'.length);
    // proxy_pass http://unix:/path:/uri - the path ends at the next colon (ngx_parse_unix_domain_url).
    if (directive === 'proxy_pass') {
      const colon = path.indexOf(':');
      return { unix: colon >= 0 ? path.slice(0, colon) : path };
    }
    return { unix: path };
  }
  return { name: rest.split(/[/:]/)[0]! };
}

/**
 * Every unix socket path nginx may connect to: the *_pass directives naming `unix:` directly, and
 * the `server unix:...` lines of upstream blocks, with the *_pass directives that use each upstream.
 * Paths that contain variables cannot be checked and are returned apart.
 */
export function findUnixUpstreams(files: NginxConfigFile[]): {
  upstreams: UnixUpstream[];
  unresolved: (ConfigPlace & { directive: string; value: string })[];
} {
  const passes: { directive: Directive; target: ReturnType<typeof passTarget> }[] = [];
  const upstreamServers: { name: string; server: Directive }[] = [];
  for (const file of files) {
    for (const { directive } of walk(file.directives)) {
      if ((PASS_DIRECTIVES as readonly string[]).includes(directive.name) && directive.args[0] !== undefined) {
        passes.push({ directive, target: passTarget(directive.name, directive.args[0]) });
      }
      if (directive.name === 'upstream' && directive.block && directive.args[0]) {
        for (const server of directive.block) {
          if (server.name === 'server' && !server.block && server.args[0]) upstreamServers.push({ name: directive.args[0], server });
        }
      }
    }
  }
  const upstreams: UnixUpstream[] = [];
  const unresolved: (ConfigPlace & { directive: string; value: string })[] = [];
  for (const { directive, target } of passes) {
    if ('unix' in target)
      upstreams.push({ path: target.unix, place: { file: directive.file, line: directive.line }, directive: directive.name });
    if ('variable' in target)
      unresolved.push({ file: directive.file, line: directive.line, directive: directive.name, value: directive.args[0]! });
  }
  for (const { name, server } of upstreamServers) {
    const target = server.args[0]!;
    if (!target.startsWith('unix:')) continue;
    const usedBy = passes
      .filter((p) => 'name' in p.target && p.target.name === name)
      .map((p) => ({ file: p.directive.file, line: p.directive.line, directive: p.directive.name }));
    upstreams.push({
      path: target.slice('unix:'.length),
      place: { file: server.file, line: server.line },
      directive: 'server',
      upstream: name,
      usedBy,
    });
  }
  return { upstreams, unresolved };
}
