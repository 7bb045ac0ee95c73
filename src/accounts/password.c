/* password.c: password rules, and Argon2id hashing and checking on libuv's thread pool. */
#include "uvchat/password.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "uvchat/list.h"

_Static_assert(UVC_PASSWORD_HASH_MAX + 1 == crypto_pwhash_STRBYTES,
               "a hash string fills crypto_pwhash_STRBYTES with its NUL");

typedef struct pw_req {
  uv_work_t work;
  uv_loop_t* loop;
  uvc_list_t link; /* on g_running once queued to libuv, on g_waiting before */
  int verify;
  int status; /* hash: 0 or an error; verify: 1 match, 0 no match, or an error */
  uvc_password_hash_cb hash_cb;
  uvc_password_verify_cb verify_cb;
  void* data;
  unsigned long long opslimit;
  size_t memlimit;
  size_t len;
  unsigned char pw[UVC_PASSWORD_MAX]; /* the copy of the password: wiped after use */
  char hash[crypto_pwhash_STRBYTES];  /* out for hash, in for verify */
} pw_req_t;

static uv_once_t g_once = UV_ONCE_INIT;
static int g_init_rc = -1;
static unsigned long long g_opslimit = crypto_pwhash_OPSLIMIT_INTERACTIVE;
static size_t g_memlimit = crypto_pwhash_MEMLIMIT_INTERACTIVE;
/* Requests queued to libuv (at most g_max_running), and requests waiting for a turn in two
 * lanes: checks (logins) and new hashes (registrations, new passwords). */
static uvc_list_t g_running = {&g_running, &g_running};
static uvc_list_t g_waiting = {&g_waiting, &g_waiting}; /* checks */
static uvc_list_t g_waiting_hash = {&g_waiting_hash, &g_waiting_hash};
static unsigned g_n_running, g_n_running_hash, g_n_waiting, g_n_waiting_hash;
static unsigned g_max_running = UVC_PASSWORD_RUNNING, g_max_waiting = UVC_PASSWORD_WAITING;
static unsigned g_max_waiting_hash = UVC_PASSWORD_WAITING_HASH;
static uvc_password_wipe_hook_t g_wipe_hook;

static void init_once(void) {
  g_init_rc = sodium_init() < 0 ? -1 : 0; /* 1 means someone else initialised it: fine */
}

int uvc_password_init(void) {
  uv_once(&g_once, init_once);
  return g_init_rc == 0 ? 0 : UVC_PASSWORD_EINIT;
}

const char* uvc_password_problem(const char* pw, size_t len) {
  return uvc_password_check(pw, len, UVC_PASSWORD_MIN, UVC_PASSWORD_MAX);
}

const char* uvc_password_check(const char* pw, size_t len, size_t min, size_t max) {
  /* the reasons with their numbers; one loop thread, so one buffer each will do */
  static char short_why[64], long_why[64];
  size_t i, spaces = 0;
  if (max > UVC_PASSWORD_MAX) max = UVC_PASSWORD_MAX;
  if (len < min || len == 0) {
    snprintf(short_why, sizeof(short_why), "too short: a password needs at least %u bytes",
             (unsigned)(min > 0 ? min : 1));
    return short_why;
  }
  if (len > max) {
    snprintf(long_why, sizeof(long_why), "too long: a password may have at most %u bytes",
             (unsigned)max);
    return long_why;
  }
  for (i = 0; i < len; i++) {
    unsigned char c = (unsigned char)pw[i];
    if (c < 0x20 || c == 0x7F) return "a password may not contain control characters";
    if (c == 0xC2 && i + 1 < len && (unsigned char)pw[i + 1] >= 0x80 &&
        (unsigned char)pw[i + 1] <= 0x9F)
      return "a password may not contain control characters"; /* U+0080..U+009F */
    if (c == ' ') spaces++;
  }
  if (spaces == len) return "a password may not be only spaces";
  return NULL;
}

int uvc_password_set_limits(unsigned long long opslimit, size_t memlimit) {
  if (opslimit == 0 && memlimit == 0) {
    opslimit = crypto_pwhash_OPSLIMIT_INTERACTIVE;
    memlimit = crypto_pwhash_MEMLIMIT_INTERACTIVE;
  }
  if (opslimit < crypto_pwhash_OPSLIMIT_MIN || opslimit > crypto_pwhash_OPSLIMIT_MAX ||
      memlimit < crypto_pwhash_MEMLIMIT_MIN || memlimit > crypto_pwhash_MEMLIMIT_MAX)
    return UVC_PASSWORD_EINVAL;
  g_opslimit = opslimit;
  g_memlimit = memlimit;
  return 0;
}

void uvc_password_use_min_limits(void) {
  g_opslimit = crypto_pwhash_OPSLIMIT_MIN;
  g_memlimit = crypto_pwhash_MEMLIMIT_MIN;
}

