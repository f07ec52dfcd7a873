"""What the system uses while the harness drives it: each local process's CPU and RSS
(from the local stack's pid files, when the harness runs beside it), Redis memory,
Postgres and Kafka on-disk sizes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import asyncpg
import psutil

from shared.config import Env
from shared.redis_cluster import connect

ROOT = Path(__file__).resolve().parent.parent
PIDS = ROOT / ".run" / "pids"


class Resources:
    def __init__(self, env: Env) -> None:
        self.env = env
        self.redis = connect(env.str("WEITAO_REDIS_URL"), env.bool("WEITAO_REDIS_CLUSTER"))
        self.processes: dict[str, psutil.Process] = {}
        for pid_file in sorted(PIDS.glob("*.pid")) if PIDS.exists() else []:
            try:
                process = psutil.Process(int(pid_file.read_text()))
                process.cpu_percent()  # prime: the next call measures since now
                self.processes[pid_file.stem] = process
            except (ValueError, psutil.Error):
                continue

    async def close(self) -> None:
        await self.redis.aclose()

    async def sample(self) -> dict[str, Any]:
        point: dict[str, Any] = {}
        for name, process in self.processes.items():
            try:
                point[f"cpu_{name}"] = process.cpu_percent()
                point[f"rss_mb_{name}"] = round(process.memory_info().rss / 2**20, 1)
            except psutil.Error:
                continue
        try:
            point["redis_used_memory_mb"] = round(
                (await self.redis.info("memory"))["used_memory"] / 2**20, 1
            )
        except OSError:
            pass
        return point

    async def sizes(self) -> dict[str, Any]:
        """Postgres database and Kafka log sizes (local stack), for the report."""
        sizes: dict[str, Any] = {}
        try:
            conn = await asyncpg.connect(self.env.str("WEITAO_POSTGRES_DSN"))
            sizes["postgres_mb"] = round(
                await conn.fetchval("SELECT pg_database_size(current_database())") / 2**20, 1
            )
            await conn.close()
        except (OSError, asyncpg.PostgresError):
            pass
        kafka = ROOT / ".run" / "kafka" / "data"
        if kafka.exists():
            sizes["kafka_mb"] = round(
                sum(f.stat().st_size for f in kafka.rglob("*") if f.is_file()) / 2**20, 1
            )
        return sizes
