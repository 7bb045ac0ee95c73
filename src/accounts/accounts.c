/* accounts.c: registered accounts: the account operations adapters start, run as chains of
 * password and store requests on the thread pool, with login throttling and the core's set
 * of registered names kept in step with the store.
 *
 * Every operation is a request that holds its session pointer. When the session's memory is
 * about to go (uvc_core_forget), its requests are orphaned: their pointer is cleared and the
 * passwords they still hold are wiped; a late callback of an orphan finishes what the store
 * already did (a committed create or delete still updates the registered names) and frees
 * the request without going on. Passwords are copied into a request only while a store
 * lookup runs before they can be checked, and wiped as soon as they are handed on.
 */
#include "uvchat/accounts.h"

#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "uvchat/list.h"
#include "uvchat/log.h"
#include "uvchat/password.h"
#include "uvchat/store.h"
#include "uvchat/throttle.h"

#define ADDR_KEY_MAX 64  /* an address key: "203.0.113.9", "2001:0db8:0000:0000::/64" */
#define DETAIL_MAX   200 /* a reply's explanation */
#define HOUR_MS      (3600 * 1000)
#define ALL_KEY      "*" /* the key of the server-wide registration count */

/* The hash of a random password nobody knows, with the default cost (Argon2id, 64 MiB, two
 * passes): a login to a name that has no account is checked against it, so that it takes
 * as long as a login with a wrong password and the answer cannot tell the two apart. */
static const char kDummyHash[] =
    "$argon2id$v=19$m=65536,t=2,p=1$sLPYMkG84R+sCwpu+SbsrQ$"
    "Labvy0sFIOXNKoxc9q75z+XfxbX27DEKfo1dY1fe7og";

struct uvc_accounts {
  uv_loop_t* loop;
  uvc_core_t* core;
  uvc_store_t* store;
  uvc_guard_t guard;       /* failed password checks: see throttle.h */
  uvc_throttle_t pass;     /* wrong server passwords per client address */
  uvc_throttle_t reg_addr; /* registrations per client address, per hour */
  uvc_throttle_t reg_all;  /* registrations in all (one key), per hour */
  uvc_accounts_limits_t limits;
  uvc_list_t reqs;         /* requests in flight */
  uv_timer_t* watch_timer; /* looks for changes made by others (uvchat-account) */
  uint32_t writes_done;    /* account creations and deletions answered by the store */
  uint32_t watch_writes;   /* writes_done when the watch in flight started */
  unsigned skipped_names;  /* names in the store no nick can be (startup) */
  uint8_t watching;        /* a watch is in flight */
  uint8_t closing;
};

typedef struct acct_req {
  uvc_list_t link; /* on a->reqs */
  uvc_accounts_t* a;
  uvc_session_t* s; /* NULL once orphaned */
  uvc_auth_op_t op;
  uint64_t started; /* uv_hrtime() when it was asked for (metrics) */
  uint8_t found;    /* the account exists (its hash, not the dummy, is being checked) */
  uint8_t checking; /* a password of the account is being checked (until on_verified) */
  size_t nlen, pwlen, newlen;
  char name[UVC_NICK_MAX + 1];  /* the account */
  char addr[ADDR_KEY_MAX];      /* where the session connects from */
  char pw[UVC_PASSWORD_MAX];    /* the password to check, until handed to the verifier */
  char newpw[UVC_PASSWORD_MAX]; /* PASSWD: the new password, until handed to the hasher */
} acct_req_t;

/* ---- Small helpers ------------------------------------------------------------------- */

/* Formats a reply's explanation into out (DETAIL_MAX bytes). */
#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static const char*
detailf(char* out, const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(out, DETAIL_MAX, fmt, ap);
  va_end(ap);
  return out;
}

/* The throttle key of s's address (from the core's peer_key hook; "-" without one). */
/* Why pw is not acceptable as a new password under the configured bounds, or NULL. */
static const char* password_problem(const uvc_accounts_t* a, const char* pw, size_t len) {
  return uvc_password_check(pw, len, a->limits.password_min, a->limits.password_max);
}

static void addr_key(const uvc_accounts_t* a, const uvc_session_t* s, char out[ADDR_KEY_MAX]) {
  out[0] = '\0';
  if (a->core->hooks.peer_key != NULL) a->core->hooks.peer_key(a->core->ud, s, out, ADDR_KEY_MAX);
  if (out[0] == '\0') memcpy(out, "-", 2);
}

/* Whole seconds (rounded up) in ms milliseconds. */
static unsigned seconds(uint64_t ms) {
  return (unsigned)((ms + 999) / 1000);
}

/* Answers s at once, with no request involved. */
static void answer_now(uvc_accounts_t* a, uvc_session_t* s, uvc_auth_op_t op, int status,
                       const char* account, const char* detail) {
  if (s->adapter->on_auth != NULL) s->adapter->on_auth(a->core, s, op, status, account, detail);
}

/* Frees everything; nothing may be in flight. */
static void destroy(uvc_accounts_t* a) {
  uvc_guard_free(&a->guard);
  uvc_throttle_free(&a->pass);
  uvc_throttle_free(&a->reg_addr);
  uvc_throttle_free(&a->reg_all);
  free(a);
}

/* Unlinks, wipes and frees a request (and the module, when it was closed and this was the
 * last request). */
