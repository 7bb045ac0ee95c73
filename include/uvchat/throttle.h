/* throttle.h: counts failed logins per key (an account name or a client address) over a
 * sliding window, and says when the next attempt may be made.
 *
 * A key is locked while it has max_failures failures within the last window_ms: it is
 * allowed again window_ms after the oldest of those failures. Keys compare ignoring ASCII
 * case ("Alice" and "alice" are one account; address strings are unaffected). Keys longer
 * than UVC_THROTTLE_KEY_MAX bytes are cut to that length.
 *
 * The table holds at most max_keys keys: when it is full, expired keys are pruned and then,
 * if it is still full, the key whose last failure is oldest is forgotten. The caller passes
 * a monotonic clock in milliseconds (uv_now). Pure C, no libuv, one thread.
 */
#ifndef UVCHAT_THROTTLE_H
#define UVCHAT_THROTTLE_H

#include <stddef.h>
#include <stdint.h>

#include "uvchat/list.h"

#define UVC_THROTTLE_KEY_MAX          255
#define UVC_THROTTLE_FAILURES_MAX     65536  /* the largest max_failures accepted */
#define UVC_THROTTLE_DEFAULT_FAILURES 3      /* failures ... */
#define UVC_THROTTLE_DEFAULT_WINDOW   60000  /* ... per minute */
#define UVC_THROTTLE_DEFAULT_KEYS     100000 /* keys remembered at most */

#define UVC_THROTTLE_EINVAL (-1) /* bad parameters */
#define UVC_THROTTLE_ENOMEM (-2) /* out of memory */

typedef struct uvc_throttle_entry uvc_throttle_entry_t;

typedef struct uvc_throttle {
  uvc_throttle_entry_t* table; /* uthash head, by key, ignoring ASCII case */
  uvc_list_t by_last;          /* entries in order of their last failure, oldest first */
  uint32_t max_failures;
  uint32_t n_keys;
  uint32_t max_keys; /* may be changed after init; UVC_THROTTLE_DEFAULT_KEYS */
  uint64_t window_ms;
} uvc_throttle_t;

/* Prepares an empty table: max_failures (1 to UVC_THROTTLE_FAILURES_MAX) failures within
 * window_ms (> 0) lock a key. Returns 0 or UVC_THROTTLE_EINVAL. */
int uvc_throttle_init(uvc_throttle_t* t, uint32_t max_failures, uint64_t window_ms);

/* Frees every entry. The table may be initialised again afterwards. */
void uvc_throttle_free(uvc_throttle_t* t);

/* Before an attempt: 1 when key may try now, 0 when it is locked; then *retry_after_ms
 * (if not NULL) gets how long until it may try again (always at least 1). */
int uvc_throttle_allowed(const uvc_throttle_t* t, const char* key, size_t keylen, uint64_t now_ms,
                         uint64_t* retry_after_ms);

/* Records a failed attempt by key at now_ms. Returns 1 when key is now locked, 0 when it
 * is not, or UVC_THROTTLE_ENOMEM (the failure is then not counted). */
int uvc_throttle_fail(uvc_throttle_t* t, const char* key, size_t keylen, uint64_t now_ms);

/* After a successful attempt: forgets key's failures. */
void uvc_throttle_reset(uvc_throttle_t* t, const char* key, size_t keylen);

/* Forgets every key whose last failure is older than the window (call it now and then,
 * for example from the once-a-second sweep). Returns how many keys were forgotten. */
size_t uvc_throttle_prune(uvc_throttle_t* t, uint64_t now_ms);

/* The number of keys remembered. */
static inline size_t uvc_throttle_count(const uvc_throttle_t* t) {
  return t->n_keys;
}

/* How many of key's failures fall within the window ending at now_ms (0 to max_failures). */
uint32_t uvc_throttle_recent(const uvc_throttle_t* t, const char* key, size_t keylen,
                             uint64_t now_ms);

/* Like uvc_throttle_allowed, with `pending` attempts still running counted as failures in
 * advance: 1 when recent + pending < max_failures. When the key is locked by its recorded
 * failures alone, *retry_after_ms gets the wait; when only the pending attempts lock it,
 * *retry_after_ms is 0 (try again once they are answered). */
