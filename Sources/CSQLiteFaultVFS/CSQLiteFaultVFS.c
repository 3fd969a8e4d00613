#include "CSQLiteFaultVFS.h"

#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

// A watched-or-not wrapper around the default VFS's file; the real file's storage follows it.
typedef struct FaultFile {
    sqlite3_file base;
    sqlite3_file *real;
    int watched;
} FaultFile;

static sqlite3_vfs *real_vfs;
static sqlite3_vfs fault_vfs;
static pthread_mutex_t watch_lock = PTHREAD_MUTEX_INITIALIZER;
static char *watch_prefix;
static atomic_long sync_count;
static atomic_int failing_syncs;

#define REAL(file) (((FaultFile *)(file))->real)

static int fault_close(sqlite3_file *file) { return REAL(file)->pMethods->xClose(REAL(file)); }
static int fault_read(sqlite3_file *file, void *buffer, int amount, sqlite3_int64 offset) {
    return REAL(file)->pMethods->xRead(REAL(file), buffer, amount, offset);
}
static int fault_write(sqlite3_file *file, const void *buffer, int amount, sqlite3_int64 offset) {
    return REAL(file)->pMethods->xWrite(REAL(file), buffer, amount, offset);
}
static int fault_truncate(sqlite3_file *file, sqlite3_int64 size) {
    return REAL(file)->pMethods->xTruncate(REAL(file), size);
}
static int fault_sync(sqlite3_file *file, int flags) {
    if (((FaultFile *)file)->watched) {
        atomic_fetch_add(&sync_count, 1);
        if (atomic_load(&failing_syncs)) return SQLITE_IOERR_FSYNC;
    }
    return REAL(file)->pMethods->xSync(REAL(file), flags);
}
static int fault_file_size(sqlite3_file *file, sqlite3_int64 *size) {
    return REAL(file)->pMethods->xFileSize(REAL(file), size);
}
static int fault_lock(sqlite3_file *file, int level) { return REAL(file)->pMethods->xLock(REAL(file), level); }
static int fault_unlock(sqlite3_file *file, int level) { return REAL(file)->pMethods->xUnlock(REAL(file), level); }
static int fault_check_reserved_lock(sqlite3_file *file, int *result) {
    return REAL(file)->pMethods->xCheckReservedLock(REAL(file), result);
}
static int fault_file_control(sqlite3_file *file, int op, void *argument) {
    return REAL(file)->pMethods->xFileControl(REAL(file), op, argument);
}
static int fault_sector_size(sqlite3_file *file) { return REAL(file)->pMethods->xSectorSize(REAL(file)); }
static int fault_device_characteristics(sqlite3_file *file) {
    return REAL(file)->pMethods->xDeviceCharacteristics(REAL(file));
}
static int fault_shm_map(sqlite3_file *file, int region, int size, int extend, void volatile **pointer) {
    return REAL(file)->pMethods->xShmMap(REAL(file), region, size, extend, pointer);
}
static int fault_shm_lock(sqlite3_file *file, int offset, int count, int flags) {
    return REAL(file)->pMethods->xShmLock(REAL(file), offset, count, flags);
}
static void fault_shm_barrier(sqlite3_file *file) { REAL(file)->pMethods->xShmBarrier(REAL(file)); }
static int fault_shm_unmap(sqlite3_file *file, int delete_flag) {
    return REAL(file)->pMethods->xShmUnmap(REAL(file), delete_flag);
}
static int fault_fetch(sqlite3_file *file, sqlite3_int64 offset, int amount, void **pointer) {
    return REAL(file)->pMethods->xFetch(REAL(file), offset, amount, pointer);
}
static int fault_unfetch(sqlite3_file *file, sqlite3_int64 offset, void *pointer) {
    return REAL(file)->pMethods->xUnfetch(REAL(file), offset, pointer);
}

static const sqlite3_io_methods fault_methods = {
    3, fault_close, fault_read, fault_write, fault_truncate, fault_sync, fault_file_size, fault_lock,
    fault_unlock, fault_check_reserved_lock, fault_file_control, fault_sector_size,
    fault_device_characteristics, fault_shm_map, fault_shm_lock, fault_shm_barrier, fault_shm_unmap,
    fault_fetch, fault_unfetch,
};

static int fault_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *file, int flags, int *out_flags) {
    (void)vfs;
    FaultFile *wrapper = (FaultFile *)file;
    wrapper->real = (sqlite3_file *)(wrapper + 1);
    wrapper->real->pMethods = NULL;
    int result = real_vfs->xOpen(real_vfs, name, wrapper->real, flags, out_flags);
    if (result != SQLITE_OK) {
        // SQLite closes a file whose open failed only when its methods are set: ours are not.
        if (wrapper->real->pMethods) wrapper->real->pMethods->xClose(wrapper->real);
        wrapper->base.pMethods = NULL;
        return result;
    }
    // The default VFS's files speak version 3 of the methods; anything less would need a
    // narrower table of ours, which no build of SQLite here calls for.
    if (wrapper->real->pMethods->iVersion < 3) {
        wrapper->real->pMethods->xClose(wrapper->real);
        wrapper->base.pMethods = NULL;
        return SQLITE_CANTOPEN;
    }
    pthread_mutex_lock(&watch_lock);
    wrapper->watched = name && watch_prefix && strncmp(name, watch_prefix, strlen(watch_prefix)) == 0;
    pthread_mutex_unlock(&watch_lock);
    wrapper->base.pMethods = &fault_methods;
    return SQLITE_OK;
}

