import ArgumentParser
import Foundation
import TradeCoreClient
import TradeCoreMessages
import WireFormat

struct BrokerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "broker", abstract: "Connect users to brokers, finish OAuth, disconnect, and read connections.",
        subcommands: [Connect.self, CompleteOAuthCommand.self, Disconnect.self, Get.self, Find.self])

    struct Connect: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Connect a user to a broker (InitiateBrokerConnection).",
            discussion: """
                With OAuth, the result holds the URL to send the user to and the state the broker echoes \
                back; finish with `tradecore broker complete-oauth`. For a broker whose authorization \
                code you have at hand (the virtual broker accepts any code), --authorize-with-code does \
                both steps and then waits until the connection's accounts are linked.
                """)
        @OptionGroup var options: CommandOptions
        @Option(help: "The user's id: the one acting, and the owner of what is read or changed.") var user: UUID
        @Option(help: "The broker's id.") var broker = "virtual"
        @Option(help: "paper or live (default: paper).") var environment: Choice<BrokerEnvironment>?
        @Option(help: "oauth or api-key (default: api-key with --api-key, else the broker's).") var auth:
            Choice<AuthMethod>?
        @Option(help: "The broker API key (the connection then authenticates with it).") var apiKey: String?
        @Option(help: "The API key's secret. [env: TRADECORE_API_SECRET]") var apiSecret: String?
        @Option(help: "Where the broker sends the user back after authorizing.") var redirectURI: String = ""
        @Option(help: "Finish the OAuth flow at once with this authorization code.") var authorizeWithCode: String?
        @Option(parsing: .unconditional, help: "Seconds to wait for the accounts after --authorize-with-code.")
        var wait: Double = 15

        func validate() throws {
            // With a code, the connection's result is printed (or the start's, for a broker that
            // took API keys instead).
            if authorizeWithCode != nil {
                // Either may be printed, so the field must be one both have.
                try options.output.check(BrokerConnectionResult.self)
                try options.output.check(InitiateBrokerConnectionResult.self)
            } else {
                try options.output.check(InitiateBrokerConnectionResult.self)
            }
            try options.refuseExpectedVersion("broker connect makes a new connection")
            guard wait >= 0, wait.isFinite else {
                throw ValidationError("--wait must be 0 or more seconds, not \(wait)")
            }
            if auth?.value == .apiKey, apiKey == nil { throw ValidationError("--auth api-key needs --api-key") }
            if auth?.value == .oauth, apiKey != nil {
                throw ValidationError("--api-key goes with --auth api-key (or leave --auth out), not with --auth oauth")
            }
        }

        func run() async throws {
            let client = try options.connection.client()
            defer { Task { await client.close() } }
            let secret = apiSecret ?? ProcessInfo.processInfo.environment["TRADECORE_API_SECRET"] ?? ""
            // API keys given: they are how the connection authenticates, whatever the broker's default.
            let command = InitiateBrokerConnection(
                userID: user, brokerID: broker, environment: environment?.value,
                authMethod: auth?.value ?? (apiKey != nil ? .apiKey : nil),
                apiKeyCredentials: apiKey.map { ApiKeyCredentials(apiKey: $0, apiSecret: secret) },
                oauthRedirectURI: redirectURI)
            let started = try await calling {
                try await client.initiateBrokerConnection(command, commandID: options.commandID)
            }
            guard let code = authorizeWithCode, started.status == .awaitingOAuth else {
                try options.output.print(started)
                if started.status == .failed {
                    // Refused API keys: a failure, as a refused authorization below is.
                    throw CLIError("the connection failed: \(started.statusReason)", exitCode: 9)
                }
                return
            }
            let connected = try await calling {
                try await client.completeOAuth(
                    CompleteOAuth(
                        brokerConnectionID: started.brokerConnectionID, userID: user, authorizationCode: code,
                        state: started.oauthState))
            }
            guard connected.status == .connected else {
                try options.output.print(connected)
                throw CLIError("the connection failed: \(connected.statusReason)", exitCode: 9)
            }
            // The onboarding saga links the accounts, all in one event on the connection's stream
            // that names them (BrokerAccountsSynced), then refreshes each: wait until every one it
            // named is listed, refreshed since. Accounts that a reconnection links again are
            // listed, with an older refresh, before the others are.
            let deadline = Date().addingTimeInterval(wait)
            let stream = "broker_connection-\(started.brokerConnectionID.uuidString.lowercased())"
            var linked: (accounts: Set<UUID>, at: Int64, position: UInt64)?
            var accounts: [BrokerAccountView] = []
            while Date() < deadline {
                if linked == nil {
                    let page = try await calling {
                        try await client.readStream(
                            ReadStreamRequest(stream: stream, fromVersion: connected.version + 1))
                    }
                    if let event = page.events.first(where: { $0.eventType == "BrokerAccountsSynced" }) {
                        let synced = try BrokerAccountsSynced(protoBytes: event.payload)
                        linked = (Set(synced.accountIDs), synced.syncedAt, event.globalPosition)
                    }
                }
                if let linked {
                    accounts = try await calling {
                        try await client.accountsByConnection(
                            GetAccountsByConnection(
                                brokerConnectionID: started.brokerConnectionID, userID: user,
                                minPosition: linked.position))
                    }.accounts
                    let refreshed = accounts.filter { $0.lastSyncedAt >= linked.at }.map(\.accountID)
                    if linked.accounts.isSubset(of: refreshed) { break }
                }
                try await Task.sleep(for: .milliseconds(50))
            }
            try options.output.print(connected)
            if options.output.printsWhole { try printEach(accounts, options.output) }
        }
    }

    struct CompleteOAuthCommand: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "complete-oauth", abstract: "Finish an OAuth flow with the broker's code.")
        @OptionGroup var options: CommandOptions
        @Option(help: "The broker connection's id.") var connection: UUID
        @Option(help: "The user's id: the one acting, and the owner of what is read or changed.") var user: UUID
        @Option(help: "The authorization code the broker gave the user.") var code: String
        @Option(help: "The state the connect call returned.") var state: String

        func validate() throws { try options.output.check(BrokerConnectionResult.self) }

        func run() async throws {
            let result = try await options.connection.call { client in
                try await client.completeOAuth(
                    CompleteOAuth(
                        brokerConnectionID: connection, userID: user, authorizationCode: code, state: state,
                        expectedVersion: options.expectedVersion), commandID: options.commandID)
            }
            try options.output.print(result)
        }
    }

    struct Disconnect: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Disconnect a connection and forget its credentials.")
        @OptionGroup var options: CommandOptions
        @Option(help: "The broker connection's id.") var connection: UUID
        @Option(help: "The user's id: the one acting, and the owner of what is read or changed.") var user: UUID
        @Option(help: "Why, as recorded on the event.") var reason: String = ""

        func validate() throws { try options.output.check(BrokerConnectionResult.self) }

        func run() async throws {
            let result = try await options.connection.call { client in
                try await client.disconnectBroker(
                    DisconnectBroker(
                        brokerConnectionID: connection, userID: user, reason: reason,
                        expectedVersion: options.expectedVersion), commandID: options.commandID)
            }
            try options.output.print(result)
        }
    }

    struct Get: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show a connection.")
        @OptionGroup var options: QueryOptions
        @Option(help: "The broker connection's id.") var connection: UUID
        @Option(help: "The user's id: the one acting, and the owner of what is read or changed.") var user: UUID

        func validate() throws { try options.output.check(BrokerConnectionView.self) }

        func run() async throws {
            let view = try await options.connection.call { client in
                try await client.getBrokerConnection(
                    GetBrokerConnection(brokerConnectionID: connection, userID: user, minPosition: options.minPosition))
            }
            try options.output.print(view)
        }
    }

    struct Find: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show the connection of a user to a broker.")
        @OptionGroup var options: QueryOptions
        @Option(help: "The user's id: the one acting, and the owner of what is read or changed.") var user: UUID
        @Option(help: "The broker's id.") var broker = "virtual"
        @Option(help: "paper or live (default: paper).") var environment: Choice<BrokerEnvironment>?

        func validate() throws { try options.output.check(BrokerConnectionView.self) }

        func run() async throws {
            let view = try await options.connection.call { client in
                try await client.findBrokerConnection(
                    FindBrokerConnection(
                        userID: user, brokerID: broker, environment: environment?.value,
                        minPosition: options.minPosition))
            }
            try options.output.print(view)
        }
    }
}