static void req_free(acct_req_t* r) {
  uvc_accounts_t* a = r->a;
  uvc_list_remove(&r->link);
  sodium_memzero(r, sizeof(*r));
  free(r);
  if (a->closing && uvc_list_empty(&a->reqs) && !a->watching) destroy(a);
}

/* Frees a request, then answers its session (if it still has one): a new operation started
 * from inside the answer does not find this one in the way. */
static void req_answer(acct_req_t* r, int status, const char* detail) {
  uvc_session_t* s = r->s;
  uvc_core_t* core = r->a->core;
  uvc_auth_op_t op = r->op;
  char name[UVC_NICK_MAX + 1];
  if (core->hooks.auth_done != NULL)
    core->hooks.auth_done(core->ud, (double)(uv_hrtime() - r->started) / 1e9);
  memcpy(name, r->name, sizeof(name));
  req_free(r);
  if (s != NULL && s->adapter->on_auth != NULL)
    s->adapter->on_auth(core, s, op, status, name[0] != '\0' ? name : NULL, detail);
}

/* A new request of s for the account name, linked in flight; NULL when out of memory. */
static acct_req_t* req_new(uvc_accounts_t* a, uvc_session_t* s, uvc_auth_op_t op, const char* name,
                           size_t nlen) {
  acct_req_t* r = calloc(1, sizeof(*r));
  if (r == NULL) return NULL;
  r->a = a;
  r->started = uv_hrtime();
  r->s = s;
  r->op = op;
  if (nlen > UVC_NICK_MAX) nlen = UVC_NICK_MAX;
  memcpy(r->name, name, nlen);
  r->name[nlen] = '\0';
  r->nlen = nlen;
  addr_key(a, s, r->addr);
  uvc_list_insert_tail(&a->reqs, &r->link);
  return r;
}

/* Whether s has a request in flight. */
static int session_busy(const uvc_accounts_t* a, const uvc_session_t* s) {
  const uvc_list_t* it;
  for (it = a->reqs.next; it != &a->reqs; it = it->next)
    if (UVC_CONTAINER_OF(it, acct_req_t, link)->s == s) return 1;
  return 0;
}

/* The password checks in flight that concern an attempt on name from addr: they count as
 * failures in advance, so that parallel guesses from many connections cannot outrun the
 * throttle. */
static void pending_checks(const uvc_accounts_t* a, const char* name, size_t nlen, const char* addr,
                           uvc_guard_pending_t* p) {
  const uvc_list_t* it;
  memset(p, 0, sizeof(*p));
  for (it = a->reqs.next; it != &a->reqs; it = it->next) {
    const acct_req_t* r = UVC_CONTAINER_OF(it, acct_req_t, link);
    int same_addr, same_name;
    if (!r->checking) continue;
    same_addr = strcmp(r->addr, addr) == 0;
    same_name = uvc_name_eq(r->name, r->nlen, name, nlen);
    p->addr += (uint32_t)same_addr;
    p->name += (uint32_t)same_name;
    p->pair += (uint32_t)(same_addr && same_name);
  }
}

/* When a password of the account name may not be checked for addr now, writes why into
 * detail and returns the status to answer (UVC_EAUTH_THROTTLED, or UVC_EAUTH_BUSY when only
 * checks still running stand in the way); else returns 0. */
static int throttled(uvc_accounts_t* a, const char* name, size_t nlen, const char* addr,
                     char* detail) {
  uint64_t now = uv_now(a->loop), wait = 0;
  uvc_guard_pending_t pending;
  uvc_guard_verdict_t v;
  uvc_guard_prune(&a->guard, now);
  pending_checks(a, name, nlen, addr, &pending);
  v = uvc_guard_check(&a->guard, name, nlen, addr, &pending, now, &wait);
  if (v == UVC_GUARD_OK) return 0;
  if (wait == 0) {
    if (v == UVC_GUARD_ADDR)
      detailf(detail, "too many logins from your address are being checked; try again in a moment");
    else
      detailf(detail, "another login to %.*s is being checked; try again in a moment", (int)nlen,
              name);
    return UVC_EAUTH_BUSY;
  }
  switch (v) {
    case UVC_GUARD_PAIR:
      detailf(detail, "too many failed logins for %.*s from your address; try again in %u seconds",
              (int)nlen, name, seconds(wait));
      break;
    case UVC_GUARD_ADDR:
      detailf(detail, "too many failed logins from your address; try again in %u seconds",
              seconds(wait));
      break;
    default:
      detailf(detail,
              "too many failed logins for %.*s from many addresses; try again in %u seconds "
              "(or from an address you logged in from before)",
              (int)nlen, name, seconds(wait));
      break;
  }
  UVC_DEBUG("account %.*s: login refused from %s (throttled: %s)", (int)nlen, name, addr,
            v == UVC_GUARD_PAIR   ? "name and address"
            : v == UVC_GUARD_ADDR ? "address"
                                  : "name");
  return UVC_EAUTH_THROTTLED;
}

/* Records a wrong password for the account from the address. */
static void record_failure(uvc_accounts_t* a, const char* name, size_t nlen, const char* addr) {
  uvc_guard_fail(&a->guard, name, nlen, addr, uv_now(a->loop));
  UVC_WARN("account %.*s: wrong password from %s", (int)nlen, name, addr);
}