static int fault_delete(sqlite3_vfs *vfs, const char *name, int sync_directory) {
    (void)vfs;
    return real_vfs->xDelete(real_vfs, name, sync_directory);
}
static int fault_access(sqlite3_vfs *vfs, const char *name, int flags, int *result) {
    (void)vfs;
    return real_vfs->xAccess(real_vfs, name, flags, result);
}
static int fault_full_pathname(sqlite3_vfs *vfs, const char *name, int size, char *out) {
    (void)vfs;
    return real_vfs->xFullPathname(real_vfs, name, size, out);
}
static void *fault_dl_open(sqlite3_vfs *vfs, const char *name) {
    (void)vfs;
    return real_vfs->xDlOpen(real_vfs, name);
}
static void fault_dl_error(sqlite3_vfs *vfs, int size, char *message) {
    (void)vfs;
    real_vfs->xDlError(real_vfs, size, message);
}
static void (*fault_dl_sym(sqlite3_vfs *vfs, void *handle, const char *symbol))(void) {
    (void)vfs;
    return real_vfs->xDlSym(real_vfs, handle, symbol);
}
static void fault_dl_close(sqlite3_vfs *vfs, void *handle) {
    (void)vfs;
    real_vfs->xDlClose(real_vfs, handle);
}
static int fault_randomness(sqlite3_vfs *vfs, int size, char *out) {
    (void)vfs;
    return real_vfs->xRandomness(real_vfs, size, out);
}
static int fault_sleep(sqlite3_vfs *vfs, int microseconds) {
    (void)vfs;
    return real_vfs->xSleep(real_vfs, microseconds);
}
static int fault_current_time(sqlite3_vfs *vfs, double *now) {
    (void)vfs;
    return real_vfs->xCurrentTime(real_vfs, now);
}
static int fault_get_last_error(sqlite3_vfs *vfs, int size, char *out) {
    (void)vfs;
    return real_vfs->xGetLastError ? real_vfs->xGetLastError(real_vfs, size, out) : 0;
}
static int fault_current_time_int64(sqlite3_vfs *vfs, sqlite3_int64 *now) {
    (void)vfs;
    return real_vfs->xCurrentTimeInt64(real_vfs, now);
}

int tradecore_fault_vfs_install(void) {
    static pthread_mutex_t install_lock = PTHREAD_MUTEX_INITIALIZER;
    pthread_mutex_lock(&install_lock);
    int result = SQLITE_OK;
    if (!real_vfs) {
        sqlite3_vfs *original = sqlite3_vfs_find(NULL);
        if (!original || original->iVersion < 2) {
            result = SQLITE_ERROR;
        } else {
            real_vfs = original;
            memset(&fault_vfs, 0, sizeof fault_vfs);
            fault_vfs.iVersion = 2;
            fault_vfs.szOsFile = (int)sizeof(FaultFile) + original->szOsFile;
            fault_vfs.mxPathname = original->mxPathname;
            fault_vfs.zName = "tradecore-fault";
            fault_vfs.xOpen = fault_open;
            fault_vfs.xDelete = fault_delete;
            fault_vfs.xAccess = fault_access;
            fault_vfs.xFullPathname = fault_full_pathname;
            fault_vfs.xDlOpen = fault_dl_open;
            fault_vfs.xDlError = fault_dl_error;
            fault_vfs.xDlSym = fault_dl_sym;
            fault_vfs.xDlClose = fault_dl_close;
            fault_vfs.xRandomness = fault_randomness;
            fault_vfs.xSleep = fault_sleep;
            fault_vfs.xCurrentTime = fault_current_time;
            fault_vfs.xGetLastError = fault_get_last_error;
            fault_vfs.xCurrentTimeInt64 = fault_current_time_int64;
            result = sqlite3_vfs_register(&fault_vfs, 1);
            if (result != SQLITE_OK) real_vfs = NULL;
        }
    }
    pthread_mutex_unlock(&install_lock);
    return result;
}

void tradecore_fault_vfs_watch(const char *prefix) {
    pthread_mutex_lock(&watch_lock);
    free(watch_prefix);
    watch_prefix = prefix ? strdup(prefix) : NULL;
    pthread_mutex_unlock(&watch_lock);
}

long tradecore_fault_vfs_syncs(void) { return atomic_load(&sync_count); }

void tradecore_fault_vfs_fail_syncs(int fail) { atomic_store(&failing_syncs, fail ? 1 : 0); }
