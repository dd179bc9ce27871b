"""The whole service on one machine: Temporal dev server with its Web UI, codec server, worker.

``make run`` runs ``python -m infra.devstack run``: it starts everything with state under
``var/`` (the dev server keeps its history in SQLite there), registers the search
attributes, submits the example application with generated example documents, prints
what to open, and stops everything cleanly on Ctrl-C.  The end-to-end tests use
``DevStack`` to start the same processes on free ports in a temporary directory.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from domain import search_attributes
from infra.settings import PRIVATE_UMASK, restrict_umask

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
EXAMPLE = ROOT / "examples" / "application.json"
# SQLite in write-ahead-log mode, synced at checkpoints rather than at every commit: the dev
# server's history survives a crash of any process (not a power cut mid-write), and it takes
# several times the workflows per second (decision 0054).
SQLITE_PRAGMAS = ("--sqlite-pragma", "journal_mode=wal", "--sqlite-pragma", "synchronous=normal")

# The dev server's --search-attribute flags, from the one list `starter.py setup` registers.
SEARCH_ATTRIBUTE_FLAGS = search_attributes.cli_flags()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for_port(port: int, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return
        time.sleep(0.2)
    raise TimeoutError(f"nothing listens on port {port} after {timeout:.0f}s")


@dataclass
class DevStack:
    """The processes of a local service; ports default to the well-known ones."""

    data_dir: Path
    frontend_port: int = 7233
    ui_port: int = 8233
    codec_port: int = 8081
    with_ui: bool = True
    logs: Path | None = None
    # Variables every process of the stack gets on top of the stack's own (e.g. HASA_DATABASE_URL).
    extra_env: dict[str, str] = field(default_factory=dict)
    # False: start() starts no worker; the caller spawns its own (spawn_worker), e.g. several.
    start_worker: bool = True
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.frontend_port}"

    @property
    def ui_codec_url(self) -> str:
        """The codec endpoint as the Web UI (and so the browser) calls it: on localhost, like the UI."""
        return f"http://localhost:{self.codec_port}"

    @property
    def codec_url(self) -> str:
        return f"http://127.0.0.1:{self.codec_port}"

    @property
    def key_file(self) -> Path:
        return self.data_dir / "codec-keys.json"

    @property
    def codec_token(self) -> str:
        """The codec server's bearer token for tools (the Web UI is let in by its origin), made once, 0600."""
        path = self.data_dir / "codec-token"
        if not path.exists():
            self.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
            with contextlib.suppress(FileExistsError):
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "w") as out:
                    out.write(secrets.token_urlsafe(32))
        return path.read_text().strip()

    def env(self) -> dict[str, str]:
        """The environment every client and the worker of this stack uses."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("HASA_", "TEMPORAL_"))}
        env.update(
            TEMPORAL_ADDRESS=self.address,
            TEMPORAL_NAMESPACE="default",
            HASA_DATA_DIR=str(self.data_dir),
            HASA_CODEC_KEY_FILE=str(self.key_file),
            HASA_CODEC_CORS_ORIGIN=f"http://localhost:{self.ui_port}",
            HASA_CODEC_TOKEN=self.codec_token,
            PYTHONUNBUFFERED="1",
        )
        env.update(self.extra_env)
        return env

    def _log(self, name: str) -> int | None:
        if self.logs is None:
            return None
        self.logs.mkdir(parents=True, exist_ok=True)
        return os.open(self.logs / f"{name}.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)

    def _spawn(self, name: str, argv: Sequence[str], env: dict[str, str] | None = None) -> None:
        out = self._log(name)
        self.processes[name] = subprocess.Popen(
            list(argv),
            cwd=ROOT,
            env=self.env() | (env or {}),
            stdout=out if out is not None else None,
            stderr=subprocess.STDOUT if out is not None else None,
            start_new_session=True,
            umask=PRIVATE_UMASK,
        )
        if out is not None:
            os.close(out)

    def start(self) -> None:
        from infra.codec import generate_key_file

        self.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        generate_key_file(self.key_file)
        self.start_server()
        self.starter("setup", check=True)
        self._spawn(
            "codec-server",
            [
                sys.executable,
                "-m",
                "infra.codec_server",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.codec_port),
                "--enable-encode",
            ],
        )
        if self.start_worker:
            self._spawn("worker", [sys.executable, "worker.py"])
        wait_for_port(self.codec_port)
        if self.with_ui:
            wait_for_port(self.ui_port)

    def start_server(self) -> None:
        """The dev server (with its Web UI unless headless), its history in ``temporal.sqlite3``."""
        server = [
            str(BIN / "temporal"),
            "server",
            "start-dev",
            "--ip",
            "127.0.0.1",
            "--port",
            str(self.frontend_port),
            "--db-filename",
            str(self.data_dir / "temporal.sqlite3"),
            "--log-level",
            "warn",
            *SQLITE_PRAGMAS,
        ]
        if self.with_ui:
            server += ["--ui-port", str(self.ui_port), "--ui-codec-endpoint", self.ui_codec_url]
        else:
            server += ["--headless"]
        for attribute in SEARCH_ATTRIBUTE_FLAGS:
            server += ["--search-attribute", attribute]
        self._spawn("temporal", server)
        wait_for_port(self.frontend_port)

    def restart_server(self, sig: int = signal.SIGTERM) -> None:
        """Stop the dev server and start it again on the same SQLite file and port."""
        self.stop_process("temporal", sig)
        self.start_server()

    def starter(self, *args: str, check: bool = False, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [sys.executable, "starter.py", *args],
            cwd=ROOT,
            env=self.env(),
            input=stdin,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if check and result.returncode != 0:
            raise RuntimeError(f"starter.py {' '.join(args)} exited {result.returncode}: {result.stderr}")
        return result

    def stop_process(self, name: str, sig: int = signal.SIGTERM) -> None:
        process = self.processes.pop(name, None)
        if process is None or process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)

    def restart_worker(self) -> None:
        self._spawn("worker", [sys.executable, "worker.py"])

    def spawn_worker(self, name: str, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        """Another ``worker.py`` process on the stack's task queue, with extra variables."""
        self._spawn(name, [sys.executable, "worker.py"], env)
        return self.processes[name]

    def stop(self) -> None:
        workers = [name for name in self.processes if name.startswith("worker")]
        for name in (*workers, "codec-server", "temporal"):
            self.stop_process(name)

    @contextlib.contextmanager
    def running(self) -> Iterator[DevStack]:
        try:
            self.start()
            yield self
        finally:
            self.stop()


