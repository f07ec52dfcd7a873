"""Which errors mean "a dependency is unavailable": those a consumer waits out for as long
as they last instead of dead-lettering the event. Real instances of the installed
clients' classes, and real errors of clients pointed at a closed port."""

from __future__ import annotations

import errno
import socket

import asyncpg
import asyncpg.exceptions as pg
import pytest
import redis.asyncio as aioredis
import redis.exceptions as redis_errors
from aiokafka import errors as kafka_errors
from redis.asyncio.client import Pipeline

from shared.outages import is_outage


def _pipeline_error(exc: redis_errors.ResponseError) -> redis_errors.ResponseError:
    """The error as a pipeline reports it: redis-py prefixes the command to its message."""
    Pipeline.annotate_exception(None, exc, 1, ("SET", "k", "v"))  # type: ignore[arg-type]
    return exc


OUTAGES = [
    ConnectionRefusedError(111, "Connection refused"),
    ConnectionResetError(),
    TimeoutError(),
    OSError(113, "No route to host"),
    socket.gaierror(-3, "Temporary failure in name resolution"),
    redis_errors.ConnectionError("Error 111 connecting to 127.0.0.1:6379."),
    redis_errors.TimeoutError("Timeout reading from socket"),
    redis_errors.BusyLoadingError("Redis is loading the dataset in memory"),
    redis_errors.MaxConnectionsError(),
    redis_errors.ClusterDownError("The cluster is down"),
    redis_errors.MasterDownError("Link with MASTER is down"),
    redis_errors.ClusterError("TTL exhausted."),
    redis_errors.TryAgainError("Multiple keys request during rehashing of slot"),
    redis_errors.ReadOnlyError("You can't write against a read only replica."),
    redis_errors.SlotNotCoveredError('Slot "42" not covered by the cluster.'),
    redis_errors.RedisClusterException("All slots are not covered after query all startup_nodes."),
    redis_errors.ResponseError("LOADING Redis is loading the dataset in memory"),
    redis_errors.ResponseError("MASTERDOWN Link with MASTER is down"),
    redis_errors.ResponseError("READONLY You can't write against a read only replica."),
    redis_errors.ResponseError("CLUSTERDOWN The cluster is down"),
    redis_errors.ResponseError("TRYAGAIN Multiple keys request during rehashing of slot"),
    _pipeline_error(redis_errors.ResponseError("MASTERDOWN Link with MASTER is down")),
    pg.PostgresConnectionError("connection failure"),
    pg.ConnectionDoesNotExistError("connection was closed in the middle of operation"),
    pg.ConnectionFailureError("connection failure"),
    pg.ClientCannotConnectError("cannot connect"),
    pg.CannotConnectNowError("the database system is starting up"),
    pg.AdminShutdownError("terminating connection due to administrator command"),
    pg.CrashShutdownError("terminating connection because of crash of another server process"),
    pg.IdleSessionTimeoutError("terminating connection due to idle-session timeout"),
    pg.TooManyConnectionsError("sorry, too many clients already"),
    pg.InterfaceError("cannot perform operation: connection is closed"),
    pg.InterfaceError("pool is closed"),
    pg.InterfaceError("pool is closing"),
    kafka_errors.KafkaConnectionError("Unable to bootstrap from localhost:9092"),
    kafka_errors.KafkaTimeoutError(),
    kafka_errors.RequestTimedOutError(),
    kafka_errors.NotLeaderForPartitionError(),
    kafka_errors.LeaderNotAvailableError(),
    kafka_errors.NoBrokersAvailable(),
    kafka_errors.NodeNotReadyError(),
    kafka_errors.NotEnoughReplicasError(),
    kafka_errors.CoordinatorNotAvailableError(),
]

