#ifndef CJEMALLOC_H
#define CJEMALLOC_H

// jemalloc as the executables' malloc: with many threads allocating and freeing small objects
// (event loops, the cooperative pool, the store's writer) it costs markedly less CPU than glibc's.
// Linking it is enough: its malloc comes before the C library's in symbol lookup.
#include <jemalloc/jemalloc.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

/// jemalloc's version when it is the process's malloc; NULL when another malloc serves the
/// process's allocations (jemalloc loaded but not first in symbol lookup order). Checked by
/// allocating: jemalloc's per-thread count of allocated bytes moves only if it served the call.
static inline const char *tradecore_jemalloc_version(void) {
    uint64_t *allocated = NULL;
    size_t size = sizeof(allocated);
    if (mallctl("thread.allocatedp", &allocated, &size, NULL, 0) != 0 || allocated == NULL) {
        return NULL;
    }
    // Read through a volatile pointer: compilers take malloc for a call that writes no memory the
    // program can see, and would otherwise reuse the first read.
    volatile uint64_t *counter = allocated;
    uint64_t before = *counter;
    void *volatile probe = malloc(4096);
    uint64_t after = *counter;
    free(probe);
    if (after == before) {
        return NULL;
    }
    const char *version = NULL;
    size = sizeof(version);
    if (mallctl("version", &version, &size, NULL, 0) != 0) {
        return NULL;
    }
    return version;
}

#endif
