// Real unprivileged racers: python3 processes, each as a given user, calling connect() on a path in
// a tight loop while the test creates and removes sockets there. What they get through is what a
// local user could have got through.
import { spawn } from 'node:child_process';

const RACER = `
import socket, sys, time
path, seconds = sys.argv[1], float(sys.argv[2])
ok = tries = 0
end = time.monotonic() + seconds
while time.monotonic() < end:
    s = socket.socket(socket.AF_UNIX)
    try:
        s.connect(path); ok += 1
    except OSError:
        pass
    tries += 1
    s.close()
print(ok, tries)
`;

export interface RaceResult {
  /** connects that succeeded */
  ok: number;
  tries: number;
}

/**
 * Starts one racer per user on path for `seconds`, lets them loop, then calls round() `rounds`
 * times (each should create and remove a socket at path), with umask 000: the worst case for
 * any bind-then-chmod. Returns each racer's counts, in the order of `users`.
 */
export async function raceConnects(
  path: string,
  users: { uid: number; gid: number }[],
  rounds: number,
  round: () => Promise<void>,
  seconds = 3,
): Promise<RaceResult[]> {
  const racers = users.map(({ uid, gid }) => {
    const racer = spawn('/usr/bin/python3', ['-c', RACER, path, String(seconds)], { uid, gid, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    racer.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
    return new Promise<RaceResult>((resolve) =>
      racer.on('exit', () => {
        const [ok, tries] = out.trim().split(' ').map(Number);
        resolve({ ok: ok!, tries: tries! });
      }),
    );
  });
  const old = process.umask(0);
  try {
    await new Promise((r) => setTimeout(r, 200)); // let the racers start looping
    for (let i = 0; i < rounds; i++) await round();
  } finally {
    process.umask(old);
  }
  return Promise.all(racers);
}
