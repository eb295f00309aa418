"""The real PainChain, built from a checkout and run on loopback: PostgreSQL 15 in a temporary directory,
the NestJS backend (which serves the frontend's ``npm run build`` output, as upstream's production image
does), and the npm tools the check needs (playwright-core, Prisma's WebAssembly schema engine).

Builds are reused: each step stores a digest of its inputs beside its output and runs again only when
they change (or with ``--rebuild``). Every command's output goes to a log file under the output directory.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import pwd
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

PLAYWRIGHT_CORE = "1.65.1"  # drives the system Chromium over CDP; never downloads a browser
HERE = Path(__file__).resolve().parent
LOOPBACK = "127.0.0.1"

# Upstream's main.ts calls app.listen(port), which binds every interface; this preload binds it to loopback.
LOOPBACK_SHIM = """\
const net = require('net');
const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function (...args) {
  if (typeof args[0] === 'number' || (typeof args[0] === 'string' && /^\\d+$/.test(args[0]))) {
    if (typeof args[1] !== 'string') args.splice(1, 0, '127.0.0.1');
  }
  return listen.apply(this, args);
};
"""

# `prisma generate` insists that a schema engine binary exists although generating never runs it.
NO_SCHEMA_ENGINE = (
    "#!/bin/sh\necho 'no native schema engine here: the real-UI check uses the WebAssembly one' >&2\nexit 1\n"
)


class SetupError(Exception):
    """A step that prepares or starts PainChain failed; the message says which and where its log is."""


@dataclass(frozen=True)
class Checkout:
    """The parts of a PainChain checkout the check builds (``painchain/backend`` and ``painchain/frontend``)."""

    root: Path
    backend: Path
    frontend: Path

    @classmethod
    def find(cls, path: Path) -> Checkout:
        """The checkout at ``path`` (its root or its ``painchain`` folder)."""
        for app in (path / "painchain", path):
            backend, frontend = app / "backend", app / "frontend"
            if (backend / "prisma" / "schema.prisma").is_file() and (frontend / "package.json").is_file():
                return cls(path, backend, frontend)
        raise SetupError(f"{path} is not a PainChain checkout with painchain/backend and painchain/frontend")

    def commit(self) -> str:
        """The checked-out commit, or "unknown" outside git."""
        done = subprocess.run(
            ["git", "-C", str(self.root), "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
        )
        return done.stdout.strip() or "unknown"


@dataclass
class Logs:
    """Where each command's output goes."""

    directory: Path

    def path(self, name: str) -> Path:
        """The log file of step ``name``."""
        self.directory.mkdir(parents=True, exist_ok=True)
        return self.directory / f"{name}.log"


def run(command: list[str], *, cwd: Path, log: Path, env: dict[str, str] | None = None, timeout: float = 900) -> str:
    """Run ``command`` to completion, output appended to ``log``; SetupError with its last lines on failure."""
    with log.open("a", encoding="utf-8") as out:
        out.write(f"$ {' '.join(command)}  (in {cwd})\n")
        out.flush()
        done = subprocess.run(
            command,
            cwd=cwd,
            env={**os.environ, **(env or {})},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
            timeout=timeout,
            check=False,
        )
        out.write(done.stdout)
    if done.returncode != 0:
        tail = " | ".join(line for line in done.stdout.strip().splitlines()[-3:])
        raise SetupError(
            f"{command[0]} {' '.join(command[1:3])} failed ({done.returncode}): {tail[-400:]} (log: {log})"
        )
    return done.stdout


def digest(paths: Iterable[Path], *extra: str) -> str:
    """A digest of the files under ``paths`` (names and contents) and of ``extra``."""
    hasher = hashlib.sha256("\0".join(extra).encode())
    for top in paths:
        files = sorted(p for p in top.rglob("*") if p.is_file()) if top.is_dir() else [top] if top.is_file() else []
        for file in files:
            hasher.update(str(file.relative_to(top.parent)).encode() + b"\0" + file.read_bytes())
    return hasher.hexdigest()


def reuse(stamp: Path, wanted: str, *, rebuild: bool) -> bool:
    """Whether the output ``stamp`` vouches for is still built from ``wanted`` inputs."""
    return not rebuild and stamp.is_file() and stamp.read_text(encoding="utf-8") == wanted


def npm_ci(directory: Path, logs: Logs, name: str, *, rebuild: bool) -> bool:
    """``npm ci`` (install scripts off: nothing is fetched from outside the registry); False when reused."""
    stamp = directory / "node_modules" / ".painchain-real-ui-npm"
    wanted = digest([directory / "package-lock.json"])
    if reuse(stamp, wanted, rebuild=rebuild):
        return False
    run(["npm", "ci", "--no-audit", "--no-fund", "--ignore-scripts"], cwd=directory, log=logs.path(name))
    stamp.write_text(wanted, encoding="utf-8")
    return True


