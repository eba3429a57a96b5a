"""Install what `read_path.py` compares against, on a fresh machine.

- wrk, from Debian (`apt-get install -y wrk`, after `apt-get update` when the package is not
  known yet). Needs root; without wrk the read-path benchmark cannot run.
- LiteLLM's proxy (`litellm[proxy]` from PyPI) in a virtualenv of its own, bench/.venv-litellm,
  so that it does not touch the project's. The same uvicorn (with uvloop and httptools) as the
  project's is installed next to it, so both servers run under the same server software.
  When this fails, the caller reports the LiteLLM column as unavailable with the reason.

    .venv/bin/python bench/setup_tools.py     # install both, print what is there
"""

from __future__ import annotations

import importlib.metadata
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from harness import BENCH_DIR, log

LITELLM_VENV = BENCH_DIR / ".venv-litellm"
STAMP = ".bench-installed"
PIP_TIMEOUT_S = 1200


class SetupFailed(RuntimeError):
    pass


def _tail(text: str, lines: int = 6) -> str:
    kept = [line for line in text.strip().splitlines() if "is ignored" not in line]
    return " | ".join(kept[-lines:])


def ensure_wrk() -> str:
    """The path of wrk, installing it from Debian if it is missing."""
    found = shutil.which("wrk")
    if found:
        return found
    apt = shutil.which("apt-get")
    if apt is None:
        raise SetupFailed("wrk is not installed and there is no apt-get to install it with")
    if hasattr(os, "geteuid") and os.geteuid() != 0:
        raise SetupFailed("wrk is not installed; run `sudo apt-get install -y wrk`")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    log("installing wrk from Debian")
    install = [apt, "install", "-y", "-q", "wrk"]
    done = subprocess.run(install, capture_output=True, text=True, env=env, timeout=600)
    if done.returncode != 0:
        log("wrk not found in the package lists; running apt-get update first")
        subprocess.run([apt, "update", "-q"], capture_output=True, text=True, env=env, timeout=600)
        done = subprocess.run(install, capture_output=True, text=True, env=env, timeout=600)
    found = shutil.which("wrk")
    if done.returncode != 0 or found is None:
        raise SetupFailed(f"apt-get install wrk failed: {_tail(done.stderr or done.stdout)}")
    return found


@dataclass(frozen=True)
class Litellm:
    python: Path | None
    version: str | None
    reason: str | None  # why it is unavailable

    @property
    def available(self) -> bool:
        return self.python is not None


def _venv_python(venv: Path) -> Path:
    return venv / "bin" / "python"


def _installed_version(python: Path) -> str | None:
    done = subprocess.run(
        [
            str(python),
            "-c",
            "import importlib.metadata as m; print(m.version('litellm'));"
            " import uvicorn, uvloop, httptools",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return done.stdout.strip() if done.returncode == 0 else None


def ensure_litellm(venv: Path = LITELLM_VENV) -> Litellm:
    """LiteLLM's proxy in `venv`, installed there if it is not yet; never raises."""
    python = _venv_python(venv)
    if (venv / STAMP).exists() and python.exists():
        version = _installed_version(python)
        if version is not None:
            return Litellm(python, version, None)
    uvicorn_version = importlib.metadata.version("uvicorn")
    try:
        if not python.exists():
            log(f"creating {venv}")
            subprocess.run(
                [sys.executable, "-m", "venv", str(venv)],
                capture_output=True,
                text=True,
                timeout=300,
                check=True,
            )
        log(f"installing litellm[proxy] and uvicorn[standard]=={uvicorn_version} into {venv}")
        done = subprocess.run(
            [
                str(python),
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "litellm[proxy]",
                f"uvicorn[standard]=={uvicorn_version}",
            ],
            capture_output=True,
            text=True,
            timeout=PIP_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        return Litellm(None, None, f"could not set up {venv.name}: {exc}")
    if done.returncode != 0:
        return Litellm(
            None, None, f"pip install litellm[proxy] failed: {_tail(done.stderr or done.stdout)}"
        )
    version = _installed_version(python)
    if version is None:
        return Litellm(None, None, "litellm[proxy] installed but does not import")
    (venv / STAMP).write_text(f"litellm {version}\nuvicorn {uvicorn_version}\n")
    return Litellm(python, version, None)


def main() -> int:
    try:
        print(f"wrk: {ensure_wrk()}")
    except SetupFailed as exc:
        print(f"wrk: unavailable ({exc})")
    litellm = ensure_litellm()
    if litellm.available:
        print(f"litellm {litellm.version}: {litellm.python}")
    else:
        print(f"litellm: unavailable ({litellm.reason})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
