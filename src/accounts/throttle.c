/* throttle.c: failed-login counts per key over a sliding window, for the login throttle.
 *
 * Each key keeps the times of its last max_failures failures in a ring, so the window is
 * exact: the key is locked while the oldest of them is younger than the window. Entries are
 * also on a list in order of their last failure, so pruning stops at the first live entry
 * and a full table forgets its stalest key in O(1).
 */

/* uthash: recover from a failed allocation instead of exiting. */
#define HASH_NONFATAL_OOM 1
static int g_hash_oom;
#define uthash_nonfatal_oom(obj) (g_hash_oom = 1)

#include "uvchat/throttle.h"

#include <stdlib.h>
#include <string.h>
#include <uthash.h>

#include "uvchat/names.h"

/* Keys compare ignoring ASCII case. */
#undef HASH_FUNCTION
#define HASH_FUNCTION(keyptr, keylen, hashv) \
  ((hashv) = uvc_name_hash((const char*)(keyptr), (size_t)(keylen)))
#undef HASH_KEYCMP
#define HASH_KEYCMP(a, b, n) (uvc_name_eq((const char*)(a), (n), (const char*)(b), (n)) ? 0 : 1)

struct uvc_throttle_entry {
  UT_hash_handle hh;
  uvc_list_t by_last;
  uint32_t n;    /* failures in the ring (at most max_failures) */
  uint32_t next; /* ring slot the next failure goes to; the oldest when the ring is full */
  uint64_t last; /* time of the most recent failure */
  char* key;     /* points after at[] */
  uint64_t at[]; /* max_failures slots */
};

int uvc_throttle_init(uvc_throttle_t* t, uint32_t max_failures, uint64_t window_ms) {
  memset(t, 0, sizeof(*t));
  uvc_list_init(&t->by_last);
  if (max_failures == 0 || max_failures > UVC_THROTTLE_FAILURES_MAX || window_ms == 0)
    return UVC_THROTTLE_EINVAL;
  t->max_failures = max_failures;
  t->window_ms = window_ms;
  t->max_keys = UVC_THROTTLE_DEFAULT_KEYS;
  return 0;
}

/* Unlinks and frees one entry. */
static void drop(uvc_throttle_t* t, uvc_throttle_entry_t* e) {
  HASH_DELETE(hh, t->table, e);
  uvc_list_remove(&e->by_last);
  t->n_keys--;
  free(e);
}

void uvc_throttle_free(uvc_throttle_t* t) {
  while (!uvc_list_empty(&t->by_last))
    drop(t, UVC_CONTAINER_OF(t->by_last.next, uvc_throttle_entry_t, by_last));
  HASH_CLEAR(hh, t->table);
  memset(t, 0, sizeof(*t));
  uvc_list_init(&t->by_last);
}

/* The entry for key, or NULL. */
static uvc_throttle_entry_t* find(const uvc_throttle_t* t, const char* key, size_t keylen) {
  uvc_throttle_entry_t* e = NULL;
  if (keylen > UVC_THROTTLE_KEY_MAX) keylen = UVC_THROTTLE_KEY_MAX;
  HASH_FIND(hh, t->table, key, keylen, e);
  return e;
}

int uvc_throttle_allowed(const uvc_throttle_t* t, const char* key, size_t keylen, uint64_t now_ms,
                         uint64_t* retry_after_ms) {
  const uvc_throttle_entry_t* e = find(t, key, keylen);
  uint64_t until;
  if (e == NULL || e->n < t->max_failures) return 1;
  until = e->at[e->next] + t->window_ms; /* the ring is full: next is the oldest */
  if (now_ms >= until) return 1;
  if (retry_after_ms != NULL) *retry_after_ms = until - now_ms;
  return 0;
}

