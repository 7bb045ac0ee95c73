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
#define UVC_THROTTLE_FAILURES_MAX     64     /* the largest max_failures accepted */
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

#endif
