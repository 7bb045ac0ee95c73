/* fuzz_irc.c: arbitrary lines from two IRC users, one IRC-over-WebSocket user (text frames)
 * and one text user in one core. Everything an IRC user gets must be CRLF-terminated lines
 * without NUL, CR or LF inside, of at most 512 bytes besides their tags (8191); every frame a
 * WebSocket user gets must hold one such line (without its CRLF); everything a text user gets
 * must be clean lines. Accounts and operators are a small stand-in that answers on the next
 * input line, as the real modules answer from the loop later. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_check.h"
#include "uvchat/core.h"
#include "uvchat/irc.h"
#include "uvchat/list.h"
#include "uvchat/names.h"
#include "uvchat/text.h"
#include "uvchat/wsframe.h"

#define N_USERS 4

typedef struct user {
  uvc_session_t s;
  int closing;
  /* An account or operator request in flight (answered before the next input line). */
  int pending;
  uvc_auth_op_t op;
  char name[UVC_NICK_MAX + 1];
  size_t nlen;
  char pw[16];
  size_t pwlen;
} user_t;

static const uvc_adapter_t* const kAdapters[N_USERS] = {
    &uvc_irc_adapter, &uvc_irc_adapter, &uvc_irc_ws_text_adapter, &uvc_text_adapter};
static user_t users[N_USERS];
static uvc_core_t core;
static int trace = -1; /* FUZZ_TRACE=1: what each user gets, on stderr */

/* One IRC line a[0..n) without its CRLF: no NUL, CR or LF, the limits of irc.h. */
static void check_irc_line(const unsigned char* p, size_t n) {
  size_t tags = 0;
  if (memchr(p, '\0', n) != NULL || memchr(p, '\r', n) != NULL || memchr(p, '\n', n) != NULL)
    abort();
  if (n > 0 && p[0] == '@') {
    const unsigned char* sp = memchr(p, ' ', n);
    if (sp == NULL) abort();
    tags = (size_t)(sp - p) + 1;
    if (tags > UVC_IRC_TAGS_MAX) abort();
  }
  if (n - tags + 2 > UVC_IRC_LINE || n == tags) abort();
  { /* past the tags, clean text: what IRC shows may hold formatting codes and CTCP's \1 */
    unsigned char copy[UVC_IRC_LINE];
    size_t k;
    for (k = 0; k < n - tags; k++)
      copy[k] = p[tags + k] == 1 ? 'A' : p[tags + k];
    fuzz_check_clean(copy, n - tags, 1);
  }
}

static void check_irc(const unsigned char* p, size_t len) {
  size_t i = 0;
  if (len == 0) abort();
  while (i < len) {
    const unsigned char* lf = memchr(p + i, '\n', len - i);
    size_t n;
    if (lf == NULL) abort();
    n = (size_t)(lf - (p + i));
    if (n == 0 || p[i + n - 1] != '\r') abort();
    check_irc_line(p + i, n - 1);
    i += n + 1;
  }
}

/* Unmasked final text frames, each one IRC line without its line ending. */
static void check_ws(const unsigned char* p, size_t len) {
  size_t i = 0;
  if (len == 0) abort();
  while (i < len) {
    uint64_t n;
    if (len - i < 2 || p[i] != (0x80 | UVC_WS_TEXT) || (p[i + 1] & 0x80)) abort();
    n = p[i + 1] & 0x7F;
    i += 2;
    if (n == 126) {
      if (len - i < 2) abort();
      n = ((uint64_t)p[i] << 8) | p[i + 1];
      if (n < 126) abort();
      i += 2;
    } else if (n == 127) {
      abort(); /* no IRC line is that long */
    }
    if (n > len - i) abort();
    check_irc_line(p + i, (size_t)n);
    if (!fuzz_utf8_ok(p + i, (size_t)n)) abort(); /* a text frame must be UTF-8: browsers drop it */
    i += (size_t)n;
  }
}

static void deliver(void* ud, uvc_session_t* s, uvc_msg_t* m) {
  const unsigned char* p = (const unsigned char*)m->data;
  (void)ud;
  if (trace) {
    fprintf(stderr, "-> %d: ", (int)(UVC_CONTAINER_OF(s, user_t, s) - users));
    fwrite(p, 1, m->len, stderr);
  }
  if (s->adapter == &uvc_irc_adapter) {
    check_irc(p, m->len);
  } else if (s->adapter == &uvc_irc_ws_text_adapter) {
    check_ws(p, m->len);
  } else {
    if (m->len < 2 || p[m->len - 2] != '\r' || p[m->len - 1] != '\n') abort();
    if (memchr(p, '\n', m->len - 1) != NULL || memchr(p, '\r', m->len - 2) != NULL) abort();
    fuzz_check_clean(p, m->len - 2, 0);
  }
}