/* A new entry for key, linked into the table, or NULL when out of memory. */
static uvc_throttle_entry_t* add(uvc_throttle_t* t, const char* key, size_t keylen,
                                 uint64_t now_ms) {
  uvc_throttle_entry_t* e;
  size_t slots = (size_t)t->max_failures * sizeof(uint64_t);
  if (keylen > UVC_THROTTLE_KEY_MAX) keylen = UVC_THROTTLE_KEY_MAX;
  if (t->n_keys >= t->max_keys) uvc_throttle_prune(t, now_ms);
  if (t->n_keys >= t->max_keys && !uvc_list_empty(&t->by_last))
    drop(t, UVC_CONTAINER_OF(t->by_last.next, uvc_throttle_entry_t, by_last));
  e = calloc(1, sizeof(*e) + slots + keylen + 1);
  if (e == NULL) return NULL;
  e->key = (char*)e->at + slots;
  memcpy(e->key, key, keylen);
  g_hash_oom = 0;
  HASH_ADD_KEYPTR(hh, t->table, e->key, keylen, e);
  if (g_hash_oom) {
    free(e);
    return NULL;
  }
  uvc_list_insert_tail(&t->by_last, &e->by_last);
  t->n_keys++;
  return e;
}

int uvc_throttle_fail(uvc_throttle_t* t, const char* key, size_t keylen, uint64_t now_ms) {
  uvc_throttle_entry_t* e = find(t, key, keylen);
  if (e == NULL) {
    e = add(t, key, keylen, now_ms);
    if (e == NULL) return UVC_THROTTLE_ENOMEM;
  } else {
    uvc_list_remove(&e->by_last); /* now the most recent failure of all */
    uvc_list_insert_tail(&t->by_last, &e->by_last);
  }
  e->at[e->next] = now_ms;
  e->next = (e->next + 1) % t->max_failures;
  if (e->n < t->max_failures) e->n++;
  e->last = now_ms;
  return uvc_throttle_allowed(t, key, keylen, now_ms, NULL) ? 0 : 1;
}

void uvc_throttle_reset(uvc_throttle_t* t, const char* key, size_t keylen) {
  uvc_throttle_entry_t* e = find(t, key, keylen);
  if (e != NULL) drop(t, e);
}

size_t uvc_throttle_prune(uvc_throttle_t* t, uint64_t now_ms) {
  size_t n = 0;
  while (!uvc_list_empty(&t->by_last)) {
    uvc_throttle_entry_t* e = UVC_CONTAINER_OF(t->by_last.next, uvc_throttle_entry_t, by_last);
    if (e->last + t->window_ms > now_ms) break; /* this and every later one still count */
    drop(t, e);
    n++;
  }
  return n;
}

uint32_t uvc_throttle_recent(const uvc_throttle_t* t, const char* key, size_t keylen,
                             uint64_t now_ms) {
  const uvc_throttle_entry_t* e = find(t, key, keylen);
  uint32_t i, n = 0;
  if (e == NULL) return 0;
  for (i = 0; i < e->n; i++)
    if (e->at[i] + t->window_ms > now_ms) n++;
  return n;
}

int uvc_throttle_allowed_pending(const uvc_throttle_t* t, const char* key, size_t keylen,
                                 uint64_t now_ms, uint32_t pending, uint64_t* retry_after_ms) {
  uint32_t recent;
  if (!uvc_throttle_allowed(t, key, keylen, now_ms, retry_after_ms)) return 0;
  recent = uvc_throttle_recent(t, key, keylen, now_ms);
  if ((uint64_t)recent + pending < t->max_failures) return 1;
  if (retry_after_ms != NULL) *retry_after_ms = 0; /* locked only by what is still running */
  return 0;
}

/* ---- The login guard ---------------------------------------------------------------- */

#define PAIR_KEY_MAX (2 * UVC_THROTTLE_KEY_MAX + 2)

/* "name addr" (nicks have no spaces) into out; returns its length. */
static size_t pair_key(char out[PAIR_KEY_MAX], const char* name, size_t nlen, const char* addr) {
  size_t alen = strlen(addr);
  if (nlen > UVC_THROTTLE_KEY_MAX / 2) nlen = UVC_THROTTLE_KEY_MAX / 2;
  if (alen > UVC_THROTTLE_KEY_MAX - nlen - 1) alen = UVC_THROTTLE_KEY_MAX - nlen - 1;
  memcpy(out, name, nlen);
  out[nlen] = ' ';
  memcpy(out + nlen + 1, addr, alen);
  out[nlen + 1 + alen] = '\0';
  return nlen + 1 + alen;
}