int uvc_throttle_allowed_pending(const uvc_throttle_t* t, const char* key, size_t keylen,
                                 uint64_t now_ms, uint32_t pending, uint64_t* retry_after_ms);

/* ---- The login guard: the throttling rules for password checks ------------------------
 *
 * A failed password check counts against three keys over a sliding window:
 *   - the pair (account name, client address): pair_failures lock that address out of that
 *     account, and only that;
 *   - the client address: addr_failures lock it out of every account (one address spraying
 *     many names);
 *   - the account name, from anywhere: name_failures lock the account for every address
 *     that has not logged in to it successfully before (many addresses guessing one name).
 * An address that logged in to an account successfully within known_ms is "known" for it
 * and skips the name's ceiling, so neither one guesser nor many can lock the owner out of
 * their own account from where they usually come. A success clears the pair's failures and
 * makes the address known; it does not clear the address's or the name's (a guesser who
 * also owns an account cannot launder its count by logging in to it).
 *
 * Checks still running count as failures in advance (the caller says how many run per key),
 * so parallel guesses cannot outrun the count. Pure C, no libuv, one thread. */

typedef struct uvc_guard_limits {
  uint32_t pair_failures; /* per (name, address); UVC_GUARD_DEFAULT_PAIR */
  uint32_t addr_failures; /* per address; UVC_GUARD_DEFAULT_ADDR */
  uint32_t name_failures; /* per name, from addresses not known for it; UVC_GUARD_DEFAULT_NAME */
  uint64_t window_ms;     /* UVC_THROTTLE_DEFAULT_WINDOW */
  uint64_t known_ms;      /* how long a successful login keeps an address known */
} uvc_guard_limits_t;

#define UVC_GUARD_DEFAULT_PAIR  3
#define UVC_GUARD_DEFAULT_ADDR  10
#define UVC_GUARD_DEFAULT_NAME  20
#define UVC_GUARD_DEFAULT_KNOWN (30ull * 24 * 3600 * 1000) /* 30 days */

typedef enum {
  UVC_GUARD_OK = 0,
  UVC_GUARD_PAIR, /* this address has failed too often on this account */
  UVC_GUARD_ADDR, /* this address has failed too often, on any accounts */
  UVC_GUARD_NAME  /* this account has failed too often from addresses not known for it */
} uvc_guard_verdict_t;

typedef struct uvc_guard {
  uvc_throttle_t pair, addr, name;
  uvc_throttle_t known; /* (name, address) pairs with a recent success: one "failure" each */
} uvc_guard_t;

/* Checks still in flight for the keys of one attempt. */
typedef struct uvc_guard_pending {
  uint32_t pair, addr, name;
} uvc_guard_pending_t;

/* Prepares an empty guard (NULL limits: the defaults). Returns 0 or UVC_THROTTLE_EINVAL. */
int uvc_guard_init(uvc_guard_t* g, const uvc_guard_limits_t* limits);
void uvc_guard_free(uvc_guard_t* g);
void uvc_guard_default_limits(uvc_guard_limits_t* limits);

/* Before a check of name's password from addr: UVC_GUARD_OK, or which key refuses it, with
 * *retry_after_ms (not NULL) the wait, 0 when only checks still running refuse it. pending
 * may be NULL (nothing running). */
uvc_guard_verdict_t uvc_guard_check(const uvc_guard_t* g, const char* name, size_t nlen,
                                    const char* addr, const uvc_guard_pending_t* pending,
                                    uint64_t now_ms, uint64_t* retry_after_ms);
/* A wrong password for name from addr: counts for the pair, the address and the name. */
void uvc_guard_fail(uvc_guard_t* g, const char* name, size_t nlen, const char* addr,
                    uint64_t now_ms);
/* The right password for name from addr: the pair's failures are forgotten and addr becomes
 * known for name. */
void uvc_guard_success(uvc_guard_t* g, const char* name, size_t nlen, const char* addr,
                       uint64_t now_ms);
/* 1 when addr logged in to name successfully within known_ms. */
int uvc_guard_known(const uvc_guard_t* g, const char* name, size_t nlen, const char* addr,
                    uint64_t now_ms);
/* Forgets expired keys of every table (the once-a-second sweep, or before each check). */
void uvc_guard_prune(uvc_guard_t* g, uint64_t now_ms);

#endif