def make_example_documents(directory: Path) -> Path:
    """Real small files for the example application's documents list (PDF and JPEG)."""
    from fpdf import FPDF
    from PIL import Image

    directory.mkdir(parents=True, exist_ok=True)
    texts = {
        "M35-O.pdf": "Aanvraagformulier M35-O (voorbeeld)",
        "country-report-2026.pdf": "Country report 2026 (example)",
        "summons-translation.pdf": "Vertaling van de oproep (voorbeeld)",
    }
    for name, text in texts.items():
        target = directory / name
        if not target.exists():
            pdf = FPDF()
            pdf.add_page()
            pdf.set_font("Helvetica", size=12)
            pdf.cell(0, 10, text)
            pdf.output(str(target))
    image = directory / "summons.jpg"
    if not image.exists():
        Image.new("RGB", (64, 48), (200, 200, 190)).save(image, "JPEG")
    return directory


def run(data_dir: Path) -> int:
    stack = DevStack(data_dir=data_dir, logs=data_dir / "logs")
    print("Starting the Temporal dev server, the codec server and the worker (logs in var/logs/) ...", flush=True)
    stop = False

    def _stop(*_: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    try:
        stack.start()
        documents = make_example_documents(data_dir / "example-documents")
        submitted = stack.starter("submit", str(EXAMPLE), "--documents", str(documents))
        print(submitted.stdout.strip(), flush=True)
        if submitted.returncode != 0:
            print(submitted.stderr.strip(), file=sys.stderr)
        app_id = json.loads(EXAMPLE.read_text())["application_id"]
        print(
            f"""
The service is running.
  Web UI:        http://localhost:{stack.ui_port}/namespaces/default/workflows
                 (payloads decode through the codec server at {stack.ui_codec_url}; open the UI
                 as localhost, not 127.0.0.1: the codec server answers only the UI's origin)
  CLI in clear:  temporal workflow show -w application-{app_id} --codec-endpoint {stack.codec_url} \\
                     --codec-auth "Bearer $(cat {data_dir / "codec-token"})"
  The case:      .venv/bin/python starter.py status {app_id}
  Drive it:      .venv/bin/python starter.py send {app_id} interview-decision '{{"needed": false, "reason": "file suffices"}}'
                 .venv/bin/python starter.py send {app_id} decision \\
                     '{{"outcome": "granted", "grounds": "new elements credible", "decided_by": "officer-1"}}'
                 (events and their bodies: README.md; schemas: .venv/bin/python starter.py schema NAME)
  Letters:       {data_dir / "letters"}   Registry: {data_dir / "registry.sqlite3"}
Press Ctrl-C to stop everything.""",
            flush=True,
        )
        while not stop:
            for name, process in stack.processes.items():
                if process.poll() is not None:
                    print(f"{name} exited with {process.returncode}; stopping", file=sys.stderr)
                    stop = True
            time.sleep(0.5)
    finally:
        # Stop first: the terminal (or a pipe) may already be gone after Ctrl-C.
        with contextlib.suppress(OSError):
            print("\nStopping ...", flush=True)
        stack.stop()
        with contextlib.suppress(OSError):
            print("Stopped.", flush=True)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("command", choices=["run", "example-documents"])
    parser.add_argument("--data-dir", default=os.environ.get("HASA_DATA_DIR", "var"))
    args = parser.parse_args(argv)
    restrict_umask()
    data_dir = Path(args.data_dir).resolve()
    if args.command == "example-documents":
        print(make_example_documents(data_dir / "example-documents"))
        return 0
    return run(data_dir)


if __name__ == "__main__":
    raise SystemExit(main())
