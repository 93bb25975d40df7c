"""The composition root: the one place that chooses an adapter for each port."""

from __future__ import annotations

from datetime import timedelta

from dependency_injector import containers, providers

from backend.adapters.outbound.metrics.collectors import scrape_collectors
from backend.adapters.outbound.metrics.observers import CommandLog
from backend.adapters.outbound.metrics.prometheus import PrometheusMetrics
from backend.adapters.outbound.queue.factory import (
    commit_signal_for,
    in_flight_rows_for,
    job_queue_for,
    outbox_queue_for,
    push_dispatcher,
)
from backend.adapters.outbound.redis.factory import (
    push_channel_for,
    rate_limiter_for,
    redis_client_for,
    revocation_feed_for,
)
from backend.adapters.outbound.security.argon2_hasher import Argon2PasswordHasher
from backend.adapters.outbound.security.jwt_tokens import JwtTokenIssuer
from backend.adapters.outbound.sqlalchemy.audit_sources import audit_sources_for
from backend.adapters.outbound.sqlalchemy.engine import (
    create_engine_for,
    deferred,
    read_engine_for,
)
from backend.adapters.outbound.sqlalchemy.identity_store import (
    SqlAlchemyRefreshTokenStore,
    SqlAlchemyTokenDenylist,
    SqlAlchemyUserRepository,
)
from backend.adapters.outbound.sqlalchemy.read_models import SqlAlchemyReadModelReader
from backend.adapters.outbound.sqlalchemy.rebuild import SqlAlchemyProjectionRebuilder
from backend.adapters.outbound.sqlalchemy.transfer_work import (
    SqlAlchemyEngineLeadership,
    SqlAlchemyTransferBacklog,
    SqlAlchemyTransferClaims,
)
from backend.adapters.outbound.sqlalchemy.unit_of_work import SqlAlchemyUnitOfWork
from backend.adapters.outbound.system import SystemClock, UuidGenerator
from backend.application.admission import TransferAdmission
from backend.application.bounded import RecentValues
from backend.application.command_bus import CACHED_ACCOUNTS, CommandBus, Tools
from backend.application.event_codec import default_codec
from backend.application.handlers import KEYED_RESULTS, command_handlers
from backend.application.idempotency import KeyRecords
from backend.application.identity import IdentityService
from backend.application.ports.clock_and_ids import Clock
from backend.application.ports.commit_signal import CommitSignal
from backend.application.ports.metrics import CommandObserver
from backend.application.ports.rate_limits import RateLimiter
from backend.application.projections import default_projections
from backend.application.projections.inline import inline_projector
from backend.application.projections.runner import ProjectionRunner
from backend.application.push import PushNotifier, ReadModelPushViews
from backend.application.queries import AccountQueries, TransferQueries
from backend.application.rate_limits import LoginThrottle, RequestThrottle
from backend.application.relay import OutboxRelay, Wakeup, signalling_commits
from backend.application.revocations import RevocationCache
from backend.application.transfer_engine import (
    TransferEngine,
    waking_on_requests,
    with_work_tracking,
)
from backend.config import Settings
from backend.container_events import EventsContainer


def _request_throttle(settings: Settings, limiter: RateLimiter) -> RequestThrottle | None:
    limit = settings.rate_limit
    return RequestThrottle(limiter, limit.count, limit.period_seconds) if limit else None


def _command_observers(
    settings: Settings,
    command_log: CommandLog,
    wakeup: Wakeup,
    engine_wakeup: Wakeup,
    commit_signal: CommitSignal | None,
    serves_http: bool,
) -> tuple[CommandObserver, ...]:
    # Commands wake the relay and, when they request a transfer, the engine: embedded, this
    # process's; distributed, the workers' — from web processes only (an engine's own rounds
    # need no signal: it runs their transfers on by itself).
    if settings.embedded:
        return (command_log, wakeup.after_command, waking_on_requests(engine_wakeup.wake))
    if serves_http and commit_signal is not None:
        return (command_log, signalling_commits(commit_signal))
    return (command_log,)


