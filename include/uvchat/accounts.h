/* accounts.h: registered accounts for uvchat: the glue between the core's account
 * operations and the store, password hashing and login throttling.
 *
 * uvc_accounts_open() opens the store in the data directory, tells the core which names
 * are registered (so that nobody who is not logged in to one can take it), and plugs itself
 * into core->auth. Adapters then start operations through uvc_core_auth() and get the
 * answer through their on_auth entry point; Argon2id and SQLite run on libuv's thread pool,
 * never on the loop. Only compiled with UVCHAT_WITH_ACCOUNTS.
 *
 * Rules it enforces: one operation at a time per session, and one password check at a time
 * per account; failed password checks are throttled (UVC_THROTTLE_DEFAULT_FAILURES per
 * UVC_THROTTLE_DEFAULT_WINDOW) per account and per client address (the core's peer_key
 * hook), and a login to a name without an account is checked against a dummy hash of the
 * same cost. Registrations, password changes and deletions are answered only once the
 * store has committed them. A request whose session is forgotten (uvc_core_forget) is
 * orphaned: it never touches the session again.
 */
#ifndef UVCHAT_ACCOUNTS_H
#define UVCHAT_ACCOUNTS_H

#include <stddef.h>
#include <uv.h>

#include "uvchat/core.h"

typedef struct uvc_accounts uvc_accounts_t;

/* Opens the accounts of data_dir (NULL: the platform's default state directory) for core on
 * loop. Returns 0, or a negative code with a one-line reason in err. */
int uvc_accounts_open(uvc_accounts_t** out, uv_loop_t* loop, uvc_core_t* core, const char* data_dir,
                      char* err, size_t errlen);

/* Where the accounts live (the database file's path). */
const char* uvc_accounts_path(const uvc_accounts_t* a);

/* Unplugs from the core and closes the store; call after uv_run has returned (no request
 * is in flight then; should one still be, the module and the store are freed after its
 * callback). NULL is ignored. */
void uvc_accounts_close(uvc_accounts_t* a);

#endif