static void request_close(void* ud, uvc_session_t* s, uvc_leave_t why, const char* text,
                          size_t len) {
  (void)ud;
  (void)why;
  (void)text;
  (void)len;
  UVC_CONTAINER_OF(s, user_t, s)->closing = 1;
}

static int64_t wallclock(void* ud) {
  (void)ud;
  return 1700000000;
}

/* ---- Accounts and operators: every account's password is "pw"; the operator is "admin"
 * with password "pw". Answers come before the next line, as from the loop. ---------------- */

static void fake_start(void* ud, uvc_session_t* s, uvc_auth_op_t op, const char* name, size_t nlen,
                       const char* a, size_t alen, const char* b, size_t blen) {
  user_t* u = UVC_CONTAINER_OF(s, user_t, s);
  (void)ud;
  (void)b;
  (void)blen;
  if (u->pending) {
    s->adapter->on_auth(&core, s, op, UVC_EAUTH_BUSY, NULL, "busy");
    return;
  }
  if (op == UVC_AUTH_LOGOUT) { /* answered at once, as the real module does */
    const char* acct = uvc_session_account(s);
    char copy[UVC_NICK_MAX + 1];
    if (acct == NULL) {
      s->adapter->on_auth(&core, s, op, UVC_EAUTH_NOT_LOGGED_IN, NULL, NULL);
      return;
    }
    memcpy(copy, acct, strlen(acct) + 1);
    s->adapter->on_auth(&core, s, op, 0, copy, NULL);
    uvc_core_logout(&core, s);
    return;
  }
  if (name == NULL || nlen > UVC_NICK_MAX) nlen = 0;
  if (nlen > 0) memcpy(u->name, name, nlen);
  u->nlen = nlen;
  u->pwlen = alen < sizeof(u->pw) ? alen : sizeof(u->pw);
  if (u->pwlen > 0) memcpy(u->pw, a, u->pwlen);
  u->pwlen = alen; /* a longer password is a wrong one */
  u->op = op;
  u->pending = 1;
}

static void fake_forget(void* ud, uvc_session_t* s) {
  (void)ud;
  UVC_CONTAINER_OF(s, user_t, s)->pending = 0;
}

static const uvc_auth_ops_t kFakeAuth = {.start = fake_start, .forget = fake_forget};

static void answer(user_t* u) {
  uvc_session_t* s = &u->s;
  int good = u->pwlen == 2 && memcmp(u->pw, "pw", 2) == 0;
  const char* acct = uvc_session_account(s);
  u->pending = 0;
  switch (u->op) {
    case UVC_AUTH_OPER:
      if (u->nlen != 5 || memcmp(u->name, "admin", 5) != 0 || !good) {
        s->adapter->on_auth(&core, s, u->op, UVC_EOPER_FAILED, NULL, NULL);
      } else {
        uvc_core_set_oper(&core, s, "admin", 5);
        s->adapter->on_auth(&core, s, u->op, 0, "admin", NULL);
      }
      break;
    case UVC_AUTH_REGISTER:
      if (!s->present) {
        s->adapter->on_auth(&core, s, u->op, UVC_ENOT_PRESENT, NULL, NULL);
      } else if (acct != NULL || uvc_core_registered(&core, s->nick, s->nick_len) != NULL) {
        s->adapter->on_auth(&core, s, u->op, UVC_EAUTH_EXISTS, NULL, "already registered");
      } else {
        char nick[UVC_NICK_MAX + 1];
        memcpy(nick, s->nick, s->nick_len + 1);
        (void)uvc_core_add_registered(&core, nick, strlen(nick));
        (void)uvc_core_login(&core, s, nick, strlen(nick));
        s->adapter->on_auth(&core, s, u->op, 0, nick, NULL);
      }
      break;
    case UVC_AUTH_LOGIN:
      if (acct != NULL) {
        s->adapter->on_auth(&core, s, u->op, UVC_EAUTH_LOGGED_IN, acct, "logged in");
      } else if (!good || u->nlen == 0 || !uvc_nick_valid(u->name, u->nlen)) {
        s->adapter->on_auth(&core, s, u->op, UVC_EAUTH_FAILED, NULL, "wrong password");
      } else {
        (void)uvc_core_add_registered(&core, u->name, u->nlen);
        if (uvc_core_set_account(&core, s, u->name, u->nlen) != 0) abort();
        s->adapter->on_auth(&core, s, u->op, 0, uvc_session_account(s), NULL);
        if (!u->closing) (void)uvc_core_take_account_nick(&core, s);
      }
      break;
    case UVC_AUTH_PASSWD:
      s->adapter->on_auth(&core, s, u->op, acct != NULL && good ? 0 : UVC_EAUTH_FAILED, acct, NULL);
      break;
    case UVC_AUTH_UNREGISTER:
      if (acct == NULL || !good) {
        s->adapter->on_auth(&core, s, u->op, UVC_EAUTH_FAILED, NULL, NULL);
      } else {
        char name[UVC_NICK_MAX + 1];
        memcpy(name, acct, strlen(acct) + 1);
        uvc_core_remove_registered(&core, name, strlen(name));
        uvc_core_logout(&core, s);
        s->adapter->on_auth(&core, s, u->op, 0, name, NULL);
      }
      break;
    default:
      abort();
  }
}

