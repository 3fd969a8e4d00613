#ifndef C_THREAD_SCHEDULING_H
#define C_THREAD_SCHEDULING_H

/// Asks Linux to give the calling thread a time slice of `nanoseconds` (clamped by the kernel to
/// 0.1-100 ms), keeping its policy (SCHED_OTHER) and nice value. Under EEVDF (Linux 6.12 and
/// later) a thread with a shorter slice gets an earlier deadline, so when it wakes it preempts a
/// thread running on a longer slice instead of waiting for that slice to end. Needs no privilege.
///
/// Returns 0, or the errno of the failure (an older kernel refuses nothing it does not
/// understand: it accepts the call and keeps its own slice; a non-Linux system returns ENOSYS).
int tradecore_set_time_slice(unsigned long long nanoseconds);

/// Names the calling thread for the kernel (what `top -H`, `ps -L` and `perf` show), cut to the
/// 15 bytes Linux keeps; a longer name would be refused whole. Returns 0, or the errno of the
/// failure (ENOSYS on a non-Linux system).
int tradecore_set_thread_name(const char *name);

#endif