/* When a new registration from addr may not start now, writes why into detail and returns
 * 1; else counts it (every registration that gets as far as the hasher counts) and
 * returns 0. Refused before any hashing, so a flood of registrations costs no CPU. */
static int registration_refused(uvc_accounts_t* a, const char* addr, char* detail) {
  uint64_t now = uv_now(a->loop), wait = 0;
  const uvc_list_t* it;
  for (it = a->reqs.next; it != &a->reqs; it = it->next) {
    const acct_req_t* r = UVC_CONTAINER_OF(it, acct_req_t, link);
    if (r->op == UVC_AUTH_REGISTER && strcmp(r->addr, addr) == 0) {
      detailf(detail,
              "a registration from your address is already under way; try again in a "
              "moment");
      return 1;
    }
  }
  uvc_throttle_prune(&a->reg_addr, now);
  uvc_throttle_prune(&a->reg_all, now);
  if (a->limits.register_per_addr > 0 &&
      !uvc_throttle_allowed(&a->reg_addr, addr, strlen(addr), now, &wait)) {
    detailf(detail,
            "too many new accounts from your address (at most %u an hour); try again in %u "
            "minutes",
            (unsigned)a->limits.register_per_addr, (unsigned)((wait + 59999) / 60000));
    UVC_INFO("registration refused from %s (address limit)", addr);
    return 1;
  }
  if (a->limits.register_all > 0 && !uvc_throttle_allowed(&a->reg_all, ALL_KEY, 1, now, &wait)) {
    detailf(detail,
            "too many new accounts on this server in the last hour; try again in %u minutes",
            (unsigned)((wait + 59999) / 60000));
    UVC_INFO("registration refused from %s (server-wide limit)", addr);
    return 1;
  }
  if (a->limits.register_per_addr > 0)
    (void)uvc_throttle_fail(&a->reg_addr, addr, strlen(addr), now);
  if (a->limits.register_all > 0) (void)uvc_throttle_fail(&a->reg_all, ALL_KEY, 1, now);
  return 0;
}

/* The code and words for a password or store request that could not start (rc). */
static int start_failed(int rc, char* detail) {
  if (rc == UVC_PASSWORD_BUSY) {
    detailf(detail, "%s", uvc_strerror(UVC_EAUTH_OVERLOADED));
    return UVC_EAUTH_OVERLOADED;
  }
  detailf(detail, "%s", uvc_strerror(UVC_EAUTH_ERROR));
  return UVC_EAUTH_ERROR;
}

/* ---- The chains: register ------------------------------------------------------------- */

static void on_created(void* data, int status);
static void on_written(void* data, int status);

/* REGISTER step 2 and PASSWD step 4: the new hash is made; store it, as a new account
 * (then on_created) or as the account's new password (then on_written). */
static void store_new_hash(acct_req_t* r, int status, const char* hash, int create) {
  char detail[DETAIL_MAX];
  int rc;
  if (r->s == NULL || r->a->closing) { /* nobody to answer any more */
    req_free(r);
    return;
  }
  if (status != 0) {
    UVC_WARN("account %s: cannot hash a password (%d)", r->name, status);
    req_answer(r, UVC_EAUTH_ERROR, detailf(detail, "%s", uvc_strerror(UVC_EAUTH_ERROR)));
    return;
  }
  rc = create ? uvc_store_create(r->a->store, r->a->loop, r->name, hash, on_created, r)
              : uvc_store_set_hash(r->a->store, r->a->loop, r->name, hash, on_written, r);
  if (rc != 0) req_answer(r, start_failed(rc, detail), detail);
}

static void on_hashed(void* data, int status, const char* hash) {
  store_new_hash(data, status, hash, 1);
}

/* REGISTER, step 3: committed and synced (or refused): now the session is told. */
static void on_created(void* data, int status) {
  acct_req_t* r = data;
  uvc_accounts_t* a = r->a;
  char detail[DETAIL_MAX];
  int err;
  if (a->closing) {
    req_free(r);
    return;
  }
  a->writes_done++;
  if (status == 0 || status == UVC_STORE_EXISTS)
    (void)uvc_core_add_registered(a->core, r->name, r->nlen);
  if (status == 0) {
    UVC_INFO("account %s: registered from %s", r->name, r->addr);
    uvc_guard_success(&a->guard, r->name, r->nlen, r->addr, uv_now(a->loop)); /* known */
  }
  if (r->s == NULL) {
    req_free(r);
    return;
  }
  if (status == UVC_STORE_EXISTS) {
    req_answer(r, UVC_EAUTH_EXISTS, detailf(detail, "the nick %s is already registered", r->name));
    return;
  }
  if (status != 0) {
    req_answer(r, UVC_EAUTH_ERROR, detailf(detail, "%s", uvc_strerror(UVC_EAUTH_ERROR)));
    return;
  }
  err = uvc_core_login(a->core, r->s, r->name, r->nlen);
  req_answer(r, 0, err == 0 ? NULL : detailf(detail, "you keep the nick %s", r->s->nick));
}