static void open_user(int u) {
  memset(&users[u], 0, sizeof(users[u]));
  uvc_session_init(&users[u].s, kAdapters[u]);
  kAdapters[u]->on_open(&core, &users[u].s);
}

/* What the connection layer does when a session ends. */
static void close_user(int u) {
  uvc_core_leave(&core, &users[u].s, UVC_LEAVE_CLOSED, NULL, 0);
  uvc_core_forget(&core, &users[u].s);
  if (kAdapters[u]->on_free != NULL) kAdapters[u]->on_free(&core, &users[u].s);
}

/* Input: lines separated by LF; the first byte of each line picks who types it (its value
 * modulo 4). A first byte of 0xF8 and above tells that user it is slowed (flood control),
 * 0xF0..0xF7 is its connection going quiet (on_idle), 0xE0..0xEF its connection closing (with
 * a farewell below 0xE8), and a new one taking its place. */
int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  uvc_core_config_t cfg = {.default_room = "#lobby", .max_line = 512, .server_name = "uvchat"};
  uvc_core_hooks_t hooks = {
      .deliver = deliver, .request_close = request_close, .wallclock = wallclock};
  size_t i = 0;
  int u;
  if (trace < 0) trace = getenv("FUZZ_TRACE") != NULL;
  if (uvc_core_init(&core, &cfg, &hooks, NULL) != 0) abort();
  core.auth = &kFakeAuth;
  core.opers = &kFakeAuth;
  for (u = 0; u < N_USERS; u++)
    open_user(u);
  while (i < size) {
    const uint8_t* lf = memchr(data + i, '\n', size - i);
    size_t end = lf ? (size_t)(lf - data) : size;
    for (u = 0; u < N_USERS; u++) {
      if (users[u].pending) answer(&users[u]);
      if (users[u].closing) {
        close_user(u);
        open_user(u);
      }
    }
    if (end > i) {
      unsigned sel = data[i];
      user_t* who = &users[sel % N_USERS];
      const uvc_adapter_t* a = who->s.adapter;
      size_t len = end - i - 1;
      size_t max = a->max_line ? a->max_line : 512;
      if (sel >= 0xF8) {
        if (a->on_slowed != NULL) a->on_slowed(&core, &who->s, 5);
      } else if (sel >= 0xF0) {
        if (a->on_idle != NULL) a->on_idle(&core, &who->s);
      } else if (sel >= 0xE8) {
        who->closing = 1;
      } else if (sel >= 0xE0) { /* a timeout: the client is told first */
        if (a->on_farewell != NULL) a->on_farewell(&core, &who->s, UVC_LEAVE_IDLE, "timed out");
        who->closing = 1;
      } else if (a == &uvc_irc_ws_text_adapter && !fuzz_utf8_ok(data + i + 1, len)) {
        /* web.c closes a WebSocket whose text message is not UTF-8: no such line comes */
      } else if (len > max) { /* the framer's limit */
        if (a->on_toolong != NULL) a->on_toolong(&core, &who->s);
      } else {
        a->on_line(&core, &who->s, (const char*)data + i + 1, len);
      }
    }
    i = end + 1;
  }
  for (u = 0; u < N_USERS; u++)
    close_user(u);
  uvc_core_free(&core);
  return 0;
}
