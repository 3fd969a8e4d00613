// An LD_PRELOAD library that counts heap allocations of a process.
//
// Every malloc, calloc, realloc, posix_memalign, aligned_alloc and memalign call adds one to a
// counter. On SIGUSR1 the count is written, as a decimal line, to the file named by the
// environment variable MALLOC_COUNT_FILE. A benchmark reads it before and after a run of
// requests and divides the difference by the number of requests.
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static atomic_ulong allocations;

static void *(*real_malloc)(size_t);
static void *(*real_calloc)(size_t, size_t);
static void *(*real_realloc)(void *, size_t);
static int (*real_posix_memalign)(void **, size_t, size_t);
static void *(*real_aligned_alloc)(size_t, size_t);
static void *(*real_memalign)(size_t, size_t);
static void (*real_free)(void *);

// dlsym itself may call calloc before real_calloc is known; serve that from a small arena.
static char bootstrap_arena[4096];
static size_t bootstrap_used;
static int resolving;

static void resolve(void) {
    if (real_malloc || resolving) return;
    resolving = 1;
    real_malloc = dlsym(RTLD_NEXT, "malloc");
    real_calloc = dlsym(RTLD_NEXT, "calloc");
    real_realloc = dlsym(RTLD_NEXT, "realloc");
    real_posix_memalign = dlsym(RTLD_NEXT, "posix_memalign");
    real_aligned_alloc = dlsym(RTLD_NEXT, "aligned_alloc");
    real_memalign = dlsym(RTLD_NEXT, "memalign");
    real_free = dlsym(RTLD_NEXT, "free");
    resolving = 0;
}

static void report(int signal_number) {
    (void)signal_number;
    const char *path = getenv("MALLOC_COUNT_FILE");
    if (!path) return;
    char line[32];
    unsigned long count = atomic_load(&allocations);
    int length = snprintf(line, sizeof line, "%lu\n", count);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) return;
    ssize_t ignored = write(fd, line, (size_t)length);
    (void)ignored;
    close(fd);
}

__attribute__((constructor)) static void install(void) {
    resolve();
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = report;
    action.sa_flags = SA_RESTART;
    sigaction(SIGUSR1, &action, NULL);
}

void *malloc(size_t size) {
    resolve();
    atomic_fetch_add_explicit(&allocations, 1, memory_order_relaxed);
    return real_malloc(size);
}

void *calloc(size_t count, size_t size) {
    if (!real_calloc) {
        if (resolving) {
            size_t total = count * size;
            if (bootstrap_used + total > sizeof bootstrap_arena) return NULL;
            void *block = bootstrap_arena + bootstrap_used;
            bootstrap_used += (total + 15) & ~(size_t)15;
            return block;
        }
        resolve();
    }
    atomic_fetch_add_explicit(&allocations, 1, memory_order_relaxed);
    return real_calloc(count, size);
}

void *realloc(void *pointer, size_t size) {
    resolve();
    atomic_fetch_add_explicit(&allocations, 1, memory_order_relaxed);
    return real_realloc(pointer, size);
}

void free(void *pointer) {
    char *bytes = pointer;
    if (bytes >= bootstrap_arena && bytes < bootstrap_arena + sizeof bootstrap_arena) return;
    resolve();
    // Only while dlsym itself runs is real_free unknown; leaking that block is harmless.
    if (real_free) real_free(pointer);
}

int posix_memalign(void **result, size_t alignment, size_t size) {
    resolve();
    atomic_fetch_add_explicit(&allocations, 1, memory_order_relaxed);
    return real_posix_memalign(result, alignment, size);
}

void *aligned_alloc(size_t alignment, size_t size) {
    resolve();
    atomic_fetch_add_explicit(&allocations, 1, memory_order_relaxed);
    return real_aligned_alloc(alignment, size);
}

void *memalign(size_t alignment, size_t size) {
    resolve();
    atomic_fetch_add_explicit(&allocations, 1, memory_order_relaxed);
    return real_memalign(alignment, size);
}