/* Starts REGISTER: s's nick becomes an account with password pw. */
static void start_register(uvc_accounts_t* a, uvc_session_t* s, const char* pw, size_t len) {
  char detail[DETAIL_MAX], addr[ADDR_KEY_MAX];
  const char* problem;
  acct_req_t* r;
  int rc;
  if (!s->present) {
    answer_now(a, s, UVC_AUTH_REGISTER, UVC_ENOT_PRESENT, NULL, uvc_strerror(UVC_ENOT_PRESENT));
    return;
  }
  if (uvc_session_account(s) != NULL) {
    answer_now(a, s, UVC_AUTH_REGISTER, UVC_EAUTH_LOGGED_IN, uvc_session_account(s),
               detailf(detail, "you are logged in as %s; log out first", uvc_session_account(s)));
    return;
  }
  if (uvc_core_registered(a->core, s->nick, s->nick_len) != NULL) {
    answer_now(a, s, UVC_AUTH_REGISTER, UVC_EAUTH_EXISTS, NULL,
               detailf(detail, "the nick %s is already registered", s->nick));
    return;
  }
  if ((problem = password_problem(a, pw, len)) != NULL) {
    answer_now(a, s, UVC_AUTH_REGISTER, UVC_EAUTH_BAD_PASSWORD, NULL,
               detailf(detail, "password not accepted: %s", problem));
    return;
  }
  addr_key(a, s, addr);
  if (registration_refused(a, addr, detail)) {
    answer_now(a, s, UVC_AUTH_REGISTER, UVC_EAUTH_THROTTLED, NULL, detail);
    return;
  }
  if ((r = req_new(a, s, UVC_AUTH_REGISTER, s->nick, s->nick_len)) == NULL) {
    answer_now(a, s, UVC_AUTH_REGISTER, UVC_ENOMEM, NULL, uvc_strerror(UVC_ENOMEM));
    return;
  }
  rc = uvc_password_hash(a->loop, pw, len, on_hashed, r);
  if (rc != 0) req_answer(r, start_failed(rc, detail), detail);
}

/* ---- The chains: login, password change, unregister ------------------------------------ */

static void on_verified(void* data, int ok);
static void on_rehashed(void* data, int status, const char* hash);
static void on_deleted(void* data, int status);

/* LOGIN, PASSWD, UNREGISTER, step 2: the stored hash (or none); check the password against
 * it, or against the dummy hash when there is no such account. */
static void on_got(void* data, int status, const char* hash) {
  acct_req_t* r = data;
  char detail[DETAIL_MAX];
  int rc;
  if (r->s == NULL || r->a->closing) {
    req_free(r);
    return;
  }
  if (status == 0) {
    r->found = 1;
  } else if (status == UVC_STORE_NOT_FOUND) {
    hash = kDummyHash;
  } else {
    req_answer(r, UVC_EAUTH_ERROR, detailf(detail, "%s", uvc_strerror(UVC_EAUTH_ERROR)));
    return;
  }
  rc = uvc_password_verify(r->a->loop, hash, r->pw, r->pwlen, on_verified, r);
  sodium_memzero(r->pw, sizeof(r->pw)); /* the verifier has its own copy */
  r->pwlen = 0;
  if (rc != 0) req_answer(r, start_failed(rc, detail), detail);
}

/* Step 3: the password was checked. */
static void on_verified(void* data, int ok) {
  acct_req_t* r = data;
  uvc_accounts_t* a = r->a;
  char detail[DETAIL_MAX];
  int rc, err;
  if (r->s == NULL || a->closing) {
    req_free(r);
    return;
  }
  r->checking = 0;
  if (ok < 0) { /* cancelled: not a wrong password */
    req_answer(r, UVC_EAUTH_ERROR, detailf(detail, "%s", uvc_strerror(UVC_EAUTH_ERROR)));
    return;
  }
  if (ok != 1 || !r->found) {
    record_failure(a, r->name, r->nlen, r->addr);
    if (r->op == UVC_AUTH_LOGIN)
      detailf(detail, "cannot log in as %s: wrong password, or no such account", r->name);
    else
      detailf(detail, "wrong password for %s", r->name);
    req_answer(r, UVC_EAUTH_FAILED, detail);
    return;
  }
  uvc_guard_success(&a->guard, r->name, r->nlen, r->addr, uv_now(a->loop));
  switch (r->op) {
    case UVC_AUTH_LOGIN:
      (void)uvc_core_add_registered(a->core, r->name, r->nlen); /* the store is the truth */
      UVC_INFO("account %s: logged in from %s", r->name, r->addr);
      /* Logged in first, said so (IRC: 900 and 903), and only then renamed to the
       * account's nick: a client learns of its login before the NICK that follows it. */
      err = uvc_core_set_account(a->core, r->s, r->name, r->nlen);
      if (uvc_session_account(r->s) != NULL) /* the spelling it was registered with */
        snprintf(r->name, sizeof(r->name), "%s", uvc_session_account(r->s));
      if (err != 0) {
        req_answer(r, UVC_ENOMEM, uvc_strerror(UVC_ENOMEM));
        return;
      }
      {
        uvc_session_t* s = r->s;
        req_answer(r, 0, NULL); /* r is freed; s lives on (its closing is always deferred) */
        if (uvc_core_take_account_nick(a->core, s) != 0 && s->present) {
          detailf(detail, "you keep the nick %s", s->nick);
          uvc_core_notify(a->core, s, detail, strlen(detail));
        }
      }
      return;
    case UVC_AUTH_PASSWD:
      rc = uvc_password_hash(a->loop, r->newpw, r->newlen, on_rehashed, r);
      sodium_memzero(r->newpw, sizeof(r->newpw));
      r->newlen = 0;
      break;
    case UVC_AUTH_UNREGISTER:
      rc = uvc_store_delete(a->store, a->loop, r->name, on_deleted, r);
      break;
    default:
      rc = UVC_EAUTH_ERROR;
      break;
  }
  if (rc != 0) req_answer(r, start_failed(rc, detail), detail);
}

