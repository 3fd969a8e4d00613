#if defined(__linux__)
#define _GNU_SOURCE
#endif

#include "CThreadScheduling.h"

#include <errno.h>

#if defined(__linux__)
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

// The first version of the kernel's struct sched_attr (48 bytes), which every kernel that has
// sched_setattr accepts; glibc before 2.41 declares neither it nor a wrapper.
struct tradecore_sched_attr {
    uint32_t size;
    uint32_t sched_policy;
    uint64_t sched_flags;
    int32_t sched_nice;
    uint32_t sched_priority;
    uint64_t sched_runtime;
    uint64_t sched_deadline;
    uint64_t sched_period;
};

int tradecore_set_time_slice(unsigned long long nanoseconds) {
    struct tradecore_sched_attr attributes;
    memset(&attributes, 0, sizeof attributes);
    attributes.size = sizeof attributes;
    attributes.sched_policy = 0;  // SCHED_OTHER: the policy every thread here already has.
    errno = 0;
    int nice = getpriority(PRIO_PROCESS, 0);  // The calling thread's nice value, kept as it is.
    if (nice == -1 && errno != 0) return errno;
    attributes.sched_nice = nice;
    attributes.sched_runtime = nanoseconds;  // For SCHED_OTHER: the requested slice.
    if (syscall(SYS_sched_setattr, 0, &attributes, 0) != 0) return errno;
    return 0;
}

int tradecore_set_thread_name(const char *name) {
    char kept[16];
    strncpy(kept, name, sizeof kept - 1);
    kept[sizeof kept - 1] = '\0';
    return pthread_setname_np(pthread_self(), kept);
}
#else
int tradecore_set_time_slice(unsigned long long nanoseconds) {
    (void)nanoseconds;
    return ENOSYS;
}

int tradecore_set_thread_name(const char *name) {
    (void)name;
    return ENOSYS;
}
#endif