void uvc_guard_default_limits(uvc_guard_limits_t* l) {
  l->pair_failures = UVC_GUARD_DEFAULT_PAIR;
  l->addr_failures = UVC_GUARD_DEFAULT_ADDR;
  l->name_failures = UVC_GUARD_DEFAULT_NAME;
  l->window_ms = UVC_THROTTLE_DEFAULT_WINDOW;
  l->known_ms = UVC_GUARD_DEFAULT_KNOWN;
}

int uvc_guard_init(uvc_guard_t* g, const uvc_guard_limits_t* limits) {
  uvc_guard_limits_t d;
  int rc;
  if (limits == NULL) {
    uvc_guard_default_limits(&d);
    limits = &d;
  }
  memset(g, 0, sizeof(*g));
  rc = uvc_throttle_init(&g->pair, limits->pair_failures, limits->window_ms);
  if (rc == 0) rc = uvc_throttle_init(&g->addr, limits->addr_failures, limits->window_ms);
  if (rc == 0) rc = uvc_throttle_init(&g->name, limits->name_failures, limits->window_ms);
  if (rc == 0) rc = uvc_throttle_init(&g->known, 1, limits->known_ms);
  if (rc != 0) uvc_guard_free(g);
  return rc;
}

void uvc_guard_free(uvc_guard_t* g) {
  uvc_throttle_free(&g->pair);
  uvc_throttle_free(&g->addr);
  uvc_throttle_free(&g->name);
  uvc_throttle_free(&g->known);
}

int uvc_guard_known(const uvc_guard_t* g, const char* name, size_t nlen, const char* addr,
                    uint64_t now_ms) {
  char key[PAIR_KEY_MAX];
  size_t klen = pair_key(key, name, nlen, addr);
  return uvc_throttle_recent(&g->known, key, klen, now_ms) > 0;
}

uvc_guard_verdict_t uvc_guard_check(const uvc_guard_t* g, const char* name, size_t nlen,
                                    const char* addr, const uvc_guard_pending_t* pending,
                                    uint64_t now_ms, uint64_t* retry_after_ms) {
  static const uvc_guard_pending_t kNone = {0, 0, 0};
  char key[PAIR_KEY_MAX];
  size_t klen = pair_key(key, name, nlen, addr);
  uint64_t wait = 0;
  if (pending == NULL) pending = &kNone;
  if (retry_after_ms == NULL) retry_after_ms = &wait;
  *retry_after_ms = 0;
  if (!uvc_throttle_allowed_pending(&g->pair, key, klen, now_ms, pending->pair, retry_after_ms))
    return UVC_GUARD_PAIR;
  if (!uvc_throttle_allowed_pending(&g->addr, addr, strlen(addr), now_ms, pending->addr,
                                    retry_after_ms))
    return UVC_GUARD_ADDR;
  if (uvc_throttle_recent(&g->known, key, klen, now_ms) == 0 &&
      !uvc_throttle_allowed_pending(&g->name, name, nlen, now_ms, pending->name, retry_after_ms))
    return UVC_GUARD_NAME;
  return UVC_GUARD_OK;
}

void uvc_guard_fail(uvc_guard_t* g, const char* name, size_t nlen, const char* addr,
                    uint64_t now_ms) {
  char key[PAIR_KEY_MAX];
  size_t klen = pair_key(key, name, nlen, addr);
  (void)uvc_throttle_fail(&g->pair, key, klen, now_ms);
  (void)uvc_throttle_fail(&g->addr, addr, strlen(addr), now_ms);
  (void)uvc_throttle_fail(&g->name, name, nlen, now_ms);
}

void uvc_guard_success(uvc_guard_t* g, const char* name, size_t nlen, const char* addr,
                       uint64_t now_ms) {
  char key[PAIR_KEY_MAX];
  size_t klen = pair_key(key, name, nlen, addr);
  uvc_throttle_reset(&g->pair, key, klen);
  (void)uvc_throttle_fail(&g->known, key, klen, now_ms); /* known from now on */
}

void uvc_guard_prune(uvc_guard_t* g, uint64_t now_ms) {
  (void)uvc_throttle_prune(&g->pair, now_ms);
  (void)uvc_throttle_prune(&g->addr, now_ms);
  (void)uvc_throttle_prune(&g->name, now_ms);
  (void)uvc_throttle_prune(&g->known, now_ms);
}
