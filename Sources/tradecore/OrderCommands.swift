import ArgumentParser
import Foundation
import TradeCoreClient
import TradeCoreMessages
import WireFormat

/// Options every command takes besides its own: the connection, the output, and its idempotency.
struct CommandOptions: ParsableArguments {
    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var output: OutputOptions

    @Option(help: "The command's tradecore-command-id: send it again with the same id to get its first result.")
    var commandID: UUID?

    @Option(
        parsing: .unconditional,
        help: "The version of the aggregate you read: the command fails with ABORTED if it has moved on.")
    var expectedVersion: UInt64?

    /// For a command that makes something new, or that changes no one aggregate: it has no version
    /// to expect, so `--expected-version` would be sent for nothing. Refused instead, saying why.
    func refuseExpectedVersion(_ why: String) throws {
        if expectedVersion != nil { throw ValidationError("--expected-version does not apply: \(why)") }
    }
}

/// Options of queries.
struct QueryOptions: ParsableArguments {
    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var output: OutputOptions

    @Option(
        parsing: .unconditional,
        help: "Wait until the read model has reached this log position (a command's `position`).")
    var minPosition: UInt64 = 0
}

struct OrderCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "order", abstract: "Create, place, fill, change, cancel, reject, delete and read orders.",
        subcommands: [
            Create.self, Place.self, Fill.self, Update.self, Cancel.self, Reject.self, Delete.self, Get.self, List.self,
        ])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create an order (PENDING).")
        @OptionGroup var options: CommandOptions
        @Option(help: "The user the order is for.") var user: UUID
        @Option(help: "The broker account it trades through.") var account: UUID
        @Option(help: "The automation it comes from, if any.") var automation: UUID?
        @Option(help: "The ticker, e.g. AAPL.") var symbol: String
        @Option(help: "buy or sell.") var side: Choice<OrderSide>
        @Option(
            parsing: .unconditional,
            help: "How much, e.g. 100 or 0.5: above zero, below 10^12, at most 8 decimal places.")
        var quantity: ExactDecimal
        @Option(name: .customLong("type"), help: "market, limit, stop or stop-limit.") var orderType: Choice<OrderType>
        @Option(parsing: .unconditional, help: "For limit and stop-limit orders.") var limitPrice: ExactDecimal?
        @Option(parsing: .unconditional, help: "For stop and stop-limit orders.") var stopPrice: ExactDecimal?
        @Option(help: "How long the order stands: day (the default), gtc, ioc or fok.")
        var timeInForce: Choice<TimeInForce>?
        @Flag(help: "Submit it to the broker at once.") var autoSubmit = false
        @Option(help: "The saga it runs for.") var sagaID: UUID?

        func validate() throws {
            try options.output.check(OrderResult.self)
            try options.refuseExpectedVersion("order create makes a new order")
        }

        func run() async throws {
            let result = try await options.connection.call { client in
                try await client.createOrder(
                    CreateOrder(
                        userID: user, automationID: automation, symbol: symbol, side: side.value, quantity: quantity,
                        orderType: orderType.value, limitPrice: limitPrice, stopPrice: stopPrice,
                        timeInForce: timeInForce?.value, sagaID: sagaID, accountID: account, autoSubmit: autoSubmit),
                    commandID: options.commandID)
            }
            try options.output.print(result)
        }
    }

    struct Place: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Record that the broker accepted an order.")
        @OptionGroup var options: CommandOptions
        @Option(help: "The order's id.") var order: UUID
        @Option(help: "The user's id: the one acting, and the owner of what is read or changed.") var user: UUID
        @Option(help: "The broker's id of the order.") var brokerOrderID: String

        func validate() throws { try options.output.check(OrderResult.self) }

        func run() async throws {
            let result = try await options.connection.call { client in
                try await client.placeOrder(
                    PlaceOrder(
                        orderID: order, userID: user, brokerOrderID: brokerOrderID,
                        expectedVersion: options.expectedVersion), commandID: options.commandID)
            }
            try options.output.print(result)
        }
    }

    struct Fill: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Record one execution of an order.")
        @OptionGroup var options: CommandOptions
        @Option(help: "The order's id.") var order: UUID
        @Option(help: "The user's id: the one acting, and the owner of what is read or changed.") var user: UUID
        @Option(help: "The execution's id (default: a new one); a fill sent twice is recorded once.") var fillID: UUID?
        @Option(parsing: .unconditional, help: "How much was executed.") var quantity: ExactDecimal
        @Option(parsing: .unconditional, help: "At what price.") var price: ExactDecimal

        func validate() throws { try options.output.check(OrderResult.self) }

        func run() async throws {
            let client = try options.connection.client()
            defer { Task { await client.close() } }
            let now = Int64(Date().timeIntervalSince1970 * 1_000_000_000)
            let result = try await calling {
                try await client.addFill(
                    AddFill(
                        orderID: order, userID: user, fillID: fillID ?? UUID(), quantity: quantity, price: price,
                        filledAt: now, expectedVersion: options.expectedVersion), commandID: options.commandID)
            }
            try options.output.print(result)
        }
    }

    struct Update: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Change a working order.")
        @OptionGroup var options: CommandOptions
        @Option(help: "The order's id.") var order: UUID
        @Option(help: "The user's id: the one acting, and the owner of what is read or changed.") var user: UUID
        @Option(
            parsing: .unconditional,
            help: "The new quantity: more than is already filled (cancel the order to stop it).") var quantity:
            ExactDecimal?
        @Option(parsing: .unconditional, help: "The new limit price (limit and stop-limit orders).") var limitPrice:
            ExactDecimal?
        @Option(parsing: .unconditional, help: "The new stop price (stop and stop-limit orders).") var stopPrice:
            ExactDecimal?
        @Option(help: "How long the order stands: day, gtc, ioc or fok.") var timeInForce: Choice<TimeInForce>?

        func validate() throws { try options.output.check(OrderResult.self) }

        func run() async throws {
            let result = try await options.connection.call { client in
                try await client.updateOrder(
                    UpdateOrder(
                        orderID: order, userID: user, quantity: quantity, limitPrice: limitPrice, stopPrice: stopPrice,
                        timeInForce: timeInForce?.value, expectedVersion: options.expectedVersion),
                    commandID: options.commandID)
            }
            try options.output.print(result)
        }
    }

    struct Cancel: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Cancel a working order.")
        @OptionGroup var options: CommandOptions
        @Option(help: "The order's id.") var order: UUID
        @Option(help: "The user's id: the one acting, and the owner of what is read or changed.") var user: UUID
        @Option(help: "Why, as recorded on the event.") var reason: String = ""

        func validate() throws { try options.output.check(OrderResult.self) }

        func run() async throws {
            let result = try await options.connection.call { client in
                try await client.cancelOrder(
                    CancelOrder(orderID: order, userID: user, reason: reason, expectedVersion: options.expectedVersion),
                    commandID: options.commandID)
            }
            try options.output.print(result)
        }
    }

    struct Reject: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Record that the broker refused an order.")
        @OptionGroup var options: CommandOptions
        @Option(help: "The order's id.") var order: UUID
        @Option(help: "The user's id: the one acting, and the owner of what is read or changed.") var user: UUID
        @Option(help: "Why, as recorded on the event.") var reason: String

        func validate() throws { try options.output.check(OrderResult.self) }

        func run() async throws {
            let result = try await options.connection.call { client in
                try await client.rejectOrder(
                    RejectOrder(orderID: order, userID: user, reason: reason, expectedVersion: options.expectedVersion),
                    commandID: options.commandID)
            }
            try options.output.print(result)
        }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete a filled, cancelled or rejected order.")
        @OptionGroup var options: CommandOptions
        @Option(help: "The order's id.") var order: UUID
        @Option(help: "The user's id: the one acting, and the owner of what is read or changed.") var user: UUID

        func validate() throws { try options.output.check(OrderResult.self) }

        func run() async throws {
            let result = try await options.connection.call { client in
                try await client.deleteOrder(
                    DeleteOrder(orderID: order, userID: user, expectedVersion: options.expectedVersion),
                    commandID: options.commandID)
            }
            try options.output.print(result)
        }
    }

    struct Get: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show an order.")
        @OptionGroup var options: QueryOptions
        @Option(help: "The order's id.") var order: UUID
        @Option(help: "The user's id: the one acting, and the owner of what is read or changed.") var user: UUID

        func validate() throws { try options.output.check(OrderView.self) }

        func run() async throws {
            let view = try await options.connection.call { client in
                try await client.getOrder(GetOrder(orderID: order, userID: user, minPosition: options.minPosition))
            }
            try options.output.print(view)
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List a user's orders, oldest first.")
        @OptionGroup var options: QueryOptions
        @Option(help: "The user's id: the one acting, and the owner of what is read or changed.") var user: UUID
        @Option(help: "Only orders in this status (repeatable).") var status: [Choice<OrderStatus>] = []
        @Option(parsing: .unconditional, help: "At most this many; the server's default is 100.") var limit: UInt32?
        @Option(help: "Start after this order (the last one of the page before).") var after: UUID?

        func validate() throws {
            try options.output.check(OrderView.self)
            if let limit, limit > 1_000 { throw ValidationError("--limit is at most 1000, not \(limit)") }
        }

        func run() async throws {
            let list = try await options.connection.call { client in
                try await client.listOrders(
                    ListOrders(
                        userID: user, statuses: status.map(\.value), pageSize: limit ?? 0, afterOrderID: after,
                        minPosition: options.minPosition))
            }
            try printEach(list.orders, options.output)
            if let next = list.nextAfterOrderID {
                // On stderr, so the page on stdout stays one object per line.
                FileHandle.standardError.write(
                    Data("more orders follow: list them with --after \(next.uuidString.lowercased())\n".utf8))
            }
        }
    }
}

/// Prints each message of a list: one JSON object per line, or blocks of text.
func printEach(_ messages: [some ProtoMessage], _ output: OutputOptions) throws {
    for (index, message) in messages.enumerated() {
        if !output.json && output.printsWhole && index > 0 { print("") }
        try output.print(message)
    }
}
