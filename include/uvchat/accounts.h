/* accounts.h: registered accounts for uvchat: the glue between the core's account
 * operations and the store, password hashing and login throttling.
 *
 * uvc_accounts_open() opens the store in the data directory, tells the core which names
 * are registered (so that nobody who is not logged in to one can take it), and plugs itself
 * into core->auth. Adapters then start operations through uvc_core_auth() and get the
 * answer through their on_auth entry point; Argon2id and SQLite run on libuv's thread pool,
 * never on the loop. Only compiled with UVCHAT_WITH_ACCOUNTS.
 *
 * Rules it enforces: one operation at a time per session; failed password checks are
 * throttled by the login guard (throttle.h: per account and client address, per address,
 * and a per-account ceiling that addresses the owner logged in from skip; addresses come
 * from the core's peer_key hook), with checks still running counted in advance; a login to
 * a name without an account is checked against a dummy hash of the same cost. New accounts
 * are limited per address and in all, per hour, and refused before any hashing; one
 * registration at a time per address. Changes others make to the database (uvchat-account
 * deleting an account) are picked up every watch_ms: a deleted name is free again and its
 * logins are logged out. Registrations, password changes and deletions are answered only once the
 * store has committed them. A request whose session is forgotten (uvc_core_forget) is
 * orphaned: it never touches the session again.
 */
#ifndef UVCHAT_ACCOUNTS_H
#define UVCHAT_ACCOUNTS_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "uvchat/core.h"

typedef struct uvc_accounts uvc_accounts_t;

#define UVC_ACCOUNTS_REGISTER_PER_ADDR 3    /* new accounts per address per hour */
#define UVC_ACCOUNTS_REGISTER_ALL      100  /* new accounts per hour in all */
#define UVC_ACCOUNTS_WATCH_MS          2000 /* how often the database is checked for changes */

typedef struct uvc_accounts_limits {
  uint32_t register_per_addr; /* new accounts per IPv4 address or IPv6 /64 per hour (0: any) */
  uint32_t register_all;      /* new accounts per hour in all (0: any) */
  uint64_t watch_ms;          /* how often to look for changes made by others (0: never) */
  uint32_t password_min;      /* bytes of the shortest new password (0: UVC_PASSWORD_MIN) */
  uint32_t password_max;      /* bytes of the longest, at most UVC_PASSWORD_MAX (0: the default) */
} uvc_accounts_limits_t;

/* Opens the accounts of data_dir (NULL: the platform's default state directory) for core on
 * loop. Returns 0, or a negative code with a one-line reason in err. */
int uvc_accounts_open(uvc_accounts_t** out, uv_loop_t* loop, uvc_core_t* core, const char* data_dir,
                      char* err, size_t errlen);

/* The same on a store opened by the caller (uvc_store_open_redis(), for a cluster), which it
 * takes: closed by uvc_accounts_close(), or at once when this fails. A store that needs the
 * loop to close (Redis) is done once uv_run has run after uvc_accounts_close(). */
struct uvc_store;
int uvc_accounts_open_store(uvc_accounts_t** out, uv_loop_t* loop, uvc_core_t* core,
                            struct uvc_store* store, char* err, size_t errlen);

/* Sets the limits (call it right after opening; the registration counts start afresh). */
void uvc_accounts_set_limits(uvc_accounts_t* a, const uvc_accounts_limits_t* limits);

/* The store the accounts live in (the history uses it too). */
struct uvc_store* uvc_accounts_store(const uvc_accounts_t* a);

/* Where the accounts live (the database file's path). */
const char* uvc_accounts_path(const uvc_accounts_t* a);

/* Unplugs from the core and closes the store; call after uv_run has returned (no request
 * is in flight then; should one still be, the module and the store are freed after its
 * callback). NULL is ignored. */
void uvc_accounts_close(uvc_accounts_t* a);

#endif
