/* opers.c: OPER: a name from the configuration, its Argon2id hash checked off the loop. */
#include "uvchat/opers.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "uvchat/clean.h"
#include "uvchat/password.h"

typedef struct oper_req oper_req_t;

struct uvc_opers {
  uv_loop_t* loop;
  uvc_core_t* core;
  oper_req_t* pending; /* checks on the thread pool (a list through next) */
};

struct oper_req {
  oper_req_t* next;
  uvc_opers_t* o;   /* NULL once the module is gone */
  uvc_session_t* s; /* NULL once the session is gone */
  char name[UVC_NICK_MAX + 1];
};

/* Finds name in the "NAME HASH" lines; copies its hash to hash. Returns 1 when found. */
static int find_oper(const char* lines, const char* name, size_t nlen, char* hash, size_t cap) {
  const char* p = lines;
  while (p != NULL && *p != '\0') {
    const char* sp = strchr(p, ' ');
    const char* nl = strchr(p, '\n');
    if (sp == NULL || nl == NULL || sp > nl) return 0;
    if (uvc_name_eq(p, (size_t)(sp - p), name, nlen) && (size_t)(nl - sp - 1) < cap) {
      memcpy(hash, sp + 1, (size_t)(nl - sp - 1));
      hash[nl - sp - 1] = '\0';
      return 1;
    }
    p = nl + 1;
  }
  return 0;
}

static void unlink_req(uvc_opers_t* o, oper_req_t* r) {
  oper_req_t** pp;
  for (pp = &o->pending; *pp != NULL; pp = &(*pp)->next)
    if (*pp == r) {
      *pp = r->next;
      return;
    }
}

static void answer(uvc_core_t* core, uvc_session_t* s, int status, const char* name,
                   const char* detail) {
  if (s->adapter->on_auth != NULL)
    s->adapter->on_auth(core, s, UVC_AUTH_OPER, status, name, detail);
}

static void on_verified(void* data, int ok) {
  oper_req_t* r = data;
  uvc_opers_t* o = r->o;
  if (o != NULL) {
    unlink_req(o, r);
    if (r->s != NULL) {
      if (ok == 1) {
        uvc_core_set_oper(o->core, r->s, r->name, strlen(r->name));
        answer(o->core, r->s, 0, r->name, NULL);
      } else {
        (void)uvc_core_address_wait(o->core, r->s, 1); /* a failed attempt of its address */
        answer(o->core, r->s, UVC_EOPER_FAILED, NULL, NULL);
      }
    }
  }
  free(r);
}

static void oper_start(void* ud, uvc_session_t* s, uvc_auth_op_t op, const char* name, size_t nlen,
                       const char* pw, size_t pwlen, const char* b, size_t blen) {
  uvc_opers_t* o = ud;
  char hash[UVC_PASSWORD_HASH_MAX + 1], detail[96];
  oper_req_t* r;
  uint64_t wait;
  (void)op, (void)b, (void)blen;
  for (r = o->pending; r != NULL; r = r->next)
    if (r->s == s) {
      answer(o->core, s, UVC_EAUTH_BUSY, NULL, uvc_strerror(UVC_EAUTH_BUSY));
      return;
    }
  if ((wait = uvc_core_address_wait(o->core, s, 0)) != 0) {
    snprintf(detail, sizeof(detail),
             "Too many wrong passwords from your address; try again in %u seconds",
             (unsigned)((wait + 999) / 1000));
    answer(o->core, s, UVC_EAUTH_THROTTLED, NULL, detail);
    return;
  }
  if (nlen > UVC_NICK_MAX || !find_oper(o->core->oper_lines, name, nlen, hash, sizeof(hash))) {
    (void)uvc_core_address_wait(o->core, s, 1); /* guessing names costs as much as passwords */
    answer(o->core, s, UVC_EOPER_UNAVAILABLE, NULL, NULL);
    return;
  }
  if ((r = calloc(1, sizeof(*r))) == NULL) {
    answer(o->core, s, UVC_ENOMEM, NULL, uvc_strerror(UVC_ENOMEM));
    return;
  }
  r->o = o;
  r->s = s;
  memcpy(r->name, name, nlen);
  if (uvc_password_verify(o->loop, hash, pw, pwlen, on_verified, r) != 0) {
    free(r);
    answer(o->core, s, UVC_EAUTH_OVERLOADED, NULL, uvc_strerror(UVC_EAUTH_OVERLOADED));
    return;
  }
  r->next = o->pending;
  o->pending = r;
}

static void oper_forget(void* ud, uvc_session_t* s) {
  uvc_opers_t* o = ud;
  oper_req_t* r;
  for (r = o->pending; r != NULL; r = r->next)
    if (r->s == s) r->s = NULL;
}

static const uvc_auth_ops_t kOps = {oper_start, oper_forget, NULL, NULL};

uvc_opers_t* uvc_opers_new(uv_loop_t* loop, uvc_core_t* core) {
  uvc_opers_t* o = calloc(1, sizeof(*o));
  if (o == NULL) return NULL;
  o->loop = loop;
  o->core = core;
  core->opers = &kOps;
  core->opers_ud = o;
  return o;
}

void uvc_opers_free(uvc_opers_t* o) {
  oper_req_t* r;
  if (o == NULL) return;
  for (r = o->pending; r != NULL; r = r->next)
    r->o = NULL; /* their callbacks free them */
  if (o->core->opers_ud == o) {
    o->core->opers = NULL;
    o->core->opers_ud = NULL;
  }
  free(o);
}

int uvc_opers_hash_stdin(FILE* in, FILE* out, FILE* err) {
  char pw[UVC_PASSWORD_MAX + 4];
  char hash[crypto_pwhash_STRBYTES];
  size_t len;
  int r = 2;
  if (uvc_password_init() != 0) {
    fprintf(err, "uvchat: --hash-password: libsodium could not be initialised\n");
    return 2;
  }
  if (fgets(pw, sizeof(pw), in) == NULL) {
    fprintf(err, "uvchat: --hash-password: give the password on standard input\n");
    return 2;
  }
  len = strcspn(pw, "\r\n");
  if (len == 0 || len > UVC_PASSWORD_MAX) {
    fprintf(err, "uvchat: --hash-password: the password must be 1 to %d bytes\n", UVC_PASSWORD_MAX);
  } else if (crypto_pwhash_str(hash, pw, len, crypto_pwhash_OPSLIMIT_INTERACTIVE,
                               crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0) {
    fprintf(err, "uvchat: --hash-password: out of memory\n");
  } else {
    fprintf(out, "%s\n", hash);
    r = 0;
  }
  sodium_memzero(pw, sizeof(pw));
  return r;
}
