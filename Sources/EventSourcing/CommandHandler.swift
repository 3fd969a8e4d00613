/// Handles one type of command: loads aggregates, lets them decide, saves what they emitted.
///
/// A handler is a stateless value; what it uses comes through its ``CommandContext``. Business
/// rules belong to the aggregates, not here. A handler saves aggregates with
/// ``CommandContext/save(_:fencedBy:extraMetadata:)``: the bus appends them once the handler returns, the last
/// append carrying the command's recorded outcome, so events and outcome commit together. When a
/// save conflicts, the bus runs the handler again on freshly loaded aggregates, so whatever a
/// handler does outside its context (a call to a broker, a secret put in a vault) must be safe to
/// do again: keyed by something the retry reproduces, such as the aggregate's id.
public protocol CommandHandler<Handled>: Sendable {
    /// The command type handled.
    associatedtype Handled: Command

    /// Handles one command. Throw a ``CommandRejection`` (or a ``CommandRejectionConvertible``) to
    /// refuse it; anything else thrown is a failure and is not recorded.
    func handle(_ command: Handled, context: CommandContext) async throws -> Handled.Result
}
