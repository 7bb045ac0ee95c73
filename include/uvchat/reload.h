/* reload.h: settings that change while the server runs, nobody dropped.
 *
 * The server re-reads its configuration file (and the flags over it, as at start) on SIGHUP
 * (POSIX) and when the configuration file, the TLS certificate or its key changes on disk
 * (uv_fs_event on their directories, so that an editor's rename is seen too). What can change
 * live takes effect at once: the limits, the MOTD, the server password, the log level and the
 * TLS certificate. What cannot (the listeners, the data directory, the default room,
 * --max-line) is logged as needing a restart and keeps its old value. A file that does not
 * parse, or a MOTD or certificate that cannot be read, changes nothing: the log says why.
 */
#ifndef UVCHAT_RELOAD_H
#define UVCHAT_RELOAD_H

#include <stddef.h>

#include "uvchat/config.h"
#include "uvchat/server.h"

typedef struct uvc_reload uvc_reload_t;

/* Watches srv's files and becomes srv's on_reload. Takes ownership of cfg's strings (the
 * settings srv was started with) and of motd (the MOTD text in srv->core.motd, or NULL);
 * argv must outlive it. Returns NULL when out of memory. */
uvc_reload_t* uvc_reload_new(uvc_server_t* srv, int argc, char** argv, const uvc_config_t* cfg,
                             char* motd);
/* Re-reads and applies the settings now; why ("SIGHUP") goes into the log. */
void uvc_reload_now(uvc_reload_t* r, const char* why);
/* (Re)starts watching the configuration file and the certificate files. Watchers never keep
 * the loop alive. Returns 0 or a libuv error (then nothing is watched). */
int uvc_reload_watch(uvc_reload_t* r);
/* Closes the watchers; run the loop once more for their close callbacks, then free. */
void uvc_reload_close(uvc_reload_t* r);
/* Frees what it owns: the settings' strings, the MOTD. */
void uvc_reload_free(uvc_reload_t* r);

/* Reads the MOTD file into a heap string (NUL-terminated, at most 64 KiB). On failure
 * returns NULL and writes why to err. */
char* uvc_read_motd(const char* path, char* err, size_t errlen);

/* Tells the service manager about the server's state ("READY=1"); nothing without systemd. */
void uvc_notify(const char* state);

#endif
