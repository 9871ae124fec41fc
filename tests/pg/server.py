"""The PostgreSQL server the tests run against: pytest-postgresql's executor around Debian's
pg_ctl, started once per run, in a temporary folder, listening on loopback and a socket.

Durability is switched off for the tests (fsync, synchronous_commit): they are about backoffice,
not about surviving a power cut, and the server's data is thrown away at the end. The benchmarks
ask for a ``durable`` server, which commits to disk as a real one does. Each test's book is a
schema of its own (``new_url``), so tests never see each other's records.
"""

from __future__ import annotations

import glob
import itertools
import os
import shutil
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
FAST = "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
OPTIONS = "-c max_connections=200"


def find_pg_ctl() -> str:
    found = os.environ.get("BACKOFFICE_TEST_PG_CTL") or shutil.which("pg_ctl")
    if not found:
        versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(Path(p).parts[-3]))
        found = versions[-1] if versions else None
    if not found:
        pytest.exit(
            "--backend=postgresql needs the PostgreSQL server (pg_ctl); on Debian: apt-get install -y postgresql",
            returncode=2,
        )
    return found


class PostgresServer:
    def __init__(self, durable: bool = False) -> None:
        import port_for
        from pytest_postgresql.executors import PostgreSQLExecutor

        self.pg_ctl = find_pg_ctl()
        self.base = Path(tempfile.mkdtemp(prefix="backoffice-pg-"))
        executable = self.pg_ctl
        if os.geteuid() == 0:  # the server refuses root: run it as postgres, in a folder it owns
            shutil.chown(self.base, "postgres", "postgres")
            os.environ["BACKOFFICE_TEST_PG_CTL"] = self.pg_ctl
            executable = str(HERE / "pg_ctl_as_postgres")
        self.port = port_for.select_random()
        self.executor: Any = PostgreSQLExecutor(
            executable=executable,
            host="127.0.0.1",
            port=self.port,
            datadir=str(self.base / "data"),
            unixsocketdir=str(self.base),
            logfile=str(self.base / "server.log"),
            startparams="-w",
            dbname="backoffice",
            postgres_options=OPTIONS if durable else f"{OPTIONS} {FAST}",
        )
        self._schemas = itertools.count(1)

    def url(self, database: str = "backoffice", schema: str | None = None) -> str:
        url = f"postgresql://postgres@/{database}?host={self.base}&port={self.port}"
        return url + (f"&options=-csearch_path%3D{schema}" if schema else "")

    def new_url(self) -> str:
        return self.url(schema=f"book_{next(self._schemas)}")

    def __enter__(self) -> PostgresServer:
        import psycopg

        self.executor.start()
        try:
            for _ in range(300):  # the port opens a moment before the server takes connections
                try:
                    conn = psycopg.connect(self.url("postgres"), autocommit=True)
                    break
                except psycopg.OperationalError:
                    time.sleep(0.1)
            else:
                raise RuntimeError(f"the test PostgreSQL server did not start; see {self.base / 'server.log'}")
            with conn:
                conn.execute("CREATE DATABASE backoffice")
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        try:
            self.executor.stop()
        finally:
            shutil.rmtree(self.base, ignore_errors=True)
