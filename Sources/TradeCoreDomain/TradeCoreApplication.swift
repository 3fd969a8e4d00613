import EventSourcing
import EventStore
import Foundation
import Logging
import Synchronization
import TradeCoreMessages

/// The whole domain over one event store: the command bus with every handler, the query bus over
/// the read models, the projections, the two sagas and the fill poller, wired together.
///
/// ``run()`` runs the background parts (projections, sagas, poller) until cancelled; the buses
/// answer as soon as the application is made.
public final class TradeCoreApplication: Sendable {
    /// Settings of the domain.
    public struct Configuration: Sendable {
        /// The base of automations' webhook URLs.
        public var webhookBaseURL: String
        /// How often the fill poller asks brokers for executions (it is also woken by placements).
        public var fillPollInterval: Duration
        /// Retries of commands after version conflicts.
        public var retry: RetryPolicy
        /// Batching of the projections.
        public var projections: ProjectionRunner.Configuration
        /// Retries of the sagas' commands.
        public var sagas: SagaManager<OrderExecutionSaga>.Configuration
        /// How long a rebuild of the read models waits to lead a projection's role before it gives
        /// up (another server runs the projection).
        public var rebuildLeadWait: Duration

        public init(
            webhookBaseURL: String = "https://hooks.tradecore.invalid",
            fillPollInterval: Duration = .milliseconds(100),
            retry: RetryPolicy = RetryPolicy(),
            projections: ProjectionRunner.Configuration = ProjectionRunner.Configuration(),
            sagas: SagaManager<OrderExecutionSaga>.Configuration = SagaManager<OrderExecutionSaga>.Configuration(),
            rebuildLeadWait: Duration = .seconds(10)
        ) {
            self.webhookBaseURL = webhookBaseURL
            self.fillPollInterval = fillPollInterval
            self.retry = retry
            self.projections = projections
            self.sagas = sagas
            self.rebuildLeadWait = rebuildLeadWait
        }
    }

    /// The types of the streams this application writes: what a subscription may filter on.
    public static let streamTypes: Set<String> = [
        Order.streamType, Automation.streamType, BrokerConnection.streamType, BrokerAccount.streamType,
        AccountRefreshRun.streamType, SagaManagerStreams.streamType,
    ]

    /// The types of the events this application writes: the domain's (`Schemas/events.proto`) and
    /// the saga managers' step records. What a subscription may filter on.
    public static let eventTypes: Set<String> = Set(TradeCoreSchema.domainEventTypesByName.keys)
        .union(SagaManagerStreams.eventTypes)

    /// Every command the bus handles: the API's and the sagas' own.
    public static let commandTypes: [any Command.Type] = [
        CreateOrder.self, PlaceOrder.self, AddFill.self, UpdateOrder.self, CancelOrder.self, RejectOrder.self,
        DeleteOrder.self, SubmitOrderToBroker.self,
        CreateAutomation.self, UpdateAutomation.self, ActivateAutomation.self, DeactivateAutomation.self,
        DeleteAutomation.self,
        InitiateBrokerConnection.self, CompleteOAuth.self, DisconnectBroker.self, SyncBrokerAccounts.self,
        LinkBrokerAccount.self, UnlinkBrokerAccount.self, RefreshAccountDataFromBroker.self, RefreshAllAccounts.self,
    ]

    /// Every query the bus answers.
    public static let queryTypes: [any Query.Type] = [
        GetOrder.self, ListOrders.self, GetAutomation.self, ListAutomations.self, GetBrokerConnection.self,
        FindBrokerConnection.self, GetAccountsByUser.self, GetAccountsByConnection.self, ListWorkingOrders.self,
    ]

    public let store: any EventStore
    public let readModels: any ProjectionStore
    public let services: DomainServices
    public let commands: CommandBus
    public let queries: QueryBus
    public let projections: [ProjectionRunner]
    public let orderExecution: SagaManager<OrderExecutionSaga>
    public let onboarding: SagaManager<ConnectionOnboardingSaga>
    public let fills: BrokerFillPoller
    private let leadership: any Leadership
    private let rebuildLeadWait: Duration
    private let logger: Logger

