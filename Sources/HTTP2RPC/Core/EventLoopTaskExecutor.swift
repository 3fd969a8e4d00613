import NIOCore

/// Runs Swift tasks on one NIO event loop.
///
/// Handlers of a connection run with this executor as their preference, so they start on
/// the loop that owns the connection and come back to it after every suspension: their
/// replies reach the nghttp2 session without a thread hop.
final class EventLoopTaskExecutor: TaskExecutor {
    let eventLoop: any EventLoop

    init(eventLoop: any EventLoop) {
        self.eventLoop = eventLoop
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        eventLoop.execute {
            job.runSynchronously(on: self.asUnownedTaskExecutor())
        }
    }
}
