/// How the command bus retries a command whose append hit a version conflict: reload the aggregate
/// and run the handler again, after an exponentially growing delay with jitter.
///
/// Only version conflicts are retried, and only while the attempt has written nothing: a conflict
/// is transient (someone else changed the aggregate first), every other failure is not.
public struct RetryPolicy: Sendable, Hashable {
    /// The most times the handler runs for one command (1 never retries).
    public var maxAttempts: Int
    /// The delay before the first retry.
    public var initialDelay: Duration
    /// The factor the delay grows by with each retry.
    public var multiplier: Double
    /// The longest delay.
    public var maxDelay: Duration
    /// The fraction of each delay that is random (0 to 1): the delay is drawn from
    /// `[(1 - jitter) × d, d]`, so racing retries spread out instead of colliding again.
    public var jitter: Double

    /// Makes a policy; the defaults are the seed's (3 attempts, 100 ms doubling) with jitter.
    public init(
        maxAttempts: Int = 3,
        initialDelay: Duration = .milliseconds(100),
        multiplier: Double = 2,
        maxDelay: Duration = .seconds(2),
        jitter: Double = 0.5
    ) {
        self.maxAttempts = max(maxAttempts, 1)
        self.initialDelay = max(initialDelay, .zero)
        self.multiplier = max(multiplier, 1)
        self.maxDelay = max(maxDelay, .zero)
        self.jitter = min(max(jitter, 0), 1)
    }

    /// Never retry.
    public static let never = RetryPolicy(maxAttempts: 1)

    /// The delay before attempt `attempt` (2 for the first retry), drawn with `random`.
    public func delay(beforeAttempt attempt: Int, using random: inout some RandomNumberGenerator) -> Duration {
        let retry = max(attempt - 2, 0)
        var delay = initialDelay
        for _ in 0..<retry {
            delay = delay * multiplier
            if delay >= maxDelay { break }
        }
        delay = min(delay, maxDelay)
        let keep = 1 - jitter * Double.random(in: 0...1, using: &random)
        return delay * keep
    }
}
