#ifndef CSQLITEFAULTVFS_H
#define CSQLITEFAULTVFS_H

// A test VFS over SQLite's default one: it counts the syncs of the files it watches and can make
// them fail, so that tests can see that a commit is synced before it is acknowledged, and what
// happens when the sync of the commit itself fails. For tests only.

// Registers the VFS as the process's default (once; later calls do nothing). Files opened before
// keep their VFS. Returns an SQLite result code.
int tradecore_fault_vfs_install(void);

// Watches the files whose names start with `prefix` (from their next open); NULL watches none.
void tradecore_fault_vfs_watch(const char *prefix);

// Syncs of watched files so far.
long tradecore_fault_vfs_syncs(void);

// While `fail` is nonzero, syncs of watched files fail with SQLITE_IOERR_FSYNC and do not sync.
void tradecore_fault_vfs_fail_syncs(int fail);

#endif
