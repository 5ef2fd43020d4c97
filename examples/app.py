"""The bundled example: a tiny WSGI app for uWSGI behind sockvisor.

GET /            -> "hello from uWSGI pid <master pid>" (kill -9 that pid: sockvisor restarts uWSGI)
GET /sleep?s=N   -> answers after N seconds (a request in flight during a restart or reload)
Every answer carries X-Worker-Pid: the worker that served it (nginx can log it: which generation answered)
SLOW_IMPORT=N    -> the app takes N seconds to import, like a large Django project
"""
import os
import time
from urllib.parse import parse_qs

try:
    import uwsgi  # present only under uWSGI

    def _server_pid():
        return uwsgi.masterpid() or os.getpid()
except ImportError:

    def _server_pid():
        return os.getpid()


time.sleep(float(os.environ.get("SLOW_IMPORT", "0")))


def application(environ, start_response):
    path = environ.get("PATH_INFO", "/")
    if path == "/sleep":
        seconds = float(parse_qs(environ.get("QUERY_STRING", "")).get("s", ["1"])[0])
        time.sleep(min(seconds, 60))
    body = f"hello from uWSGI pid {_server_pid()} (worker {os.getpid()})\n".encode()
    headers = [("Content-Type", "text/plain"), ("Content-Length", str(len(body))), ("X-Worker-Pid", str(os.getpid()))]
    start_response("200 OK", headers)
    return [body]