    /// Wires the domain over `store`, its read models in `readModels`.
    ///
    /// - Throws: ``HandlerRegistrationError`` if a command or query lacks its handler (a bug).
    public init(
        store: any EventStore,
        readModels: any ProjectionStore,
        secrets: ServerSecrets,
        brokers: BrokerRegistry,
        configuration: Configuration = Configuration(),
        clock: any EventSourcingClock = SystemClock(),
        interceptors: [any CommandInterceptor] = [],
        lock: (any DistributedLock)? = nil,
        leadership: any Leadership = SoleServer(),
        logger: Logger = Logger(label: "tradecore.domain")
    ) throws {
        self.store = store
        self.readModels = readModels
        self.leadership = leadership
        self.rebuildLeadWait = configuration.rebuildLeadWait
        self.logger = logger
        let services = DomainServices(
            brokers: brokers, vault: CredentialVault(storage: readModels, secrets: secrets), secrets: secrets,
            webhookBaseURL: configuration.webhookBaseURL)
        self.services = services
        let projections: [any Projection] = [
            OrdersProjection(), AutomationsProjection(), BrokerConnectionsProjection(), BrokerAccountsProjection(),
        ]
        self.projections = projections.map {
            ProjectionRunner(
                $0, events: store, readModels: readModels, configuration: configuration.projections, logger: logger)
        }
        self.queries = try QueryBus(
            handlers: [
                GetOrderHandler(), ListOrdersHandler(), GetAutomationHandler(), ListAutomationsHandler(),
                GetBrokerConnectionHandler(), FindBrokerConnectionHandler(), GetAccountsByUserHandler(),
                GetAccountsByConnectionHandler(), ListWorkingOrdersHandler(),
            ],
            queries: Self.queryTypes, readModels: readModels, progress: self.projections)
        var handlerServices = HandlerServices()
        handlerServices.register(services)
        let dependencies = HandlerDependencies(
            store: store, queries: queries, lock: lock, clock: clock, services: handlerServices)
        self.commands = try CommandBus(
            handlers: [
                CreateOrderHandler(), PlaceOrderHandler(), AddFillHandler(), UpdateOrderHandler(),
                CancelOrderHandler(), RejectOrderHandler(), DeleteOrderHandler(), SubmitOrderToBrokerHandler(),
                CreateAutomationHandler(), UpdateAutomationHandler(), ActivateAutomationHandler(),
                DeactivateAutomationHandler(), DeleteAutomationHandler(),
                InitiateBrokerConnectionHandler(), CompleteOAuthHandler(), DisconnectBrokerHandler(),
                SyncBrokerAccountsHandler(), LinkBrokerAccountHandler(), UnlinkBrokerAccountHandler(),
                RefreshAccountDataFromBrokerHandler(), RefreshAllAccountsHandler(),
            ],
            commands: Self.commandTypes, dependencies: dependencies, interceptors: interceptors,
            configuration: CommandBus.Configuration(retry: configuration.retry, logger: logger))
        let sagaSettings = configuration.sagas
        self.orderExecution = SagaManager(
            OrderExecutionSaga(), store: store, commands: commands, checkpoints: readModels, clock: clock,
            configuration: sagaSettings, logger: logger)
        self.onboarding = SagaManager(
            ConnectionOnboardingSaga(), store: store, commands: commands, checkpoints: readModels, clock: clock,
            configuration: SagaManager<ConnectionOnboardingSaga>.Configuration(
                bufferCapacity: sagaSettings.bufferCapacity, checkpointInterval: sagaSettings.checkpointInterval,
                commandAttempts: sagaSettings.commandAttempts, commandRetryDelay: sagaSettings.commandRetryDelay),
            logger: logger)
        self.fills = BrokerFillPoller(
            commands: commands, queries: queries, store: store, services: services,
            interval: configuration.fillPollInterval, logger: logger)
    }

    /// Throws ``ProjectionVersionTooNew`` for the first read model a newer version of its
    /// projection built: this server must not run it, and says so before it serves.
    public func checkReadModelVersions() async throws {
        for runner in projections { try await runner.checkReadModelIsNotNewer() }
    }

    /// Empties every read model and rebuilds it from the whole log, one projection after another,
    /// each recorded as built by its projection's current version, each while this server leads
    /// the projection's role (see ``Leadership``), so no other server applies events to it meanwhile.
    ///
    /// - Throws: ``ReadModelsInUse`` when another server has led a projection's role for
    ///   ``Configuration/rebuildLeadWait``: servers sharing the database must be stopped before a rebuild, whose
    ///   reset they would not see (their queries would answer from rows that are gone).
    public func rebuildReadModels() async throws {
        for runner in projections {
            let role = "projection:\(runner.projectionName)"
            let reached = try await leadingSoon(role) { try await runner.rebuild() }
            logger.notice(
                "read model rebuilt",
                metadata: ["projection.name": "\(runner.projectionName)", "projection.position": "\(reached)"])
        }
    }

