"""The local stack without Docker: Kafka (KRaft), Postgres, Redis and the six services.

    python deploy/localstack.py up        install what is missing, start everything (idempotent)
    python deploy/localstack.py infra     only Kafka, Postgres and Redis (+ topics)
    python deploy/localstack.py down      stop everything cleanly
    python deploy/localstack.py stop NAME | start NAME   kafka, redis, postgres or a service
    python deploy/localstack.py kill NAME     SIGKILL a service, redis or kafka (fault tests)
    python deploy/localstack.py status
    python deploy/localstack.py cluster   a 3-master Redis Cluster (for the cluster tests)
    python deploy/localstack.py urls      each service's base URL

State lives in `.run/` (git-ignored): data directories, logs, pid files.
Ports and URLs come from the same settings the services read (shared/config.py).
"""

from __future__ import annotations

import argparse
import base64
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from shared.config import Env  # noqa: E402

RUN = ROOT / ".run"
LOGS = RUN / "logs"
PIDS = RUN / "pids"
SERVICES = ("accounts", "publishing", "fanout", "feedread", "insights", "notifications")
KAFKA_POM = ROOT / "deploy" / "kafka" / "pom.xml"
ENV = Env.from_os()


def log(message: str) -> None:
    print(f"[stack] {message}", flush=True)


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def wait_until(check, what: str, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise SystemExit(f"[stack] {what} did not come up within {timeout_s:.0f}s; see {LOGS}")


def run(cmd: list[str], **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, check=True, **kwargs)


# ---------------------------------------------------------------- binaries


def postgres_bindir() -> Path | None:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), reverse=True)
    return found[0].parent if found else None


def ensure_binaries() -> None:
    """Installs Java, Maven, Postgres and Redis from Debian's packages when missing."""
    missing = []
    if not shutil.which("java"):
        missing.append("openjdk-17-jre-headless")
    if not shutil.which("mvn"):
        missing.append("maven")
    if postgres_bindir() is None:
        missing.append("postgresql")
    if not shutil.which("redis-server"):
        missing.append("redis-server")
    if not missing:
        return
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise SystemExit(
            "[stack] missing programs; install them, then run again:\n"
            f"    sudo apt-get update && sudo apt-get install -y {' '.join(missing)}"
        )
    log(f"installing {' '.join(missing)} with apt-get")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    run(["apt-get", "update", "-qq"], env=env)
    run(["apt-get", "install", "-y", "-qq", *missing], env=env)
    # Debian's postgresql package starts a cluster on 5432; ours is separate, so leave it be.


# ---------------------------------------------------------------- pid files


def pid_of(name: str) -> int | None:
    path = PIDS / f"{name}.pid"
    if not path.exists():
        return None
    try:
        pid = int(path.read_text().strip())
        os.kill(pid, 0)
        return pid
    except (ValueError, ProcessLookupError, PermissionError):
        return None


def spawn(name: str, cmd: list[str], env: dict[str, str] | None = None, cwd: Path = ROOT) -> None:
    LOGS.mkdir(parents=True, exist_ok=True)
    PIDS.mkdir(parents=True, exist_ok=True)
    with open(LOGS / f"{name}.log", "ab") as out:
        proc = subprocess.Popen(
            cmd,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            cwd=cwd,
            start_new_session=True,
        )
    (PIDS / f"{name}.pid").write_text(str(proc.pid))


def terminate(name: str, timeout_s: float = 20.0) -> None:
    pid = pid_of(name)
    if pid is None:
        return
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    else:
        os.kill(pid, signal.SIGKILL)
    (PIDS / f"{name}.pid").unlink(missing_ok=True)
    log(f"{name} stopped")


# ---------------------------------------------------------------- postgres


def as_postgres_user() -> list[str]:
    """Postgres refuses to run as root: run its programs as the `postgres` user then."""
    return ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []


