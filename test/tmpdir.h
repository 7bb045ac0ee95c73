/* tmpdir.h: a fresh temporary directory for a test, and its removal. */
#ifndef UVCHAT_TEST_TMPDIR_H
#define UVCHAT_TEST_TMPDIR_H

#include <stddef.h>

/* Makes a new directory "NAME-XXXXXX" in the system's temporary directory (uv_os_tmpdir:
 * TMPDIR, TEMP...) and writes its path to out; fails the test when it cannot. */
void tt_mkdtemp(const char* name, char* out, size_t outlen);

/* Removes the files directly in dir, then dir itself (errors ignored). */
void tt_rmdir(const char* dir);

#endif
