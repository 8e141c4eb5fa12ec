/* dcr_fileio.h: fault injection for the runtime's file writes and reads
 * (runtime/fileio.c). Private to the runtime and its tests. */
#ifndef DCR_FILEIO_H
#define DCR_FILEIO_H

/* When not NULL, dcr_write_atomic and dcr_read_file call it before each
 * file-system step with the step's name:
 *
 *   "open"    creating the temporary file (mkstemp)
 *   "write"   each write(2) of the data
 *   "fsync"   fsync(2) of the temporary file
 *   "close"   close(2) of the temporary file (checked after closing)
 *   "rename"  rename(2) of the temporary file over the target
 *   "dirsync" fsync(2) of the folder, after the rename
 *   "read"    each read(2) in dcr_read_file
 *
 * A non-zero return makes the step fail as if the system call had failed,
 * with ENOSPC for "write" and EIO for the others. Tests only: NULL in
 * production, where the cost is one load and compare per step. Not
 * synchronised: set it while no file is being written or read. */
extern int (*dcr_fault_hook)(const char *op);

#endif