    /// Runs `body` once, as soon as this server leads `role`, if it does within the configured wait.
    private func leadingSoon(
        _ role: String, _ body: @escaping @Sendable () async throws -> Int64
    ) async throws -> Int64 {
        let turn = LeadTurn()
        let wait = rebuildLeadWait
        try await withThrowingTaskGroup(of: Bool.self) { group in
            group.addTask {
                try await self.leadership.whileLeading(role) {
                    guard turn.start() else { return }
                    turn.finish(try await body())
                }
                return true
            }
            group.addTask {
                try? await Task.sleep(for: wait)
                // Once the body runs, it runs to its end; only a wait is given up.
                _ = turn.giveUp()
                return false
            }
            defer { group.cancelAll() }
            while let ended = try await group.next() {
                if ended { return }
                if turn.gaveUp { throw ReadModelsInUse(role: role, waited: wait) }
                // The timer, once the body had started: wait for the body.
            }
        }
        guard let position = turn.result else { throw CancellationError() }
        return position
    }

    /// Runs the projections, the sagas and the fill poller until the task is cancelled (or the
    /// store closes). If one of them fails, the others are stopped and the error is thrown.
    ///
    /// Each runs while this server leads its role (see ``Leadership``): a projection per role, the
    /// onboarding saga, and *execution*: the order execution saga with the fill poller, together,
    /// because an order's fills come from the broker connection that placed it.
    public func run() async throws {
        do {
            try await runParts()
        } catch is CancellationError where Task.isCancelled {
            // Stopped while a part was still starting (a read it awaited saw the cancellation):
            // that is the stop asked for, not a failure.
        }
    }

    private func runParts() async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            for runner in projections {
                group.addTask { try await self.lead("projection:\(runner.projectionName)") { try await runner.run() } }
            }
            group.addTask {
                try await self.lead("execution") {
                    try await withThrowingTaskGroup(of: Void.self) { execution in
                        execution.addTask { try await self.orderExecution.run() }
                        execution.addTask { await self.fills.run() }
                        defer { execution.cancelAll() }
                        while try await execution.next() != nil {}
                    }
                }
            }
            group.addTask { try await self.lead("saga:onboarding") { try await self.onboarding.run() } }
            defer { group.cancelAll() }
            // A part that returns early (its store closed) does not stop the others; one that
            // throws does.
            while try await group.next() != nil {}
        }
    }

    /// Runs a background part while this server leads its role, and starts it again (after a pause
    /// that doubles up to 5 s) when the store fails under it: a database that restarts, or cannot
    /// be reached for a while, must not stop the projections and sagas for good.
    private func lead(_ role: String, _ body: @escaping @Sendable () async throws -> Void) async throws {
        let logger = self.logger
        try await leadership.whileLeading(role) {
            var pause = Duration.milliseconds(100)
            while !Task.isCancelled {
                do {
                    try await body()
                    return
                } catch let error as EventStoreError where error.code != .closed {
                    logger.warning(
                        "a background part stopped on a storage failure; starting it again",
                        metadata: ["role": "\(role)", "error": "\(error)", "pause": "\(pause)"])
                    try? await Task.sleep(for: pause)
                    pause = min(pause * 2, .seconds(5))
                }
            }
        }
    }
}

/// Whether a body waiting for a lead has started, or its wait was given up: one or the other.
private final class LeadTurn: Sendable {
    private enum State { case waiting, started, gaveUp }
    private let state = Mutex((State.waiting, Int64?.none))

    /// Starts the body, unless its wait was given up.
    func start() -> Bool {
        state.withLock { state in
            guard state.0 == .waiting else { return false }
            state.0 = .started
            return true
        }
    }

    /// Gives up the wait, unless the body started.
    func giveUp() -> Bool {
        state.withLock { state in
            guard state.0 == .waiting else { return false }
            state.0 = .gaveUp
            return true
        }
    }

    func finish(_ result: Int64) { state.withLock { $0.1 = result } }

    var gaveUp: Bool { state.withLock { $0.0 == .gaveUp } }
    var result: Int64? { state.withLock { $0.1 } }
}

/// Another server runs a projection whose read model a rebuild would reset.
public struct ReadModelsInUse: Error, Sendable, CustomStringConvertible {
    /// The role another server leads.
    public let role: String
    /// How long this server waited for it.
    public let waited: Duration

    public var description: String {
        "another server sharing the database runs \(role) (it led that role for the \(waited) this server waited): "
            + "stop every other server before rebuilding the read models"
    }
}
