#!/usr/bin/env bash
# The quick start: the bundled WSGI app under uWSGI behind sockvisor, nginx (workers as www-data) on
# 127.0.0.1:8080. Run as root on Debian 12; installs what is missing, then runs in the foreground.
# Ctrl-C stops sockvisor (which stops uWSGI and removes the socket) and nginx.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
port=${PORT:-8080}
socket=${SOCKET:-/run/sockvisor-example/app.sock}

if [ "$(id -u)" -ne 0 ]; then
  echo "run-example.sh: run it as root (it installs packages and starts nginx as www-data); for a setup without sudo, see docs/deployment.md, 'A developer machine without sudo'." >&2
  exit 2
fi

missing=$(grep -v '^#' scripts/debian-packages.txt | while read -r pkg; do dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || echo "$pkg"; done)
if [ -n "$missing" ]; then
  echo "== installing: $missing"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # shellcheck disable=SC2086
  apt-get install -y -qq --no-install-recommends $missing
fi
[ -d node_modules ] || npm ci
[ -f build/Release/sockvisor.node ] || npm run build
[ -f dist/src/cli/sockvisor.js ] || npm run build:ts

# nginx and the app live in a scratch folder that www-data and nobody can read.
work=$(mktemp -d /tmp/sockvisor-example.XXXXXX)
chmod 755 "$work"
cp examples/app.py "$work/app.py"
chmod 644 "$work/app.py"
mkdir -p "$work/nginx"
sed -e "s|@PREFIX@|$work/nginx|g" -e "s|@PORT@|$port|g" examples/nginx.conf.in >"$work/nginx/nginx.conf"
# The location block comes from the same --socket value sockvisor gets below: they cannot drift.
# (nginx looks for a relative uwsgi_params next to this nginx.conf, so name Debian's file.)
node "$repo/dist/src/cli/sockvisor.js" nginx-snippet -s "$socket" --params /etc/nginx/uwsgi_params >"$work/nginx/app-location.conf"

nginx_pid=""
cleanup() {
  if [ -n "$nginx_pid" ] && kill -0 "$nginx_pid" 2>/dev/null; then kill -QUIT "$nginx_pid"; fi
  rm -rf "$work"
}
trap cleanup EXIT
nginx -p "$work/nginx" -c "$work/nginx/nginx.conf" -e "$work/nginx/error.log"
for _ in $(seq 100); do [ -s "$work/nginx/nginx.pid" ] && break; sleep 0.05; done
nginx_pid=$(cat "$work/nginx/nginx.pid")

cat <<MSG
== nginx (pid $nginx_pid, workers as www-data) listens on http://127.0.0.1:$port/ and passes to unix:$socket
== try, in another terminal:
     curl http://127.0.0.1:$port/            # hello from uWSGI pid N
     kill -9 N; curl http://127.0.0.1:$port/ # still 200: same socket, new uWSGI
     ls -l $socket                           # srw-rw---- root www-data, every time
     node $repo/dist/src/cli/sockvisor.js doctor --nginx -c $work/nginx/nginx.conf -p $work/nginx
                                             # every check as www-data, all [ok]
== Ctrl-C stops it all.
MSG

# The socket: root:www-data 0660 (nginx's group may write, no one else). uWSGI runs as nobody.
# In the foreground: Ctrl-C reaches sockvisor, which stops uWSGI (SIGINT), removes the socket and
# exits 0; then the EXIT trap stops nginx.
node "$repo/dist/src/cli/sockvisor.js" -s "$socket" --socket-owner root:www-data --socket-mode 0660 \
  --user nobody --group nogroup --log-format pretty -- \
  uwsgi --plugin python3 --master --processes 2 --wsgi-file "$work/app.py" --need-app --disable-logging