static void on_rehashed(void* data, int status, const char* hash) {
  store_new_hash(data, status, hash, 0);
}

/* PASSWD, step 5: committed and synced. */
static void on_written(void* data, int status) {
  acct_req_t* r = data;
  char detail[DETAIL_MAX];
  if (r->a->closing) {
    req_free(r);
    return;
  }
  if (status == 0) UVC_INFO("account %s: password changed from %s", r->name, r->addr);
  if (status == UVC_STORE_NOT_FOUND)
    req_answer(r, UVC_EAUTH_FAILED, detailf(detail, "the account %s no longer exists", r->name));
  else if (status != 0)
    req_answer(r, UVC_EAUTH_ERROR, detailf(detail, "%s", uvc_strerror(UVC_EAUTH_ERROR)));
  else
    req_answer(r, 0, NULL);
}

/* A deleted account, for drop_login. */
typedef struct dropped {
  uvc_accounts_t* a;
  const uvc_session_t* by;
  const char* name;
  size_t nlen;
} dropped_t;

/* Logs out one session logged in to a deleted account (other than the one that deleted it),
 * and tells it. */
static void drop_login(uvc_session_t* s, void* arg) {
  dropped_t* d = arg;
  char detail[DETAIL_MAX];
  if (s == d->by || !uvc_session_logged_in_as(s, d->name, d->nlen)) return;
  uvc_core_forget_account(d->a->core, s); /* no rename: the nick is nobody's now */
  answer_now(d->a, s, UVC_AUTH_LOGOUT, 0, d->name,
             detailf(detail, "the account %s was deleted", d->name));
}

/* UNREGISTER, step 4: the account is gone; so are its name's protection and its logins. */
static void on_deleted(void* data, int status) {
  acct_req_t* r = data;
  uvc_accounts_t* a = r->a;
  char detail[DETAIL_MAX];
  dropped_t d;
  if (a->closing) {
    req_free(r);
    return;
  }
  a->writes_done++;
  if (status == 0 || status == UVC_STORE_NOT_FOUND) {
    uvc_core_remove_registered(a->core, r->name, r->nlen);
    d.a = a;
    d.by = r->s;
    d.name = r->name;
    d.nlen = r->nlen;
    uvc_core_each(a->core, drop_login, &d);
    if (status == 0) UVC_INFO("account %s: unregistered from %s", r->name, r->addr);
    if (a->core->history != NULL) /* its private messages go with it */
      a->core->history->unregistered(a->core->history_ud, r->name);
  }
  if (r->s == NULL) {
    req_free(r);
    return;
  }
  if (status != 0 && status != UVC_STORE_NOT_FOUND) {
    req_answer(r, UVC_EAUTH_ERROR, detailf(detail, "%s", uvc_strerror(UVC_EAUTH_ERROR)));
    return;
  }
  uvc_core_logout(a->core, r->s); /* keeps its nick: it is nobody's now */
  req_answer(r, 0, NULL);
}

/* Starts LOGIN, PASSWD or UNREGISTER: each checks a password of the account name first. */
static void start_check(uvc_accounts_t* a, uvc_session_t* s, uvc_auth_op_t op, const char* name,
                        size_t nlen, const char* pw, size_t pwlen, const char* newpw,
                        size_t newlen) {
  char detail[DETAIL_MAX], addr[ADDR_KEY_MAX];
  const char *problem, *canon;
  acct_req_t* r;
  int rc;
  if (op == UVC_AUTH_LOGIN) {
    if (!uvc_nick_valid(name, nlen)) {
      answer_now(a, s, op, UVC_EAUTH_INVALID, NULL, uvc_strerror(UVC_EAUTH_INVALID));
      return;
    }
    const char* cur = uvc_session_account(s);
    if (cur != NULL) {
      if (uvc_name_eq(cur, strlen(cur), name, nlen))
        detailf(detail, "you are already logged in as %s", cur);
      else
        detailf(detail, "you are logged in as %s; log out first", cur);
      answer_now(a, s, op, UVC_EAUTH_LOGGED_IN, cur, detail);
      return;
    }
  } else {
    if (uvc_session_account(s) == NULL) {
      answer_now(a, s, op, UVC_EAUTH_NOT_LOGGED_IN, NULL, uvc_strerror(UVC_EAUTH_NOT_LOGGED_IN));
      return;
    }
    name = uvc_session_account(s);
    nlen = strlen(name);
    if (op == UVC_AUTH_PASSWD && (problem = password_problem(a, newpw, newlen)) != NULL) {
      answer_now(a, s, op, UVC_EAUTH_BAD_PASSWORD, name,
                 detailf(detail, "new password not accepted: %s", problem));
      return;
    }
  }
  if (op == UVC_AUTH_LOGIN && (canon = uvc_core_registered(a->core, name, nlen)) != NULL)
    name = canon; /* the spelling it was registered with, for the answers and the log */
  addr_key(a, s, addr);
  if ((rc = throttled(a, name, nlen, addr, detail)) != 0) {
    answer_now(a, s, op, rc, NULL, detail);
    return;
  }
  if (pwlen > UVC_PASSWORD_MAX) { /* no password that long was ever accepted */
    record_failure(a, name, nlen, addr);
    answer_now(a, s, op, UVC_EAUTH_FAILED, NULL,
               op == UVC_AUTH_LOGIN
                   ? detailf(detail, "cannot log in as %.*s: wrong password, or no such account",
                             (int)nlen, name)
                   : detailf(detail, "wrong password for %.*s", (int)nlen, name));
    return;
  }
  if ((r = req_new(a, s, op, name, nlen)) == NULL) {
    answer_now(a, s, op, UVC_ENOMEM, NULL, uvc_strerror(UVC_ENOMEM));
    return;
  }
  if (pwlen > 0) memcpy(r->pw, pw, pwlen);
  r->pwlen = pwlen;
  r->checking = 1;
  if (op == UVC_AUTH_PASSWD) {
    memcpy(r->newpw, newpw, newlen); /* newlen <= UVC_PASSWORD_MAX: the rules checked it */
    r->newlen = newlen;
  }
  rc = uvc_store_get(a->store, a->loop, r->name, on_got, r);
  if (rc != 0) req_answer(r, start_failed(rc, detail), detail);
}

