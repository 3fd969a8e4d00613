/// The version of TradeCore's programs and client library: what `tradecore --version` and
/// `tradecore-server --version` print, and what the server logs when it starts and exports as the
/// `tradecore_build_info` metric.
public enum TradeCoreVersion {
    /// The version, in semantic versioning.
    public static let current = "0.1.0"
}
