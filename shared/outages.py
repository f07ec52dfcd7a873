"""Which errors mean "a dependency is unavailable" rather than "this event is at fault".

A consumer waits out the first kind for as long as it lasts and never dead-letters an
event for it; only the second kind counts towards giving up on an event. Wrong answers
here lose data: an outage classified as a bug skips events. So the lists are the real
classes of the installed clients (redis-py 5, asyncpg, aiokafka), and an error counts as
an outage when anything in its cause/context chain (or exception group) is one, since
client libraries wrap the socket errors they meet in errors of their own.
"""

from __future__ import annotations

import errno
import re
import socket

import asyncpg.exceptions as pg
import redis.exceptions as redis_errors
from aiokafka import errors as kafka_errors

# The socket, DNS and timeout errors of the standard library: the host or the network
# is away. Not every OSError: a missing file or a permission denied is a bug to report.
_STDLIB = (ConnectionError, TimeoutError, socket.gaierror, socket.herror)
_NETWORK_ERRNOS = frozenset(
    {
        errno.ECONNREFUSED,
        errno.ECONNRESET,
        errno.ECONNABORTED,
        errno.EPIPE,
        errno.ETIMEDOUT,
        errno.EHOSTUNREACH,
        errno.EHOSTDOWN,
        errno.ENETUNREACH,
        errno.ENETDOWN,
        errno.EADDRNOTAVAIL,
    }
)

_REDIS = (
    # Also covers BusyLoadingError (restart loading its data), MaxConnectionsError, and
    # Authentication/AuthorizationError: a wrong password is fixed by an operator, and
    # no event is at fault while it lasts.
    redis_errors.ConnectionError,
    redis_errors.TimeoutError,
    # A cluster with a slot uncovered, failing over or resharding: ClusterDownError,
    # MasterDownError, "TTL exhausted" after redirects, TRYAGAIN, an uncovered slot.
    redis_errors.ClusterError,
    redis_errors.TryAgainError,
    redis_errors.SlotNotCoveredError,
    # A replica not yet promoted (or a primary demoted by a failover).
    redis_errors.ReadOnlyError,
)
# Server replies that arrive as a plain ResponseError where the client has no class for
# them (a standalone client gets no ClusterDownError); a pipeline prefixes the reply.
_REDIS_REPLY = re.compile(
    r"^(?:Command # \d+ .* of pipeline caused error: \(?['\"]?)?"
    r"(LOADING|MASTERDOWN|READONLY|CLUSTERDOWN|TRYAGAIN)\b",
    re.DOTALL,
)
# A cluster client that finds, on (re)discovering the nodes, slots that no node serves.
_CLUSTER_UNCOVERED = "All slots are not covered"

_POSTGRES = (
    # Class 08: ConnectionDoesNotExistError, ConnectionFailureError,
    # ClientCannotConnectError, ConnectionRejectionError, ...
    pg.PostgresConnectionError,
    # Class 57 that means the server is going, gone or coming back.
    pg.AdminShutdownError,
    pg.CrashShutdownError,
    pg.CannotConnectNowError,  # "the database system is starting up"
    pg.IdleSessionTimeoutError,
    pg.DatabaseDroppedError,
    pg.TooManyConnectionsError,
)
# QueryCanceledError (57014, a statement timeout) is left out on purpose: it is about the
# statement, and a query that can never finish must not hold its partition for ever.
_POSTGRES_CLOSED = re.compile(r"\b(connection|pool) is clos(ed|ing)\b")


def is_outage(exc: BaseException) -> bool:
    """True if `exc`, or an error it was raised from or while handling, means Redis,
    Postgres or Kafka is unavailable (waiting will fix it, not the event)."""
    seen: set[int] = set()
    pending = [exc]
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        if _is_outage_itself(current):
            return True
        if isinstance(current, BaseExceptionGroup):
            pending.extend(current.exceptions)
        if current.__cause__ is not None:
            pending.append(current.__cause__)
        if current.__context__ is not None and not current.__suppress_context__:
            pending.append(current.__context__)
    return False


def _is_outage_itself(exc: BaseException) -> bool:
    if isinstance(exc, _STDLIB + _REDIS + _POSTGRES):
        return True
    if type(exc) is OSError:  # a socket error the standard library gave no subclass
        return exc.errno in _NETWORK_ERRNOS or exc.errno is None
    if isinstance(exc, redis_errors.ResponseError):
        return bool(_REDIS_REPLY.match(str(exc)))
    if isinstance(exc, redis_errors.RedisClusterException):
        return str(exc).startswith(_CLUSTER_UNCOVERED)
    if isinstance(exc, pg.InterfaceError):
        return bool(_POSTGRES_CLOSED.search(str(exc)))
    if isinstance(exc, kafka_errors.KafkaError):
        # aiokafka marks what a retry can fix (no leader, broker unreachable, request
        # timed out, coordinator loading...); a send that timed out is not so marked.
        return exc.retriable or isinstance(exc, kafka_errors.KafkaTimeoutError)
    return False