/* ---- The operations the core calls ------------------------------------------------------ */

/* core->auth->start: one operation at a time per session, then by kind. */
static void op_start(void* ud, uvc_session_t* s, uvc_auth_op_t op, const char* name, size_t nlen,
                     const char* pa, size_t alen, const char* pb, size_t blen) {
  uvc_accounts_t* a = ud;
  char detail[DETAIL_MAX];
  if (session_busy(a, s)) {
    answer_now(a, s, op, UVC_EAUTH_BUSY, NULL,
               detailf(detail, "%s; wait for its answer", uvc_strerror(UVC_EAUTH_BUSY)));
    return;
  }
  switch (op) {
    case UVC_AUTH_REGISTER:
      start_register(a, s, pa, alen);
      break;
    case UVC_AUTH_LOGIN:
    case UVC_AUTH_PASSWD:
    case UVC_AUTH_UNREGISTER:
      start_check(a, s, op, name, nlen, pa, alen, pb, blen);
      break;
    case UVC_AUTH_OPER: /* the core sends it to core->opers, never here */
      answer_now(a, s, op, UVC_EOPER_UNAVAILABLE, NULL, NULL);
      break;
    case UVC_AUTH_LOGOUT:
      if (uvc_session_account(s) == NULL) {
        answer_now(a, s, op, UVC_EAUTH_NOT_LOGGED_IN, NULL, uvc_strerror(UVC_EAUTH_NOT_LOGGED_IN));
      } else {
        char account[UVC_NICK_MAX + 1];
        char addr[ADDR_KEY_MAX];
        snprintf(account, sizeof(account), "%s", uvc_session_account(s));
        addr_key(a, s, addr);
        UVC_INFO("account %s: logged out from %s", account, addr);
        answer_now(a, s, op, 0, account, NULL); /* before the nick it gives up changes */
        uvc_core_logout(a->core, s);
      }
      break;
  }
}

/* core->auth->forget: s's requests are orphaned and the passwords they hold wiped. */
static void op_forget(void* ud, uvc_session_t* s) {
  uvc_accounts_t* a = ud;
  uvc_list_t* it;
  for (it = a->reqs.next; it != &a->reqs; it = it->next) {
    acct_req_t* r = UVC_CONTAINER_OF(it, acct_req_t, link);
    if (r->s != s) continue;
    r->s = NULL;
    sodium_memzero(r->pw, sizeof(r->pw));
    sodium_memzero(r->newpw, sizeof(r->newpw));
    r->pwlen = r->newlen = 0;
  }
}

/* core->auth->address_wait: the server password's use of the address throttle. */
static uint64_t op_address_wait(void* ud, const uvc_session_t* s, int failed) {
  uvc_accounts_t* a = ud;
  char addr[ADDR_KEY_MAX];
  uint64_t now = uv_now(a->loop), wait = 0;
  addr_key(a, s, addr);
  uvc_throttle_prune(&a->pass, now);
  if (failed) {
    (void)uvc_throttle_fail(&a->pass, addr, strlen(addr), now);
    UVC_WARN("wrong server password from %s", addr);
  }
  if (uvc_throttle_allowed(&a->pass, addr, strlen(addr), now, &wait)) return 0;
  return wait;
}

/* core->auth->same_password: the server password, compared by the password module. */
static int op_same_password(void* ud, const char* want, size_t wlen, const char* pw, size_t len) {
  (void)ud;
  return uvc_password_equal(want, wlen, pw, len);
}

static const uvc_auth_ops_t kOps = {op_start, op_forget, op_address_wait, op_same_password};

/* ---- Changes made by others ------------------------------------------------------------ */

/* Orders names ignoring ASCII case (for bsearch). */
static int name_cmp(const void* x, const void* y) {
  const unsigned char* p = *(const unsigned char* const*)x;
  const unsigned char* q = *(const unsigned char* const*)y;
  for (;; p++, q++) {
    int c = (unsigned char)uvc_ascii_lower((char)*p), d = (unsigned char)uvc_ascii_lower((char)*q);
    if (c != d || c == 0) return c - d;
  }
}