void uvc_password_get_limits(unsigned long long* opslimit, size_t* memlimit) {
  if (opslimit != NULL) *opslimit = g_opslimit;
  if (memlimit != NULL) *memlimit = g_memlimit;
}

void uvc_password_set_wipe_hook(uvc_password_wipe_hook_t hook) {
  g_wipe_hook = hook;
}

unsigned uvc_password_pending(void) {
  return g_n_running + g_n_waiting + g_n_waiting_hash;
}

unsigned uvc_password_waiting(void) {
  return g_n_waiting + g_n_waiting_hash;
}

int uvc_password_set_concurrency(unsigned max_running, unsigned max_waiting) {
  if (max_running == 0) return UVC_PASSWORD_EINVAL;
  g_max_running = max_running;
  g_max_waiting = max_waiting;
  return 0;
}

int uvc_password_set_hash_waiting(unsigned max_waiting) {
  g_max_waiting_hash = max_waiting;
  return 0;
}

/* The running slots new hashes may take: all but one, so that a check always finds one. */
static unsigned hash_slots(void) {
  return g_max_running > 1 ? g_max_running - 1 : 1;
}

/* Whether a request of this kind may be queued to libuv now. */
static int may_run(int verify) {
  if (g_n_running >= g_max_running) return 0;
  return verify || g_n_running_hash < hash_slots();
}

/* On the thread pool: the hash or the check, then the wipe. Touches only the request. */
static void work_cb(uv_work_t* w) {
  pw_req_t* r = (pw_req_t*)w->data;
  if (r->verify) {
    r->status = crypto_pwhash_str_verify(r->hash, (const char*)r->pw, r->len) == 0 ? 1 : 0;
  } else {
    r->status = crypto_pwhash_str_alg(r->hash, (const char*)r->pw, r->len, r->opslimit, r->memlimit,
                                      crypto_pwhash_ALG_ARGON2ID13) == 0
                    ? 0
                    : UVC_PASSWORD_EHASH;
  }
  sodium_memzero(r->pw, sizeof(r->pw));
  r->len = 0;
}

/* On the loop thread: wipes the request (again, or for the first time when it never ran),
 * answers with status and frees it. The request is on no list. */
static void finish(pw_req_t* r, int status) {
  sodium_memzero(r->pw, sizeof(r->pw));
  r->len = 0;
  if (g_wipe_hook != NULL) g_wipe_hook(r->pw, sizeof(r->pw));
  if (r->verify)
    r->verify_cb(r->data, status);
  else
    r->hash_cb(r->data, status, status == 0 ? r->hash : NULL);
  sodium_memzero(r->hash, sizeof(r->hash));
  free(r);
}

static void after_cb(uv_work_t* w, int status);

/* Queues r to libuv's thread pool. Returns 0 or a libuv error (r is then on no list). */
static int start(pw_req_t* r) {
  int rc = uv_queue_work(r->loop, &r->work, work_cb, after_cb);
  if (rc != 0) return rc;
  uvc_list_insert_tail(&g_running, &r->link);
  g_n_running++;
  if (!r->verify) g_n_running_hash++;
  return 0;
}

/* Starts waiting requests while there is room: checks first, then new hashes. */
static void start_waiting(void) {
  for (;;) {
    pw_req_t* r;
    int rc;
    if (may_run(1) && !uvc_list_empty(&g_waiting)) {
      r = UVC_CONTAINER_OF(g_waiting.next, pw_req_t, link);
      g_n_waiting--;
    } else if (may_run(0) && !uvc_list_empty(&g_waiting_hash)) {
      r = UVC_CONTAINER_OF(g_waiting_hash.next, pw_req_t, link);
      g_n_waiting_hash--;
    } else {
      return;
    }
    uvc_list_remove(&r->link);
    rc = start(r);
    if (rc != 0) finish(r, rc);
  }
}

static void after_cb(uv_work_t* w, int status) {
  pw_req_t* r = (pw_req_t*)w->data;
  uvc_list_remove(&r->link);
  g_n_running--;
  if (!r->verify) g_n_running_hash--;
  start_waiting(); /* keep the pool busy before answering */
  finish(r, status == UV_ECANCELED ? UVC_PASSWORD_CANCELED : r->status);
}