struct AccountCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "account", abstract: "Refresh and list broker accounts.",
        subcommands: [Refresh.self, RefreshAll.self, List.self])

    struct Refresh: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Read one account's balances from its broker.")
        @OptionGroup var options: CommandOptions
        @Option(help: "The broker account's id.") var account: UUID
        @Option(help: "The user's id: the one acting, and the owner of what is read or changed.") var user: UUID

        func validate() throws { try options.output.check(BrokerAccountResult.self) }

        func run() async throws {
            let result = try await options.connection.call { client in
                try await client.refreshAccountDataFromBroker(
                    RefreshAccountDataFromBroker(
                        accountID: account, userID: user, expectedVersion: options.expectedVersion),
                    commandID: options.commandID)
            }
            try options.output.print(result)
        }
    }

    struct RefreshAll: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Refresh a user's accounts (or a connection's); recently synced ones unless forced.")
        @OptionGroup var options: CommandOptions
        @Option(help: "The user's id: the one acting, and the owner of what is read or changed.") var user: UUID
        @Option(help: "Only this broker connection's accounts.") var connection: UUID?
        @Flag(help: "Refresh accounts synced in the last 300 s too.") var force = false

        func validate() throws {
            try options.output.check(RefreshAllAccountsResult.self)
            try options.refuseExpectedVersion("refresh-all refreshes each account at the version it finds")
        }

        func run() async throws {
            let result = try await options.connection.call { client in
                try await client.refreshAllAccounts(
                    RefreshAllAccounts(userID: user, brokerConnectionID: connection, forceRefresh: force),
                    commandID: options.commandID)
            }
            try options.output.print(result)
            if result.failed > 0 {
                // The call went through, but the broker refused some accounts: a script must see it.
                let first = result.errors.first.map { ": \($0.accountID.uuidString.lowercased()): \($0.error)" } ?? ""
                throw CLIError("\(result.failed) of \(result.total) accounts failed to refresh\(first)", exitCode: 9)
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List a user's accounts, or a connection's.")
        @OptionGroup var options: QueryOptions
        @Option(help: "The user's id: the one acting, and the owner of what is read or changed.") var user: UUID
        @Option(help: "Only this broker connection's accounts.") var connection: UUID?
        @Option(help: "Only accounts of this type: cash or margin.") var type: Choice<BrokerAccountType>?
        @Flag(help: "List unlinked accounts too.") var includeUnlinked = false

        func validate() throws { try options.output.check(BrokerAccountView.self) }

        func run() async throws {
            let list = try await options.connection.call { client in
                if let connection {
                    return try await client.accountsByConnection(
                        GetAccountsByConnection(
                            brokerConnectionID: connection, userID: user, includeUnlinked: includeUnlinked,
                            minPosition: options.minPosition))
                }
                return try await client.accountsByUser(
                    GetAccountsByUser(userID: user, includeUnlinked: includeUnlinked, minPosition: options.minPosition))
            }
            try printEach(list.accounts.filter { type == nil || $0.accountType == type?.value }, options.output)
        }
    }
}
