"""A virtual environment of the peers' own, at ``benchmarks/.peers-venv``.

The peer clients (dlt, requests) must never be installed into the project's
environment: dlt pulls in dozens of packages (SQLAlchemy, DuckDB, pyarrow,
pendulum, its own orjson pin, ...) whose versions could shadow or clash with the
engine's. So they live in a venv of their own, created once with the stdlib's
``venv`` and reused while the pins below are unchanged.

    python benchmarks/peers/environment.py     # prepare it; prints its python

Imports only the stdlib: it runs under any interpreter, including the project's.
"""

from __future__ import annotations

import subprocess
import sys
import venv
from pathlib import Path

# The versions measured. dlt's extras are pinned through their packages too, so that a
# later release of DuckDB, SQLAlchemy or pyarrow cannot change the numbers behind our back.
# The parquet extra (pyarrow) is there because dlt's DuckDB page recommends parquet over its
# default INSERT ... VALUES files for speed (see dlt_client.FILE_FORMATS).
DLT_VERSION = "1.31.0"
REQUESTS_VERSION = "2.34.2"
DUCKDB_VERSION = "2.0.0"
SQLALCHEMY_VERSION = "2.1.9"
PYARROW_VERSION = "26.0.1"
PINS: tuple[str, ...] = (
    f"dlt[duckdb,sqlalchemy,parquet]=={DLT_VERSION}",
    f"requests=={REQUESTS_VERSION}",
    f"duckdb=={DUCKDB_VERSION}",
    f"sqlalchemy=={SQLALCHEMY_VERSION}",
    f"pyarrow=={PYARROW_VERSION}",
)

VENV_DIR = Path("benchmarks") / ".peers-venv"
# Written last, after a successful install: its absence or a different content means "install again".
MARKER = "peers-pins.txt"


def _python(venv_dir: Path) -> Path:
    return venv_dir / ("Scripts/python.exe" if sys.platform == "win32" else "bin/python")


def ensure_peers_env(root: Path) -> Path:
    """Create or refresh the peers' venv under ``root`` and return its python.

    Installs only when the venv or its marker is missing, or the marker's pins differ
    from :data:`PINS`; otherwise returns at once.
    """
    venv_dir = root / VENV_DIR
    python = _python(venv_dir)
    marker = venv_dir / MARKER
    wanted = "\n".join(PINS) + "\n"
    if python.exists() and marker.exists() and marker.read_text() == wanted:
        return python
    if not python.exists():
        # with_pip: the venv gets its own pip, so nothing below can touch the project's environment.
        venv.EnvBuilder(with_pip=True, clear=True, symlinks=sys.platform != "win32").create(venv_dir)
    # A .gitignore of "*" inside the venv keeps git from ever listing it (what Python 3.13's venv
    # does by itself); a .gitignore in benchmarks/peers/ could not reach benchmarks/.peers-venv.
    (venv_dir / ".gitignore").write_text("# created by benchmarks/peers/environment.py\n*\n")
    marker.unlink(missing_ok=True)
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *PINS],
                   check=True, stdout=sys.stderr)
    marker.write_text(wanted)
    return python


if __name__ == "__main__":
    print(ensure_peers_env(Path(__file__).resolve().parents[2]))
