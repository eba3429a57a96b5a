"""The zero-configuration database: an embedded PostgreSQL started on demand, stopped cleanly."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import psutil

SCRIPT = """
import json, os, sys
from pathlib import Path
import psutil, psycopg
from modelreg.db import embedded
from modelreg.db.urls import libpq_conninfo, normalise

url = normalise(embedded.start(Path(sys.argv[1])))
with psycopg.connect(libpq_conninfo(url)) as conn:
    database = conn.execute("SELECT current_database()").fetchone()[0]
    version = conn.execute("SHOW server_version_num").fetchone()[0]
pid = int((Path(sys.argv[1]) / "pg" / "postmaster.pid").read_text().split()[0])
print(json.dumps({"database": database, "version": int(version), "pid": pid,
                  "server_user": psutil.Process(pid).username()}))
"""


def test_starts_on_demand_serves_and_stops_when_its_process_exits(scratch_dir: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODELREG_")}
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(scratch_dir / "data")],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert seen["database"] == "modelreg"
    assert seen["version"] >= 140000
    if os.geteuid() == 0:
        # PostgreSQL refuses to run as root; the server runs as an unprivileged user instead.
        assert seen["server_user"] != "root"
    assert not psutil.pid_exists(seen["pid"]) or psutil.Process(seen["pid"]).status() == "zombie"
    assert not (scratch_dir / "data" / "pg" / "postmaster.pid").exists()


def test_data_survives_a_restart(scratch_dir: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODELREG_")}
    write = (
        "import sys, psycopg\nfrom pathlib import Path\nfrom modelreg.db import embedded\n"
        "from modelreg.db.urls import libpq_conninfo, normalise\n"
        "url = normalise(embedded.start(Path(sys.argv[1])))\n"
        "with psycopg.connect(libpq_conninfo(url), autocommit=True) as c:\n"
        "    c.execute(sys.argv[2])\n"
        "    print(c.execute('SELECT count(*) FROM kept').fetchone()[0])\n"
    )
    data = str(scratch_dir / "data")
    first = subprocess.run(
        [sys.executable, "-c", write, data, "CREATE TABLE kept AS SELECT 1 AS x"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert first.returncode == 0, first.stderr
    second = subprocess.run(
        [sys.executable, "-c", write, data, "SELECT 1"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert second.returncode == 0, second.stderr
    assert second.stdout.strip() == "1"
