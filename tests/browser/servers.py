"""Start and stop Voila and JupyterLab for the real-browser tests, on 127.0.0.1 only.

Each server runs with this interpreter (``sys.executable``) and a kernelspec written into the
test's own ``JUPYTER_PATH`` that starts the same interpreter, so the kernel imports this
checkout of ociinspect (``PYTHONPATH``). Jupyter's config, data and runtime directories, the
IPython directory and the ociinspect cache all live under the test's tmp directory: nothing
the user configured leaks in, nothing is left behind. A server is stopped with SIGTERM to its
own PID, which makes it shut its kernels down.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
KERNEL_NAME = "ociinspect-test"
_PROXY_VARIABLES = {"http_proxy", "https_proxy", "all_proxy", "ftp_proxy", "no_proxy"}
LOOPBACK_NO_PROXY = "127.0.0.1,127.0.0.2,127.0.0.0/8,localhost,::1"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def jupyter_env(workdir: Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of a server and its kernels: isolated Jupyter dirs, loopback only."""
    env = {k: v for k, v in os.environ.items() if k.lower() not in _PROXY_VARIABLES}
    env["NO_PROXY"] = env["no_proxy"] = LOOPBACK_NO_PROXY
    for name, sub in (
        ("JUPYTER_CONFIG_DIR", "config"),
        ("JUPYTER_DATA_DIR", "data"),
        ("JUPYTER_RUNTIME_DIR", "runtime"),
        ("JUPYTER_PATH", "share"),
        ("IPYTHONDIR", "ipython"),
        ("OCIINSPECT_CACHE_DIR", "cache"),
    ):
        path = workdir / sub
        path.mkdir(parents=True, exist_ok=True)
        env[name] = str(path)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH", "")]))
    # The kernel's client must not find the user's registry credentials.
    env["DOCKER_CONFIG"] = str(workdir / "docker")
    env["REGISTRY_AUTH_FILE"] = str(workdir / "containers-auth.json")
    env["OCIINSPECT_PROGRESS"] = "0"
    env.pop("OCIINSPECT_TEST_REF", None)
    env.pop("OCIINSPECT_TEST_PLATFORM", None)
    env.update(extra or {})
    install_kernel(Path(env["JUPYTER_PATH"]))
    labconfig = Path(env["JUPYTER_CONFIG_DIR"]) / "labconfig"
    labconfig.mkdir(exist_ok=True)
    # No "would you like news?" toast over the notebook in JupyterLab.
    page_config = {"disabledExtensions": {"@jupyterlab/apputils-extension:announcements": True}}
    (labconfig / "page_config.json").write_text(json.dumps(page_config))
    return env


def install_kernel(share: Path) -> Path:
    """A kernelspec that runs ipykernel on this very interpreter."""
    directory = share / "kernels" / KERNEL_NAME
    directory.mkdir(parents=True, exist_ok=True)
    spec = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python (ociinspect tests)",
        "language": "python",
    }
    (directory / "kernel.json").write_text(json.dumps(spec, indent=1))
    return directory


def copy_notebook(name: str, directory: Path) -> Path:
    """``tests/browser/<name>`` copied into ``directory``, set to the test kernel."""
    notebook = json.loads((HERE / name).read_text())
    notebook["metadata"]["kernelspec"] = {
        "name": KERNEL_NAME,
        "display_name": "Python (ociinspect tests)",
        "language": "python",
    }
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / name
    target.write_text(json.dumps(notebook, indent=1))
    return target


@dataclass
class Server:
    """A running Voila or JupyterLab process and where it answers."""

    process: subprocess.Popen[bytes]
    url: str
    log: Path
    started: float
    token: str = ""

    def stop(self, timeout: float = 20.0) -> None:
        """SIGTERM the server itself (it shuts its kernels down), then wait for it."""
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout)

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


def _start(command: list[str], env: Mapping[str, str], cwd: Path, log: Path, port: int) -> Server:
    started = time.monotonic()
    with log.open("wb") as out:
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=dict(env),
            cwd=cwd,
        )
    server = Server(process, f"http://127.0.0.1:{port}", log, started)
    deadline = started + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"{command[2]} exited with {process.returncode}:\n{server.log_text()}"
            )
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return server
        except OSError:
            time.sleep(0.1)
    server.stop()
    raise TimeoutError(f"{command[2]} did not listen on {port} within 60 s:\n{server.log_text()}")


def start_voila(notebook: Path, env: Mapping[str, str], workdir: Path) -> Server:
    """Voila serving one notebook at ``server.url``."""
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "voila",
        str(notebook),
        "--no-browser",
        f"--port={port}",
        "--Voila.ip=127.0.0.1",
        "--Voila.port_retries=0",
        "--show_tracebacks=True",
    ]
    return _start(command, env, notebook.parent, workdir / "voila.log", port)


def start_lab(root: Path, env: Mapping[str, str], workdir: Path) -> Server:
    """JupyterLab on ``root`` with a random token; ``window.jupyterapp`` is exposed."""
    port = free_port()
    token = secrets.token_hex(16)
    command = [
        sys.executable,
        "-m",
        "jupyterlab",
        "--allow-root",
        "--no-browser",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root}",
        "--LabApp.expose_app_in_browser=True",
        "--LabApp.news_url=None",
        f"--LabApp.workspaces_dir={workdir / 'workspaces'}",
    ]
    server = _start(command, env, root, workdir / "lab.log", port)
    server.token = token
    return server


__all__ = [
    "KERNEL_NAME",
    "Server",
    "copy_notebook",
    "free_port",
    "install_kernel",
    "jupyter_env",
    "start_lab",
    "start_voila",
]