def start_postgres() -> None:
    port = ENV.int("WEITAO_PG_PORT")
    data = RUN / "pg" / "data"
    bindir = postgres_bindir()
    assert bindir is not None
    if port_open(port):
        return
    RUN.mkdir(exist_ok=True)
    (RUN / "pg").mkdir(exist_ok=True)
    if os.geteuid() == 0:
        shutil.chown(RUN / "pg", "postgres", "postgres")
        # The postgres user must be able to reach .run/pg through the checkout's folders.
        for parent in [RUN, *RUN.parents]:
            if parent == Path("/"):
                break
            mode = parent.stat().st_mode
            if not mode & 0o001:
                os.chmod(parent, mode | 0o001)
    if not (data / "PG_VERSION").exists():
        log("initialising Postgres data directory")
        run(
            [
                *as_postgres_user(),
                str(bindir / "initdb"),
                "-D",
                str(data),
                "-U",
                "weitao",
                "--auth=trust",
                "-E",
                "UTF8",
                "--locale=C.UTF-8",
            ],
            stdout=subprocess.DEVNULL,
        )
    log(f"starting Postgres on 127.0.0.1:{port}")
    run(
        [
            *as_postgres_user(),
            str(bindir / "pg_ctl"),
            "-D",
            str(data),
            "-w",
            "-l",
            str(RUN / "pg" / "postgres.log"),
            "-o",
            f"-p {port} -k {RUN / 'pg'} -c listen_addresses=127.0.0.1 -c max_connections=200 "
            # A throwaway local stack: durability against OS crashes is not worth the fsyncs.
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off",
            "start",
        ],
        stdout=subprocess.DEVNULL,
    )
    exists = subprocess.run(
        [
            str(bindir.parent / "bin" / "psql"),
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
            "-U",
            "weitao",
            "-d",
            "postgres",
            "-tAc",
            "SELECT 1 FROM pg_database WHERE datname = 'weitao'",
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    if exists != "1":
        run(
            [str(bindir / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "weitao", "weitao"]
        )


def stop_postgres() -> None:
    data = RUN / "pg" / "data"
    bindir = postgres_bindir()
    if bindir and (data / "postmaster.pid").exists():
        subprocess.run(
            [
                *as_postgres_user(),
                str(bindir / "pg_ctl"),
                "-D",
                str(data),
                "-m",
                "fast",
                "-w",
                "stop",
            ],
            stdout=subprocess.DEVNULL,
            check=False,
        )
        log("postgres stopped")


# ---------------------------------------------------------------- redis


def start_redis() -> None:
    port = ENV.int("WEITAO_REDIS_PORT")
    if port_open(port):
        return
    (RUN / "redis").mkdir(parents=True, exist_ok=True)
    log(f"starting Redis on 127.0.0.1:{port}")
    # Feeds are a cache, but feedread's projections and the timelines cost a full
    # re-emission from Postgres to rebuild: an append-only file synced every second keeps
    # a restart (or a crash) from being a wipe; a crash loses at most the last second.
    spawn(
        "redis",
        [
            "redis-server",
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(RUN / "redis"),
            "--save",
            "",
            "--appendonly",
            "yes",
            "--appendfsync",
            "everysec",
        ],
    )
    wait_until(lambda: redis_loaded(port), "Redis", timeout_s=120)


def redis_loaded(port: int) -> bool:
    """Redis answers PING with PONG once it has loaded its append-only file."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


# ---------------------------------------------------------------- redis cluster (tests)


def cluster_ports() -> list[int]:
    first = ENV.int("WEITAO_REDIS_CLUSTER_PORT")
    return [first, first + 1, first + 2]


def cluster_ok() -> bool:
    out = subprocess.run(
        ["redis-cli", "-p", str(cluster_ports()[0]), "cluster", "info"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    return "cluster_state:ok" in out


def start_redis_cluster() -> None:
    """Three Redis masters in cluster mode (Debian's redis-server), for the cluster tests."""
    ports = cluster_ports()
    for port in ports:
        if port_open(port):
            continue
        folder = RUN / "redis-cluster" / str(port)
        shutil.rmtree(folder, ignore_errors=True)  # scratch data: start each node blank
        folder.mkdir(parents=True)
        spawn(
            f"redis-{port}",
            [
                "redis-server",
                "--port",
                str(port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(folder),
                "--cluster-enabled",
                "yes",
                "--cluster-config-file",
                "nodes.conf",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
        )
        wait_until(lambda port=port: port_open(port), f"Redis cluster node {port}")
    if not cluster_ok():
        log(f"creating a Redis Cluster of 3 masters on ports {ports[0]}-{ports[-1]}")
        run(
            [
                "redis-cli",
                "--cluster",
                "create",
                *(f"127.0.0.1:{p}" for p in ports),
                "--cluster-replicas",
                "0",
                "--cluster-yes",
            ],
            stdout=subprocess.DEVNULL,
        )
        wait_until(cluster_ok, "Redis Cluster")


def stop_redis_cluster() -> None:
    for port in cluster_ports():
        terminate(f"redis-{port}")


# ---------------------------------------------------------------- kafka


def kafka_libs() -> Path:
    """Fetches the Kafka jars with Maven (once per pom version) into .run/kafka/libs."""
    libs = RUN / "kafka" / "libs"
    stamp = libs / ".pom-stamp"
    pom_text = KAFKA_POM.read_text()
    if stamp.exists() and stamp.read_text() == pom_text:
        return libs
    log("fetching Kafka from Maven Central (first run only)")
    shutil.rmtree(libs, ignore_errors=True)
    run(
        [
            "mvn",
            "-q",
            "-B",
            "-f",
            str(KAFKA_POM),
            "dependency:copy-dependencies",
            f"-DoutputDirectory={libs}",
            "-DincludeScope=runtime",
        ]
    )
    stamp.write_text(pom_text)
    return libs


def kafka_properties() -> Path:
    port = ENV.int("WEITAO_KAFKA_PORT")
    controller = ENV.int("WEITAO_KAFKA_CONTROLLER_PORT")
    data = RUN / "kafka" / "data"
    path = RUN / "kafka" / "server.properties"
    path.write_text(f"""# generated by deploy/localstack.py
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=127.0.0.1:{controller}
listeners=PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller}
advertised.listeners=PLAINTEXT://127.0.0.1:{port}
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
log.dirs={data}
num.partitions=12
offsets.topic.replication.factor=1
offsets.topic.num.partitions=12
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
# Tests and the demo start consumer groups often: do not wait for more members.
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
log.retention.hours=168
""")
    return path


def start_kafka() -> None:
    port = ENV.int("WEITAO_KAFKA_PORT")
    if port_open(port):
        return
    libs = kafka_libs()
    props = kafka_properties()
    classpath = f"{libs}/*"
    log4j = ROOT / "deploy" / "kafka" / "log4j2.properties"
    java = [
        "java",
        "-Xms256m",
        "-Xmx1g",
        f"-Dlog4j2.configurationFile={log4j}",
        f"-Dkafka.logs.dir={LOGS}",
        "-cp",
        classpath,
    ]
    data = RUN / "kafka" / "data"
    if not (data / "meta.properties").exists():
        log("formatting Kafka storage (KRaft, single node)")
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        run(
            [
                *java,
                "kafka.tools.StorageTool",
                "format",
                "--standalone",
                "-t",
                cluster_id,
                "-c",
                str(props),
            ],
            stdout=subprocess.DEVNULL,
        )
    log(f"starting Kafka on 127.0.0.1:{port}")
    spawn("kafka", [*java, "kafka.Kafka", str(props)])
    wait_until(lambda: port_open(port), "Kafka", timeout_s=90)


def stop_kafka() -> None:
    terminate("kafka", timeout_s=30)


def create_topics() -> None:
    run([str(python()), "-m", "shared.topics", "create"], cwd=ROOT)


# ---------------------------------------------------------------- services


def python() -> Path:
    venv = ROOT / ".venv" / "bin" / "python"
    return venv if venv.exists() else Path(sys.executable)


def service_port(name: str) -> int:
    return ENV.int(f"WEITAO_{name.upper()}_PORT")


def http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as resp:
            return resp.status == 200
    except OSError:
        return False


def start_services() -> None:
    for name in SERVICES:
        if pid_of(name) is not None:
            continue
        log(f"starting {name} on :{service_port(name)}")
        # The local stack is local development: the JWT secret may be the documented default.
        local = {"WEITAO_ENV": "local", **os.environ}
        spawn(name, [str(python()), "-m", f"services.{name}"], env=local)
    for name in SERVICES:
        url = f"http://127.0.0.1:{service_port(name)}/readyz"
        wait_until(lambda url=url: http_ok(url), f"service {name}", timeout_s=90)


def stop_services() -> None:
    for name in SERVICES:
        terminate(name)


# ---------------------------------------------------------------- commands


def up_infra() -> None:
    ensure_binaries()
    start_postgres()
    start_redis()
    start_kafka()
    create_topics()


def status() -> None:
    checks = {
        "postgres": port_open(ENV.int("WEITAO_PG_PORT")),
        "redis": port_open(ENV.int("WEITAO_REDIS_PORT")),
        "kafka": port_open(ENV.int("WEITAO_KAFKA_PORT")),
    }
    for name in SERVICES:
        checks[name] = http_ok(f"http://127.0.0.1:{service_port(name)}/readyz")
    for name, ok in checks.items():
        print(f"{name:12s} {'up' if ok else 'down'}")


def kill(name: str) -> None:
    """SIGKILL, no clean-up: the fault suite's crash (a service, Redis or the broker)."""
    pid = pid_of(name)
    if pid is not None:
        os.kill(pid, signal.SIGKILL)
        (PIDS / f"{name}.pid").unlink(missing_ok=True)
        log(f"{name} killed")


STARTERS = {
    "kafka": start_kafka,
    "redis": start_redis,
    "postgres": start_postgres,
    **{name: start_services for name in SERVICES},
}
STOPPERS = {
    "kafka": stop_kafka,
    "redis": lambda: terminate("redis"),
    "postgres": stop_postgres,
    **{name: (lambda name=name: terminate(name)) for name in SERVICES},
}


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(
        prog="python deploy/localstack.py",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "command",
        nargs="?",
        default="up",
        choices=(
            "up",
            "infra",
            "services",
            "down",
            "cluster",
            "stop",
            "start",
            "kill",
            "status",
            "urls",
        ),
    )
    parser.add_argument("target", nargs="?", help="for stop, start and kill: what to act on")
    args = parser.parse_args(argv)
    command, target = args.command, args.target
    if command == "up":
        up_infra()
        start_services()
    elif command == "infra":
        up_infra()
    elif command == "services":
        start_services()
    elif command == "down":
        stop_services()
        stop_kafka()
        terminate("redis")
        stop_redis_cluster()
        stop_postgres()
    elif command == "cluster":
        ensure_binaries()
        start_redis_cluster()
    elif command == "stop" and target in STARTERS:
        STOPPERS[target]()
    elif command == "start" and target in STARTERS:
        STARTERS[target]()
    elif command == "kill" and (target in SERVICES or target in ("redis", "kafka")):
        kill(target)
    elif command == "status":
        status()
    elif command == "urls":
        for name in SERVICES:
            print(f"{name:12s} http://127.0.0.1:{service_port(name)}  (/openapi.json, /metrics)")
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
