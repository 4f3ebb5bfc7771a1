"""What the benches read of this machine's processes (Linux /proc): CPU seconds of a process,
a gunicorn master's workers, the PostgreSQL backends of a database, the load average. The
server under test runs on the same machine as the bench."""

import os
from pathlib import Path


def cpu_seconds(pid: int, *, missing: float = 0.0) -> float:
    """User + system CPU seconds of process `pid` so far; `missing` when it cannot be read
    (gone, or a server on another machine)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return missing
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def with_children(master: int) -> list[int]:
    """`master` and its child processes (a gunicorn master and its workers)."""
    pids = [master]
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == master:
                pids.append(int(stat.parent.name))
        except (OSError, ValueError, IndexError):
            continue
    return pids


def backend_pids(url: str) -> list[int]:
    """The PostgreSQL server processes connected to the database of `url`, but this one."""
    import psycopg  # only the PostgreSQL benches need the driver

    with psycopg.connect(url.replace("postgres://", "postgresql://"), autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid()"
        ).fetchall()
    return [pid for (pid,) in rows]


def load() -> str:
    """The load average over 1, 5 and 15 minutes, as /proc/loadavg gives it."""
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])