/* The registered names of the core that the database no longer has. */
typedef struct gone {
  const char** db; /* the database's names, sorted */
  size_t n_db;
  char (*names)[UVC_NICK_MAX + 1];
  size_t n, cap;
} gone_t;

static void collect_gone(const char* name, size_t len, void* arg) {
  gone_t* g = arg;
  char key[UVC_NICK_MAX + 1];
  const char* kp = key;
  memcpy(key, name, len);
  key[len] = '\0';
  if (g->n_db > 0 && bsearch(&kp, g->db, g->n_db, sizeof(*g->db), name_cmp) != NULL) return;
  if (g->n == g->cap) {
    size_t cap = g->cap == 0 ? 8 : g->cap * 2;
    void* p = realloc(g->names, cap * sizeof(*g->names));
    if (p == NULL) return; /* the next change tries again */
    g->names = p;
    g->cap = cap;
  }
  memcpy(g->names[g->n++], key, len + 1);
}

/* Whether a request that creates or deletes an account is in flight. */
static int writes_in_flight(const uvc_accounts_t* a) {
  const uvc_list_t* it;
  for (it = a->reqs.next; it != &a->reqs; it = it->next) {
    uvc_auth_op_t op = UVC_CONTAINER_OF(it, acct_req_t, link)->op;
    if (op == UVC_AUTH_REGISTER || op == UVC_AUTH_UNREGISTER) return 1;
  }
  return 0;
}

/* The database changed: names it has that the core lacks become registered; names the
 * core has that it lacks (deleted with uvchat-account) are free again, and whoever is
 * logged in to them is logged out. */
static void on_watched(void* data, int status, int changed, const char* const* names, size_t n) {
  uvc_accounts_t* a = data;
  const char** sorted = NULL;
  gone_t g;
  size_t i;
  a->watching = 0;
  if (a->closing) {
    if (uvc_list_empty(&a->reqs)) destroy(a);
    return;
  }
  if (status != 0 || !changed) return;
  if (a->writes_done != a->watch_writes || writes_in_flight(a)) {
    uvc_store_watch_again(a->store); /* our own change may be half in this picture */
    return;
  }
  if (n > 0 && (sorted = malloc(n * sizeof(*sorted))) == NULL) {
    uvc_store_watch_again(a->store);
    return;
  }
  for (i = 0; i < n; i++) {
    sorted[i] = names[i];
    if (uvc_nick_valid(names[i], strlen(names[i])) &&
        uvc_core_registered(a->core, names[i], strlen(names[i])) == NULL &&
        uvc_core_add_registered(a->core, names[i], strlen(names[i])) == 0)
      UVC_INFO("account %s: registered outside the server", names[i]);
  }
  if (n > 0) qsort(sorted, n, sizeof(*sorted), name_cmp);
  memset(&g, 0, sizeof(g));
  g.db = sorted;
  g.n_db = n;
  uvc_core_each_registered(a->core, collect_gone, &g);
  for (i = 0; i < g.n; i++) {
    dropped_t d;
    size_t len = strlen(g.names[i]);
    uvc_core_remove_registered(a->core, g.names[i], len);
    d.a = a;
    d.by = NULL;
    d.name = g.names[i];
    d.nlen = len;
    uvc_core_each(a->core, drop_login, &d);
    if (a->core->history != NULL) a->core->history->unregistered(a->core->history_ud, g.names[i]);
    UVC_INFO("account %s: deleted outside the server", g.names[i]);
  }
  free(g.names);
  free(sorted);
}

static void on_watch_timer(uv_timer_t* t) {
  uvc_accounts_t* a = t->data;
  if (a->closing || a->watching) return;
  if (uvc_store_watch(a->store, a->loop, on_watched, a) == 0) {
    a->watching = 1;
    a->watch_writes = a->writes_done;
  }
}

static void on_timer_closed(uv_handle_t* h) {
  free(h);
}

/* (Re)starts the watch timer for limits.watch_ms (0: stops it). Unreferenced: it does not
 * keep the loop alive. */
static void watch_start(uvc_accounts_t* a) {
  if (a->watch_timer == NULL) {
    if ((a->watch_timer = malloc(sizeof(*a->watch_timer))) == NULL) return;
    if (uv_timer_init(a->loop, a->watch_timer) != 0) {
      free(a->watch_timer);
      a->watch_timer = NULL;
      return;
    }
    a->watch_timer->data = a;
    uv_unref((uv_handle_t*)a->watch_timer);
  }
  uv_timer_stop(a->watch_timer);
  if (a->limits.watch_ms > 0)
    uv_timer_start(a->watch_timer, on_watch_timer, a->limits.watch_ms, a->limits.watch_ms);
}

/* ---- Opening and closing ---------------------------------------------------------------- */

/* One registered name from the store at startup: told to the core (a->skipped_names counts
 * names no nick can be). Returns 0, or -1 when out of memory. */
static int add_name(void* ud, const char* name, size_t len) {
  uvc_accounts_t* a = ud;
  if (!uvc_nick_valid(name, len)) {
    a->skipped_names++; /* not written by uvchat: no nick can ever be it */
    return 0;
  }
  return uvc_core_add_registered(a->core, name, len) != 0 ? -1 : 0;
}

/* Tells the core every registered name in the store. Returns 0, or -1 with the reason in
 * err. */