class Container(containers.DeclarativeContainer):
    """Providers for everything the app and the workers need; nothing is built until asked."""

    # --- configuration -------------------------------------------------------------------------
    settings = providers.Dependency(instance_of=Settings)

    # --- infrastructure: engines and clients (one per process, thread-safe) ---------------------
    engine = providers.ThreadSafeSingleton(create_engine_for, url=settings.provided.database_url)
    read_engine = providers.ThreadSafeSingleton(
        read_engine_for, url=settings.provided.read_database_url, primary=engine.provider
    )
    redis_client = providers.ThreadSafeSingleton(redis_client_for, url=settings.provided.redis_url)

    # --- read side: projections, query services (on the read engine), rebuild -----------------
    projections = providers.ThreadSafeSingleton(
        default_projections, codec=providers.Callable(default_codec)
    )
    #: Pass as CommandBus(inline_projector=...): commands then show in the caller's next GET.
    inline_projection = providers.ThreadSafeSingleton(inline_projector, projections=projections)
    read_model_reader = providers.ThreadSafeSingleton(SqlAlchemyReadModelReader, engine=read_engine)
    account_queries = providers.ThreadSafeSingleton(AccountQueries, reader=read_model_reader)
    transfer_queries = providers.ThreadSafeSingleton(TransferQueries, reader=read_model_reader)
    projection_rebuilder = providers.Factory(
        SqlAlchemyProjectionRebuilder, engine=engine, projections=projections
    )
    #: What `hexbank audit verify` reads: the log and the live read models on the primary.
    audit_sources = providers.Factory(audit_sources_for, engine=engine)

    # --- identity, rate limits and idempotency (REST API v1) -----------------------------------
    clock = providers.ThreadSafeSingleton(SystemClock)
    ids = providers.ThreadSafeSingleton(UuidGenerator)
    password_hasher = providers.ThreadSafeSingleton(Argon2PasswordHasher)
    token_issuer = providers.ThreadSafeSingleton(
        JwtTokenIssuer, secret=settings.provided.secret_key
    )
    user_repository = providers.ThreadSafeSingleton(SqlAlchemyUserRepository, engine=engine)
    refresh_token_store = providers.ThreadSafeSingleton(SqlAlchemyRefreshTokenStore, engine=engine)
    # Revocations live in SQL in both modes: Redis may restart empty (it keeps nothing on
    # disk here), and a revoked token must never pass again. Checks read each process's copy
    # in memory, kept current through the revocation feed; while the feed is not trusted
    # (Redis lost, not subscribed yet) they go to SQL, one indexed lookup each.
    token_denylist = providers.ThreadSafeSingleton(
        RevocationCache,
        store=providers.ThreadSafeSingleton(SqlAlchemyTokenDenylist, engine=engine),
        feed=providers.ThreadSafeSingleton(
            revocation_feed_for, settings=settings, client=redis_client.provider
        ),
        clock=clock,
    )
    rate_limiter = providers.ThreadSafeSingleton(
        rate_limiter_for, settings=settings, clock=clock, client=redis_client.provider
    )
    login_throttle = providers.ThreadSafeSingleton(LoginThrottle, limiter=rate_limiter)
    request_throttle = providers.ThreadSafeSingleton(
        _request_throttle, settings=settings, limiter=rate_limiter
    )
    identity_service = providers.ThreadSafeSingleton(
        IdentityService,
        users=user_repository,
        refresh_tokens=refresh_token_store,
        denylist=token_denylist,
        hasher=password_hasher,
        issuer=token_issuer,
        clock=clock,
        ids=ids,
        throttle=login_throttle,
        access_ttl=settings.provided.access_token_ttl,
        refresh_ttl=settings.provided.refresh_token_ttl,
    )

    # --- real-time push (WebSocket) ------------------------------------------------------------
    push_channel = providers.ThreadSafeSingleton(
        push_channel_for, settings=settings, client=redis_client.provider
    )
    # Views from the primary, not a replica: a push must show the state it announces.
    push_notifier = providers.ThreadSafeSingleton(
        PushNotifier,
        views=providers.Factory(
            ReadModelPushViews, reader=providers.Factory(SqlAlchemyReadModelReader, engine=engine)
        ),
        channel=push_channel,
    )

    # --- metrics: Prometheus series of this process, gauges read at scrape time ---------------
    metrics = providers.ThreadSafeSingleton(PrometheusMetrics)
    command_log = providers.ThreadSafeSingleton(CommandLog, metrics=metrics)
    #: Wake this process's relay loop when events were just committed, and its transfer engine
    #: when transfers were requested.
    relay_wakeup = providers.ThreadSafeSingleton(Wakeup)
    engine_wakeup = providers.ThreadSafeSingleton(Wakeup)
    #: Distributed mode: web processes' commits wake the workers' relays (None when embedded).
    commit_signal = providers.ThreadSafeSingleton(
        commit_signal_for, settings=settings, client=redis_client
    )
    #: True in a web process (`hexbank serve`), False in a worker or a CLI command.
    serves_http = providers.Object(False)
    command_observers = providers.ThreadSafeSingleton(
        _command_observers,
        settings=settings,
        command_log=command_log,
        wakeup=relay_wakeup,
        engine_wakeup=engine_wakeup,
        commit_signal=commit_signal,
        serves_http=serves_http,
    )

    # --- commands, the transfer saga and the messaging that drives it --------------------------
    #: A fresh unit of work (one transaction) per request, per job, per retry.
    unit_of_work = providers.Factory(SqlAlchemyUnitOfWork, engine=engine)
    codec = providers.ThreadSafeSingleton(default_codec)
    command_bus = providers.ThreadSafeSingleton(
        CommandBus,
        uow_factory=unit_of_work.provider,
        handlers=providers.Callable(
            command_handlers,
            transfer_timeout=providers.Callable(
                timedelta, seconds=settings.provided.transfer_timeout
            ),
        ),
        tools=providers.Factory(
            Tools,
            codec=codec,
            clock=clock,
            ids=ids,
            snapshot_every=settings.provided.snapshot_every,
            accounts=providers.Factory(RecentValues, CACHED_ACCOUNTS),
        ),
        keys=providers.Factory(KeyRecords, clock=clock, results=KEYED_RESULTS),
        # Read-your-writes, and the engines' work table, in the command's own transaction.
        inline_projector=providers.Callable(with_work_tracking, projector=inline_projection),
        observers=command_observers,
    )
    transfer_engine = providers.ThreadSafeSingleton(
        TransferEngine,
        bus=command_bus,
        claims=providers.Factory(SqlAlchemyTransferClaims, engine=engine),
        leadership=providers.Factory(SqlAlchemyEngineLeadership, engine=engine),
        clock=clock,
        metrics=metrics,
        announce=push_notifier.provided.announce,
    )
    message_dispatcher = providers.ThreadSafeSingleton(push_dispatcher, notifier=push_notifier)
    deferred_engine = providers.Callable(deferred, engine)
    #: One per process: the rows its queue has in flight (embedded mode only, else None).
    in_flight_rows = providers.ThreadSafeSingleton(
        in_flight_rows_for,
        settings=settings,
        uow_factory=unit_of_work.provider,
        # Its polls only read: on SQLite they need not queue for the write lock.
        read_uow_factory=providers.Factory(SqlAlchemyUnitOfWork, engine=deferred_engine).provider,
    )
    job_queue = providers.ThreadSafeSingleton(
        job_queue_for,
        settings=settings,
        client=redis_client,
        dispatcher=message_dispatcher,
        in_flight=in_flight_rows,
    )
    outbox_relay = providers.ThreadSafeSingleton(
        OutboxRelay,
        uow_factory=unit_of_work.provider,
        queue=providers.Callable(
            outbox_queue_for, settings=settings, queue=job_queue, dispatcher=message_dispatcher
        ),
        in_flight=in_flight_rows,
    )
    #: Refuses new transfers at the door when the backlog would not finish within the timeout.
    transfer_admission = providers.ThreadSafeSingleton(
        TransferAdmission,
        backlog=providers.Factory(SqlAlchemyTransferBacklog, engine=engine),
        timeout=settings.provided.transfer_timeout,
    )
    # The follower reads head and checkpoints from the primary, never from a replica.
    projection_runner = providers.ThreadSafeSingleton(
        ProjectionRunner,
        uow_factory=unit_of_work.provider,
        projections=projections,
        reader=providers.Factory(SqlAlchemyReadModelReader, engine=engine),
    )
    events = providers.Container(  # the public event feed and its webhooks
        EventsContainer, settings=settings, engine=engine, uow_factory=unit_of_work.provider,
        clock=clock, ids=ids, redis_client=redis_client,
    )  # fmt: skip
    #: Providers, not instances: the queue and the follower are resolved at each scrape.
    metrics_collectors = providers.ThreadSafeSingleton(
        scrape_collectors, queue=job_queue.provider, projections=projection_runner.provider
    )


def build_container(
    settings: Settings, clock: Clock | None = None, *, serves_http: bool = False
) -> Container:
    """A container for `settings` (and `clock`, when the time is not the system's);
    `serves_http` for a web process."""
    fixed = {} if clock is None else {"clock": providers.Object(clock)}
    return Container(settings=settings, serves_http=providers.Object(serves_http), **fixed)