BUGS = [
    ValueError("a bug in this handler"),
    KeyError("user_id"),
    TypeError("unsupported operand"),
    redis_errors.ResponseError("WRONGTYPE Operation against a key holding the wrong kind"),
    redis_errors.ResponseError("ERR value is not an integer or out of range"),
    _pipeline_error(redis_errors.ResponseError("ERR syntax error")),
    redis_errors.NoScriptError("No matching script. Please use EVAL."),
    redis_errors.DataError("Invalid input of type: 'NoneType'"),
    redis_errors.RedisClusterException("EVAL - all keys must map to the same key slot"),
    redis_errors.ClusterCrossSlotError(),
    pg.UniqueViolationError("duplicate key value violates unique constraint"),
    pg.UndefinedColumnError('column "nope" does not exist'),
    pg.QueryCanceledError("canceling statement due to statement timeout"),
    pg.InterfaceError("cannot perform operation: another operation is in progress"),
    pg.DataError("invalid input for query argument $1"),
    kafka_errors.MessageSizeTooLargeError(),
    kafka_errors.CommitFailedError(),
]


@pytest.mark.parametrize("error", OUTAGES, ids=lambda e: f"{type(e).__name__}:{e}"[:60])
def test_an_unavailable_dependency_is_an_outage(error):
    assert is_outage(error)


@pytest.mark.parametrize("error", BUGS, ids=lambda e: f"{type(e).__name__}:{e}"[:60])
def test_a_failure_the_event_can_cause_is_not_an_outage(error):
    assert not is_outage(error)


def raised_from(error: BaseException, cause: BaseException) -> BaseException:
    try:
        raise error from cause
    except BaseException as exc:
        return exc


def raised_while_handling(
    error: BaseException, context: BaseException, hide_context: bool = False
) -> BaseException:
    try:
        try:
            raise context
        except BaseException:
            if hide_context:
                raise error from None
            raise error  # noqa: B904 (the implicit context is what is tested)
    except BaseException as exc:
        return exc


def test_an_error_raised_from_or_while_handling_an_outage_is_an_outage():
    wrapped = raised_from(RuntimeError("could not write the feed"), OSError(111, "refused"))
    assert is_outage(wrapped)
    during = raised_while_handling(ValueError("cleanup"), redis_errors.ConnectionError("reset"))
    assert is_outage(during)
    deeper = raised_from(KeyError("x"), raised_from(ValueError("y"), wrapped))
    assert is_outage(deeper)
    grouped = ExceptionGroup("two writes", [ValueError("a"), pg.CannotConnectNowError("b")])
    assert is_outage(grouped)
    assert not is_outage(ExceptionGroup("two bugs", [ValueError("a"), KeyError("b")]))
    assert not is_outage(raised_from(ValueError("a"), KeyError("b")))


def test_an_error_that_hides_its_context_is_judged_alone():
    hidden = raised_while_handling(ValueError("bad"), OSError(111, "refused"), hide_context=True)
    assert not is_outage(hidden)


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


async def test_what_redis_py_raises_for_a_redis_that_is_down_is_an_outage():
    client = aioredis.Redis(port=_closed_port(), socket_connect_timeout=1)
    with pytest.raises(redis_errors.ConnectionError) as raised:
        await client.set("k", "v")
    await client.aclose()
    assert is_outage(raised.value)


async def test_what_asyncpg_raises_for_a_postgres_that_is_down_is_an_outage():
    with pytest.raises(OSError) as raised:
        await asyncpg.connect(f"postgresql://weitao@127.0.0.1:{_closed_port()}/weitao", timeout=2)
    assert is_outage(raised.value)


@pytest.mark.parametrize(
    "exc",
    [FileNotFoundError("no such file"), PermissionError("denied"), IsADirectoryError("dir")],
)
def test_an_os_error_that_is_no_network_error_is_a_bug(exc):
    assert not is_outage(exc)


def test_a_bare_socket_error_with_a_network_errno_is_an_outage():
    assert is_outage(OSError(errno.EHOSTUNREACH, "No route to host"))