static int load_names(uvc_accounts_t* a, char* err, size_t errlen) {
  int rc = uvc_store_each_name(a->store, add_name, a, err, errlen);
  if (rc == -1) snprintf(err, errlen, "out of memory loading the account names");
  if (rc != 0) return -1;
  if (a->skipped_names > 0)
    UVC_WARN("accounts: %u names in the database are not valid nicks", a->skipped_names);
  return 0;
}

int uvc_accounts_open(uvc_accounts_t** out, uv_loop_t* loop, uvc_core_t* core, const char* data_dir,
                      char* err, size_t errlen) {
  char dir[4096];
  uvc_store_t* store;
  int r;
  *out = NULL;
  if (data_dir == NULL) {
    if ((r = uvc_store_default_dir(dir, sizeof(dir))) != 0) {
      snprintf(err, errlen, "cannot find a directory for the accounts (%s): use --data-dir",
               uv_strerror(r));
      return r;
    }
    data_dir = dir;
  }
  if ((r = uvc_store_open(&store, data_dir, err, errlen)) != 0) return r;
  return uvc_accounts_open_store(out, loop, core, store, err, errlen);
}

int uvc_accounts_open_store(uvc_accounts_t** out, uv_loop_t* loop, uvc_core_t* core,
                            uvc_store_t* store, char* err, size_t errlen) {
  uvc_accounts_t* a;
  *out = NULL;
  if (uvc_password_init() != 0) {
    uvc_store_close(store);
    snprintf(err, errlen, "cannot initialise libsodium");
    return UVC_PASSWORD_EINIT;
  }
  a = calloc(1, sizeof(*a));
  if (a == NULL) {
    uvc_store_close(store);
    snprintf(err, errlen, "out of memory");
    return UVC_ENOMEM;
  }
  a->loop = loop;
  a->core = core;
  uvc_list_init(&a->reqs);
  if (uvc_guard_init(&a->guard, NULL) != 0) {
    uvc_store_close(store);
    free(a);
    snprintf(err, errlen, "out of memory");
    return UVC_ENOMEM;
  }
  uvc_throttle_init(&a->pass, UVC_THROTTLE_DEFAULT_FAILURES, UVC_THROTTLE_DEFAULT_WINDOW);
  a->limits.register_per_addr = UVC_ACCOUNTS_REGISTER_PER_ADDR;
  a->limits.register_all = UVC_ACCOUNTS_REGISTER_ALL;
  a->limits.watch_ms = UVC_ACCOUNTS_WATCH_MS;
  a->limits.password_min = UVC_PASSWORD_MIN;
  a->limits.password_max = UVC_PASSWORD_DEFAULT_MAX;
  uvc_throttle_init(&a->reg_addr, a->limits.register_per_addr, HOUR_MS);
  uvc_throttle_init(&a->reg_all, a->limits.register_all, HOUR_MS);
  a->store = store;
  if (load_names(a, err, errlen) != 0) {
    uvc_store_close(a->store);
    destroy(a);
    return UVC_STORE_DB;
  }
  core->auth = &kOps;
  core->auth_ud = a;
  watch_start(a);
  UVC_INFO("accounts: %u registered", (unsigned)core->n_registered);
  *out = a;
  return 0;
}

void uvc_accounts_set_limits(uvc_accounts_t* a, const uvc_accounts_limits_t* limits) {
  a->limits = *limits;
  if (a->limits.password_min == 0) a->limits.password_min = UVC_PASSWORD_MIN;
  if (a->limits.password_max == 0) a->limits.password_max = UVC_PASSWORD_DEFAULT_MAX;
  if (a->limits.password_max > UVC_PASSWORD_MAX) a->limits.password_max = UVC_PASSWORD_MAX;
  uvc_throttle_free(&a->reg_addr);
  uvc_throttle_free(&a->reg_all);
  /* 0 means no limit: the tables are then never consulted */
  uvc_throttle_init(&a->reg_addr, limits->register_per_addr > 0 ? limits->register_per_addr : 1,
                    HOUR_MS);
  uvc_throttle_init(&a->reg_all, limits->register_all > 0 ? limits->register_all : 1, HOUR_MS);
  watch_start(a);
}

uvc_store_t* uvc_accounts_store(const uvc_accounts_t* a) {
  return a->store;
}

const char* uvc_accounts_path(const uvc_accounts_t* a) {
  return uvc_store_path(a->store);
}

void uvc_accounts_close(uvc_accounts_t* a) {
  uvc_list_t* it;
  if (a == NULL) return;
  if (a->watch_timer != NULL) { /* closed (and its memory freed) now, so that the loop can be
                                   closed; a watch that ends meanwhile is applied as usual */
    uv_close((uv_handle_t*)a->watch_timer, on_timer_closed);
    a->watch_timer = NULL;
    uv_run(a->loop, UV_RUN_NOWAIT);
  }
  if (a->core->auth_ud == a) {
    a->core->auth = NULL;
    a->core->auth_ud = NULL;
  }
  for (it = a->reqs.next; it != &a->reqs; it = it->next) /* nobody is waiting any more */
    UVC_CONTAINER_OF(it, acct_req_t, link)->s = NULL;
  a->closing = 1;
  uvc_store_close(a->store);
  a->store = NULL;
  if (uvc_list_empty(&a->reqs) && !a->watching) destroy(a);
}