def build_backend(checkout: Checkout, logs: Logs, scratch: Path, *, rebuild: bool) -> bool:
    """``prisma generate`` and ``nest build`` in the checkout's backend; False when reused."""
    backend = checkout.backend
    stamp = backend / "node_modules" / ".painchain-real-ui-build"
    inputs = [backend / n for n in ("src", "prisma", "package-lock.json", "tsconfig.json", "nest-cli.json")]
    wanted = digest(inputs, (stamp.parent / ".painchain-real-ui-npm").read_text(encoding="utf-8"))
    if reuse(stamp, wanted, rebuild=rebuild) and main_script(backend).is_file():
        return False
    placeholder = scratch / "no-schema-engine"
    placeholder.write_text(NO_SCHEMA_ENGINE, encoding="utf-8")
    placeholder.chmod(0o755)
    env = {
        "PRISMA_SCHEMA_ENGINE_BINARY": str(placeholder),
        "CHECKPOINT_DISABLE": "1",
        "PRISMA_HIDE_UPDATE_MESSAGE": "1",
        "DATABASE_URL": "postgresql://build@127.0.0.1:1/build",  # generate reads the config; nothing connects
    }
    log = logs.path("backend-build")
    run(["node", "node_modules/prisma/build/index.js", "generate"], cwd=backend, log=log, env=env)
    run(["npm", "run", "build"], cwd=backend, log=log, env=env)
    stamp.write_text(wanted, encoding="utf-8")
    return True


def main_script(backend: Path) -> Path:
    """The built backend's entry point (``dist/src/main.js``, beside the compiled prisma.config)."""
    nested = backend / "dist" / "src" / "main.js"
    return nested if nested.is_file() else backend / "dist" / "main.js"


def build_frontend(checkout: Checkout, logs: Logs, *, rebuild: bool) -> bool:
    """The frontend's own ``npm run build`` (API base left at its default, the same-origin ``/api``)."""
    frontend = checkout.frontend
    stamp = frontend / "node_modules" / ".painchain-real-ui-build"
    inputs = [frontend / n for n in ("src", "public", "index.html", "package-lock.json")]
    inputs += sorted(frontend.glob("vite.config.*")) + sorted(frontend.glob("tsconfig*.json"))
    wanted = digest(inputs, (stamp.parent / ".painchain-real-ui-npm").read_text(encoding="utf-8"))
    if reuse(stamp, wanted, rebuild=rebuild) and (frontend / "dist" / "index.html").is_file():
        return False
    env = {"VITE_API_URL": ""}  # unset in effect: the client falls back to "/api"
    run(["npm", "run", "build"], cwd=frontend, log=logs.path("frontend-build"), env=env)
    stamp.write_text(wanted, encoding="utf-8")
    return True


def engines_version(backend: Path) -> str:
    """The Prisma engines commit the checkout's Prisma was built with (``7.2.0-4.<commit>``)."""
    package = backend / "node_modules" / "@prisma" / "engines-version" / "package.json"
    try:
        return str(json.loads(package.read_text(encoding="utf-8"))["version"])
    except (OSError, ValueError, KeyError) as error:
        raise SetupError(f"cannot read the checkout's Prisma engines version from {package}: {error}") from error


def ensure_tools(tools: Path, engines: str, logs: Logs, *, rebuild: bool) -> bool:
    """playwright-core (no browser download) and the matching WebAssembly schema engine, from npm."""
    wanted = [f"playwright-core@{PLAYWRIGHT_CORE}", f"@prisma/schema-engine-wasm@{engines}"]
    stamp = tools / "node_modules" / ".painchain-real-ui-tools"
    if reuse(stamp, " ".join(wanted), rebuild=rebuild):
        return False
    tools.mkdir(parents=True, exist_ok=True)
    (tools / "package.json").write_text('{"private": true}\n', encoding="utf-8")
    command = ["npm", "install", "--no-audit", "--no-fund", "--ignore-scripts", "--no-save", *wanted]
    run(command, cwd=tools, log=logs.path("tools"))
    stamp.write_text(" ".join(wanted), encoding="utf-8")
    return True


