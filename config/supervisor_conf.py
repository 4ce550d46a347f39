"""Generate the supervisord config that runs the system: Daphne ×WEB_PROCESSES on one socket, the workers.

Standard library only. The same text serves the run command (with the embedded PostgreSQL and
Redis as programs too), the tests (against the test run's services) and production (against
DATABASE_URL / REDIS_URL). Children inherit supervisord's environment: no secret is written here.
"""

import os
import resource
import shlex
import sys
from pathlib import Path

from config.processes import daphne_options, daphne_proxy_options

ROOT = Path(__file__).resolve().parent.parent
CONF_NAME = "supervisord.conf"
SOCKET_NAME = "supervisor.sock"
LOG_MAXBYTES = "10MB"
LOG_BACKUPS = 5
# supervisord starts low priorities first and stops high ones first.
SERVICE_PRIORITY, WORKER_PRIORITY, WEB_PRIORITY = 10, 200, 300
APP_GROUPS = ("worker", "daphne")
MAX_PROCESSES = 64

COMMON = {
    "autorestart": "true",
    # A child that dies within startsecs is retried after 1, 2, 3 … s, then given up (FATAL);
    # one that ran longer is restarted at once.
    "startsecs": 2,
    "startretries": 10,
    "stopasgroup": "true",
    "killasgroup": "true",
    "redirect_stderr": "true",
    "stdout_logfile_maxbytes": LOG_MAXBYTES,
    "stdout_logfile_backups": LOG_BACKUPS,
}


def escape(value):
    """Return value with % doubled: supervisord expands %(name)s in every value."""
    return str(value).replace("%", "%%")


def command_line(argv):
    return escape(shlex.join(str(arg) for arg in argv))


def process_count(env, name, default):
    """Return a process count from the environment; stop with its name on a bad value."""
    raw = env.get(name) or str(default)
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_PROCESSES:
        raise SystemExit(f"{name} must be a whole number from 1 to {MAX_PROCESSES}, got {raw!r}")
    return int(raw)


def port_number(env):
    """Return PORT from the environment (default 8000); stop with its name on a bad value."""
    raw = env.get("PORT") or "8000"
    if not raw.isdigit() or not 1 <= int(raw) <= 65535:
        raise SystemExit(f"PORT must be a TCP port number from 1 to 65535, got {raw!r}")
    return int(raw)


def max_open_files():
    """Return the open-file limit to ask for: Daphne holds one per socket (65536, or the hard limit)."""
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    return 65536 if hard == resource.RLIM_INFINITY else min(65536, hard)


def supervisord_sections():
    """Return supervisord's own sections: foreground, control socket and logs beside the config."""
    main = {
        "nodaemon": "true",
        "logfile": "%(here)s/logs/supervisord.log",
        "logfile_maxbytes": LOG_MAXBYTES,
        "logfile_backups": LOG_BACKUPS,
        "pidfile": "%(here)s/supervisord.pid",
        "childlogdir": "%(here)s/logs",
        "minfds": max_open_files(),
    }
    if os.geteuid() == 0:
        main["user"] = "root"  # said on purpose: PostgreSQL drops to its own user through its program's user=
    return {
        "supervisord": main,
        "unix_http_server": {"file": f"%(here)s/{SOCKET_NAME}", "chmod": "0700"},
        "rpcinterface:supervisor": {
            "supervisor.rpcinterface_factory": "supervisor.rpcinterface:make_main_rpcinterface"
        },
        "supervisorctl": {"serverurl": f"unix://%(here)s/{SOCKET_NAME}"},
    }


def app_sections(*, port, web, workers, proxy_options=()):
    """Return Daphne (one socket held by supervisord, passed to each as fd 0) and the worker.

    Neither starts with supervisord: the run command migrates first, then starts them.
    """
    numbered = {
        "process_name": "%(program_name)s_%(process_num)02d",
        "stdout_logfile": "%(here)s/logs/%(program_name)s_%(process_num)02d.log",
        "autostart": "false",
        "directory": escape(ROOT),
        **COMMON,
    }
    daphne = [sys.executable, "-m", "daphne", "--fd", "0", *daphne_options(*proxy_options), "config.asgi:application"]
    worker = [sys.executable, str(ROOT / "manage.py"), "run_dispatch_worker"]
    return {
        "fcgi-program:daphne": {
            "socket": f"tcp://127.0.0.1:{port}", "command": command_line(daphne), "numprocs": web,
            "priority": WEB_PRIORITY, "stopwaitsecs": 4, **numbered,
        },
        "program:worker": {
            "command": command_line(worker), "numprocs": workers, "priority": WORKER_PRIORITY,
            "stopwaitsecs": 3, **numbered,
        },
    }


def service_section(name, argv, *, directory, user=None, stopsignal="TERM"):
    """Return a [program:name] section for an embedded service that starts with supervisord."""
    options = {
        "command": command_line(argv), "directory": escape(directory), "priority": SERVICE_PRIORITY,
        "autostart": "true", "stopsignal": stopsignal, "stopwaitsecs": 5,
        "stdout_logfile": f"%(here)s/logs/{name}.log", **COMMON,
    }
    if user:
        options["user"] = user
    return {f"program:{name}": options}


def render(sections):
    """Return the INI text of sections."""
    blocks = []
    for name, options in sections.items():
        lines = [f"[{name}]"] + [f"{key}={value}" for key, value in options.items()]
        blocks.append("\n".join(lines))
    return "# Generated by ./geodispatch run (config/supervisor_conf.py); edits are overwritten.\n\n" + "\n\n".join(blocks) + "\n"


def config_text(env, services=None):
    """Return the whole config for the environment's PORT, WEB_PROCESSES and WORKER_PROCESSES."""
    sections = supervisord_sections()
    sections.update(services or {})
    sections.update(app_sections(
        port=port_number(env),
        web=process_count(env, "WEB_PROCESSES", 2),
        workers=process_count(env, "WORKER_PROCESSES", 1),
        proxy_options=daphne_proxy_options(env),
    ))
    return render(sections)


def write_config(home, text):
    """Write the config into home (with its logs folder) and return its path."""
    (Path(home) / "logs").mkdir(parents=True, exist_ok=True)
    path = Path(home) / CONF_NAME
    path.write_text(text)
    os.chmod(path, 0o600)
    return path
