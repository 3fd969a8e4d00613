// What the libFuzzer targets share; compiled into each of them by run_fuzz.sh.

#if canImport(Glibc)
    import Glibc
#endif

/// Stops the run with a message when an oracle does not hold (libFuzzer saves the input).
func require(_ condition: Bool, _ what: String) {
    guard condition else {
        print("oracle failed: \(what)")
        abort()
    }
}