def free_port() -> int:
    """A TCP port free on loopback right now."""
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def wait_until_http(url: str, *, timeout: float, process: subprocess.Popen[bytes] | None, log: Path) -> None:
    """Wait until ``url`` answers at all (any status); SetupError if the process dies or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise SetupError(f"the process serving {url} exited with {process.returncode} (log: {log})")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.3)
    raise SetupError(f"{url} did not answer within {timeout:.0f} s (log: {log})")


@contextlib.contextmanager
def background(command: list[str], *, cwd: Path, env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A process running while the block runs, stopped (and waited for) after it."""
    with log.open("ab") as out:
        process = subprocess.Popen(
            command, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@dataclass(frozen=True)
class Postgres:
    """PostgreSQL's binaries, run as the ``postgres`` user when this process is root (initdb refuses root)."""

    bin_dir: Path

    def as_user(self) -> list[str]:
        """The prefix that runs a command as the database owner."""
        if os.geteuid() != 0:
            return []
        try:
            pwd.getpwnam("postgres")
        except KeyError as error:
            raise SetupError(
                "running as root needs a 'postgres' user for the database (initdb refuses root)"
            ) from error
        return ["runuser", "-u", "postgres", "--"]

    def tool(self, name: str) -> str:
        """The path of one of PostgreSQL's programs."""
        path = self.bin_dir / name
        if not path.is_file():
            raise SetupError(f"{path} is missing: install Debian's postgresql-15 (apt-get install postgresql-15)")
        return str(path)

    @contextlib.contextmanager
    def running(self, scratch: Path, logs: Logs) -> Iterator[str]:
        """A fresh cluster on a loopback port, its database ``painchain``; yields the connection URL."""
        data = scratch / "postgres"
        data.mkdir()
        if os.geteuid() == 0:
            shutil.chown(data, "postgres")
        user, port, log = self.as_user(), free_port(), logs.path("postgres")
        run(
            [*user, self.tool("initdb"), "-D", str(data / "data"), "-U", "painchain", "--auth=trust", "-E", "UTF8"],
            cwd=scratch,
            log=log,
        )
        options = f"-h {LOOPBACK} -p {port} -k {data}"
        run(
            [
                *user,
                self.tool("pg_ctl"),
                "-D",
                str(data / "data"),
                "-l",
                str(data / "server.log"),
                "-o",
                options,
                "-w",
                "start",
            ],
            cwd=scratch,
            log=log,
        )
        try:
            run(
                [*user, self.tool("createdb"), "-h", LOOPBACK, "-p", str(port), "-U", "painchain", "painchain"],
                cwd=scratch,
                log=log,
            )
            yield f"postgresql://painchain@{LOOPBACK}:{port}/painchain"
        finally:
            run(
                [*user, self.tool("pg_ctl"), "-D", str(data / "data"), "-m", "fast", "-w", "stop"], cwd=scratch, log=log
            )

    def apply(self, url: str, sql: Path, scratch: Path, logs: Logs) -> None:
        """Run an SQL file against ``url``, stopping at the first error."""
        readable = scratch / sql.name
        if readable != sql:
            shutil.copyfile(sql, readable)
        readable.chmod(0o644)
        run(
            [*self.as_user(), self.tool("psql"), "-q", "-v", "ON_ERROR_STOP=1", "-d", url, "-f", str(readable)],
            cwd=scratch,
            log=logs.path("schema"),
        )


def apply_schema(checkout: Checkout, postgres: Postgres, url: str, tools: Path, scratch: Path, logs: Logs) -> str:
    """The checkout's migrations in order when it has them, else the SQL its schema needs; says which."""
    migrations = sorted((checkout.backend / "prisma" / "migrations").glob("*/migration.sql"))
    for migration in migrations:
        postgres.apply(url, migration, scratch, logs)
    if migrations:
        return f"{len(migrations)} migrations"
    sql = run(
        ["node", str(HERE / "schema_sql.mjs"), str(tools), str(checkout.backend), url],
        cwd=scratch,
        log=logs.path("schema"),
    )
    target = scratch / "schema.sql"
    target.write_text(sql, encoding="utf-8")
    postgres.apply(url, target, scratch, logs)
    return "schema.prisma through Prisma's WebAssembly schema engine (no migrations in the checkout)"


def app_layout(checkout: Checkout, scratch: Path) -> Path:
    """Upstream's production layout (dist, node_modules and frontend/dist side by side), so the backend
    serves the built frontend on its own origin; dist is copied, the rest linked."""
    app = scratch / "app"
    app.mkdir()
    shutil.copytree(checkout.backend / "dist", app / "dist")
    shutil.copyfile(checkout.backend / "package.json", app / "package.json")
    (app / "node_modules").symlink_to(checkout.backend / "node_modules")
    (app / "frontend").mkdir()
    (app / "frontend" / "dist").symlink_to(checkout.frontend / "dist")
    (scratch / "loopback.cjs").write_text(LOOPBACK_SHIM, encoding="utf-8")
    return app


def backend_command(app: Path, scratch: Path) -> list[str]:
    """How the backend is started: node with the loopback preload, the built main script."""
    main = main_script(app)
    return ["node", "--require", str(scratch / "loopback.cjs"), str(main.relative_to(app))]