/* Builds one request and starts it, or puts it in line. hash is NULL for a new hash. */
static int submit(uv_loop_t* loop, const char* hash, const char* pw, size_t len,
                  uvc_password_hash_cb hash_cb, uvc_password_verify_cb verify_cb, void* data) {
  pw_req_t* r;
  int rc;
  if (loop == NULL || (pw == NULL && len > 0) || len > UVC_PASSWORD_MAX ||
      (hash_cb == NULL && verify_cb == NULL))
    return UVC_PASSWORD_EINVAL;
  if (hash != NULL && strlen(hash) > UVC_PASSWORD_HASH_MAX) return UVC_PASSWORD_EINVAL;
  if (!may_run(hash != NULL) &&
      (hash != NULL ? g_n_waiting >= g_max_waiting : g_n_waiting_hash >= g_max_waiting_hash))
    return UVC_PASSWORD_BUSY;
  if (uvc_password_init() != 0) return UVC_PASSWORD_EINIT;
  r = calloc(1, sizeof(*r));
  if (r == NULL) return UVC_PASSWORD_ENOMEM;
  r->loop = loop;
  r->verify = hash != NULL;
  if (hash != NULL) memcpy(r->hash, hash, strlen(hash) + 1);
  if (len > 0) memcpy(r->pw, pw, len);
  r->len = len;
  r->hash_cb = hash_cb;
  r->verify_cb = verify_cb;
  r->data = data;
  r->opslimit = g_opslimit;
  r->memlimit = g_memlimit;
  r->work.data = r;
  if (!may_run(r->verify)) {
    if (r->verify) {
      uvc_list_insert_tail(&g_waiting, &r->link);
      g_n_waiting++;
    } else {
      uvc_list_insert_tail(&g_waiting_hash, &r->link);
      g_n_waiting_hash++;
    }
    return 0;
  }
  rc = start(r);
  if (rc != 0) {
    sodium_memzero(r->pw, sizeof(r->pw));
    free(r);
  }
  return rc;
}

int uvc_password_hash(uv_loop_t* loop, const char* pw, size_t len, uvc_password_hash_cb cb,
                      void* data) {
  if (cb == NULL) return UVC_PASSWORD_EINVAL;
  return submit(loop, NULL, pw, len, cb, NULL, data);
}

int uvc_password_verify(uv_loop_t* loop, const char* hash, const char* pw, size_t len,
                        uvc_password_verify_cb cb, void* data) {
  if (hash == NULL || cb == NULL) return UVC_PASSWORD_EINVAL;
  return submit(loop, hash, pw, len, NULL, cb, data);
}

int uvc_password_needs_rehash(const char* hash) {
  if (hash == NULL || strlen(hash) > UVC_PASSWORD_HASH_MAX) return -1;
  if (uvc_password_init() != 0) return -1;
  return crypto_pwhash_str_needs_rehash(hash, g_opslimit, g_memlimit);
}

unsigned uvc_password_cancel_all(uv_loop_t* loop) {
  uvc_list_t mine, *it, *next;
  unsigned n = 0;
  /* uv_cancel only marks a request: its after-work callback runs later, from the loop, so
   * the running list does not change while it is walked here. */
  for (it = g_running.next; it != &g_running; it = it->next) {
    pw_req_t* r = UVC_CONTAINER_OF(it, pw_req_t, link);
    if (r->loop == loop && uv_cancel((uv_req_t*)&r->work) == 0) n++;
  }
  /* Waiting requests are answered here; take them off the list first, since a callback may
   * make new requests. */
  uvc_list_init(&mine);
  for (it = g_waiting.next; it != &g_waiting; it = next) {
    next = it->next;
    if (UVC_CONTAINER_OF(it, pw_req_t, link)->loop != loop) continue;
    uvc_list_remove(it);
    g_n_waiting--;
    uvc_list_insert_tail(&mine, it);
  }
  for (it = g_waiting_hash.next; it != &g_waiting_hash; it = next) {
    next = it->next;
    if (UVC_CONTAINER_OF(it, pw_req_t, link)->loop != loop) continue;
    uvc_list_remove(it);
    g_n_waiting_hash--;
    uvc_list_insert_tail(&mine, it);
  }
  while (!uvc_list_empty(&mine)) {
    pw_req_t* r = UVC_CONTAINER_OF(mine.next, pw_req_t, link);
    uvc_list_remove(&r->link);
    finish(r, UVC_PASSWORD_CANCELED);
    n++;
  }
  return n;
}

int uvc_password_equal(const char* want, size_t wlen, const char* pw, size_t len) {
  /* BLAKE2b of both, compared in constant time: the lengths leak nothing either */
  unsigned char a[crypto_generichash_BYTES], b[crypto_generichash_BYTES];
  int same;
  if (want == NULL || pw == NULL || uvc_password_init() != 0) return 0;
  crypto_generichash(a, sizeof(a), (const unsigned char*)want, wlen, NULL, 0);
  crypto_generichash(b, sizeof(b), (const unsigned char*)pw, len, NULL, 0);
  same = sodium_memcmp(a, b, sizeof(a)) == 0;
  sodium_memzero(b, sizeof(b));
  return wlen > 0 && same;
}
