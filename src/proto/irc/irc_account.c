/* irc_account.c: accounts for IRC users: the server password (PASS), SASL PLAIN
 * (AUTHENTICATE), the NickServ service, and the answers of account operations. */
#include "irc_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "uvchat/words.h"
#ifdef UVCHAT_WITH_ACCOUNTS
#include <sodium.h>
#endif

/* PASS: remembered as matching or not (compared in constant time); checked when
 * registration completes. */
void irc_cmd_pass(uvc_core_t* core, uvc_session_t* s, irc_state_t* st, const uvc_irc_msg_t* m) {
  (void)s;
  if (uvc_core_check_password(core, m->params[0].p, m->params[0].n))
    st->flags |= IRC_PASS_OK;
  else
    st->flags &= (uint16_t)~IRC_PASS_OK;
}

/* The client's nick!user@host for 900 and 901, or "*" before a nick was asked for. */
static void mask_of(const uvc_core_t* core, const uvc_session_t* s, char* out, size_t cap) {
  if (s->nick_len == 0 && !s->present)
    snprintf(out, cap, "*");
  else
    snprintf(out, cap, "%s!%s@%s", s->nick, s->user[0] != '\0' ? s->user : "*",
             uvc_core_server_name(core));
}

/* 900 RPL_LOGGEDIN for account. */
static void logged_in(uvc_core_t* core, uvc_session_t* s, const char* account) {
  char mask[UVC_NICK_MAX + UVC_USER_MAX + 64];
  mask_of(core, s, mask, sizeof(mask));
  irc_num(core, s, RPL_LOGGEDIN, mask, account, account);
}

/* 901 RPL_LOGGEDOUT. */
static void logged_out(uvc_core_t* core, uvc_session_t* s) {
  char mask[UVC_NICK_MAX + UVC_USER_MAX + 64];
  mask_of(core, s, mask, sizeof(mask));
  irc_num(core, s, RPL_LOGGEDOUT, mask);
}

/* A NOTICE from NickServ to s. */
#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
void
irc_ns_notice(uvc_core_t* core, uvc_session_t* s, const char* fmt, ...) {
  char buf[BUF_SIZE];
  va_list ap;
  int head =
      snprintf(buf, sizeof(buf), ":" NICKSERV "!service@%s NOTICE %s :", uvc_core_server_name(core),
               irc_client(s));
  size_t n;
  if (head < 0 || head >= (int)sizeof(buf)) return;
  va_start(ap, fmt);
  n = irc_vformat(buf, (size_t)head, fmt, ap);
  va_end(ap);
  irc_send_buf(core, s, buf, n);
}

/* Starts an account operation for s on behalf of SASL (ns 0) or NickServ (ns 1); the
 * answer comes in irc_on_auth. */
static void auth_start(uvc_core_t* core, uvc_session_t* s, irc_state_t* st, int ns,
                       uvc_auth_op_t op, const char* name, size_t nlen, const char* a, size_t alen,
                       const char* b, size_t blen) {
  st->flags |= IRC_AUTH_BUSY;
  if (ns)
    st->flags |= IRC_AUTH_NS;
  else
    st->flags &= (uint16_t)~IRC_AUTH_NS;
  uvc_core_auth(core, s, op, name, nlen, a, alen, b, blen);
}

/* Forgets the pieces of a SASL payload collected so far (wiped: they hold a password). */
void irc_sasl_reset(irc_state_t* st) {
  if (st->sasl != NULL) {
    uvc_wipe(st->sasl, SASL_MAX);
    free(st->sasl);
  }
  st->sasl = NULL;
  st->sasl_len = 0;
  st->flags &= (uint16_t)~IRC_SASL_WAIT;
}

/* Checks the collected PLAIN payload (base64 of authzid NUL authcid NUL password; an authzid
 * must be empty or equal the authcid) and starts the login. */
static void sasl_plain(uvc_core_t* core, uvc_session_t* s, irc_state_t* st) {
#ifdef UVCHAT_WITH_ACCOUNTS
  unsigned char raw[SASL_MAX * 3 / 4];
  size_t len = 0, i, j;
  if (st->sasl_len == 0 || sodium_base642bin(raw, sizeof(raw), st->sasl, st->sasl_len, NULL, &len,
                                             NULL, sodium_base64_VARIANT_ORIGINAL) != 0) {
    irc_num(core, s, ERR_SASLFAIL_WHY, "malformed PLAIN credentials");
    sodium_memzero(raw, sizeof(raw));
    return;
  }
  for (i = 0; i < len && raw[i] != '\0'; i++) {
  }
  for (j = i + 1; j < len && raw[j] != '\0'; j++) {
  }
  if (j >= len ||
      (i > 0 && !uvc_name_eq((const char*)raw, i, (const char*)raw + i + 1, j - i - 1))) {
    irc_num(core, s, ERR_SASLFAIL_WHY, "malformed PLAIN credentials");
  } else {
    auth_start(core, s, st, 0, UVC_AUTH_LOGIN, (const char*)raw + i + 1, j - i - 1,
               (const char*)raw + j + 1, len - j - 1, NULL, 0);
  }
  sodium_memzero(raw, sizeof(raw));
#else
  (void)st;
  irc_num(core, s, ERR_SASLFAIL_WHY, uvc_strerror(UVC_EAUTH_UNAVAILABLE));
#endif
}

/* AUTHENTICATE (SASL, IRCv3): PLAIN only. "AUTHENTICATE PLAIN" is answered "AUTHENTICATE +";
 * then the base64 payload comes in pieces of 400 bytes: a piece of exactly 400 means more
 * follows, the last is shorter (or "+" when the payload filled its last piece). 903 or 904
 * follow once the password is checked; 905 for a piece over 400 bytes or a payload longer
 * than any credentials (SASL_MAX), 906 for "AUTHENTICATE *", 907 once logged in, 908 and 904
 * for another mechanism. */
void irc_cmd_authenticate(uvc_core_t* core, uvc_session_t* s, irc_state_t* st,
                          const uvc_irc_msg_t* m) {
  const uvc_irc_str_t* p = &m->params[0];
  if (p->n == 1 && p->p[0] == '*') {
    irc_sasl_reset(st);
    irc_num(core, s, ERR_SASLABORTED);
    return;
  }
  if (st->flags & IRC_AUTH_BUSY) {
    irc_num(core, s, ERR_SASLFAIL_WHY, "an account operation is already under way");
    return;
  }
  if (!(st->flags & IRC_SASL_WAIT)) { /* the mechanism */
    if (uvc_session_account(s) != NULL) {
      irc_num(core, s, ERR_SASLALREADY);
    } else if (!uvc_core_has_accounts(core)) {
      irc_num(core, s, ERR_SASLFAIL_WHY, uvc_strerror(UVC_EAUTH_UNAVAILABLE));
    } else if (!irc_str_eq(p, "PLAIN")) {
      irc_num(core, s, RPL_SASLMECHS);
      irc_num(core, s, ERR_SASLFAIL);
    } else {
      st->flags |= IRC_SASL_WAIT;
      irc_sendf(core, s, "AUTHENTICATE +");
    }
    return;
  }
  if (p->n > SASL_CHUNK || (p->n == SASL_CHUNK && st->sasl_len + SASL_CHUNK >= SASL_MAX)) {
    irc_sasl_reset(st); /* a piece too long, or a payload longer than any credentials */
    irc_num(core, s, ERR_SASLTOOLONG);
    return;
  }
  if (!(p->n == 1 && p->p[0] == '+')) { /* "+" alone: nothing more (or an empty payload) */
    if (st->sasl == NULL && (st->sasl = malloc(SASL_MAX)) == NULL) {
      irc_sasl_reset(st);
      irc_num(core, s, ERR_SASLFAIL_WHY, uvc_strerror(UVC_ENOMEM));
      return;
    }
    memcpy(st->sasl + st->sasl_len, p->p, p->n);
    st->sasl_len = (uint16_t)(st->sasl_len + p->n);
    if (p->n == SASL_CHUNK) return; /* more follows */
  }
  sasl_plain(core, s, st);
  irc_sasl_reset(st);
}

/* NickServ's help. */
static void ns_help(uvc_core_t* core, uvc_session_t* s) {
  irc_ns_notice(core, s, "NickServ keeps registered nicks. Commands:");
  irc_ns_notice(core, s,
                "  REGISTER password          register your current nick; you are then logged in");
  irc_ns_notice(
      core, s, "  IDENTIFY [account] password  log in (to your current nick's account by default)");
  irc_ns_notice(core, s,
                "  LOGOUT                     log out; a registered nick you hold is given up");
  irc_ns_notice(core, s,
                "  SET PASSWORD old new       change your account's password (\"quote\" spaces)");
  irc_ns_notice(core, s, "  DROP password              delete your account");
  irc_ns_notice(core, s, "Clients can also log in at connection time with SASL PLAIN.");
}

/* Whether word w is the keyword k (any case). */
static int is_word(const uvc_slice_t* w, const char* k) {
  return uvc_name_eq(w->p, w->n, k, strlen(k));
}

/* PRIVMSG NickServ :COMMAND args: the account service of IRC users (words separated by
 * spaces; SET PASSWORD also takes "quoted" passwords with spaces). The text, with its password,
 * is cleaned into the core's scratch buffer, and wiped there once handled. */
void irc_nickserv(uvc_core_t* core, uvc_session_t* s, irc_state_t* st, const uvc_irc_str_t* t) {
  char* text = uvc_core_scratch(core);
  size_t len = uvc_clean_text(t->p, t->n, text, 0);
  uvc_slice_t w[4];
  int n = uvc_split_words(text, len, 4, 0, w);
  char word[ECHO_MAX + 1];
  if (n == 0 || is_word(&w[0], "HELP")) {
    ns_help(core, s);
  } else if (!uvc_core_has_accounts(core)) {
    irc_ns_notice(core, s, "%s", uvc_strerror(UVC_EAUTH_UNAVAILABLE));
  } else if (st->flags & IRC_AUTH_BUSY) {
    irc_ns_notice(core, s, "%s; wait for its answer", uvc_strerror(UVC_EAUTH_BUSY));
  } else if (is_word(&w[0], "REGISTER")) { /* REGISTER password [email] */
    if (n < 2 || n > 3)
      irc_ns_notice(core, s, "Syntax: REGISTER password");
    else
      auth_start(core, s, st, 1, UVC_AUTH_REGISTER, NULL, 0, w[1].p, w[1].n, NULL, 0);
  } else if (is_word(&w[0], "IDENTIFY")) {
    if (n == 2)
      auth_start(core, s, st, 1, UVC_AUTH_LOGIN, s->nick, s->nick_len, w[1].p, w[1].n, NULL, 0);
    else if (n == 3)
      auth_start(core, s, st, 1, UVC_AUTH_LOGIN, w[1].p, w[1].n, w[2].p, w[2].n, NULL, 0);
    else
      irc_ns_notice(core, s, "Syntax: IDENTIFY [account] password");
  } else if (is_word(&w[0], "LOGOUT")) {
    auth_start(core, s, st, 1, UVC_AUTH_LOGOUT, NULL, 0, NULL, 0, NULL, 0);
  } else if (is_word(&w[0], "SET")) { /* SET PASSWORD old new: "quoted" with spaces */
    uvc_slice_t pw[2];
    n = uvc_split_words(text, len, 3, 1, w);
    if (n != 3 || !is_word(&w[1], "PASSWORD") ||
        uvc_split_quoted((char*)w[2].p, w[2].n, 2, pw) != 2)
      irc_ns_notice(core, s,
                    "Syntax: SET PASSWORD old new (a password with spaces goes in double quotes: "
                    "SET PASSWORD \"old words\" \"new words\")");
    else
      auth_start(core, s, st, 1, UVC_AUTH_PASSWD, NULL, 0, pw[0].p, pw[0].n, pw[1].p, pw[1].n);
  } else if (is_word(&w[0], "DROP")) {
    if (n != 2)
      irc_ns_notice(core, s, "Syntax: DROP password");
    else
      auth_start(core, s, st, 1, UVC_AUTH_UNREGISTER, NULL, 0, w[1].p, w[1].n, NULL, 0);
  } else {
    irc_ns_notice(core, s, "Unknown command %s; /msg NickServ HELP lists them",
                  irc_echo(w[0].p, w[0].n, word));
  }
  uvc_wipe(text, len);
}

/* The answer to an account operation: SASL numerics for a SASL login, NickServ notices
 * (and 900/901) for the rest, including being logged out because someone deleted the
 * account. A registration that waited for the answer goes on. */
void irc_on_auth(uvc_core_t* core, uvc_session_t* s, uvc_auth_op_t op, int status,
                 const char* account, const char* detail) {
  irc_state_t* st = s->proto;
  int sasl;
  if (st == NULL) return;
  if (op == UVC_AUTH_OPER) { /* not an account operation: OPER (irc_oper.c) */
    irc_oper_answer(core, s, status, account, detail);
    return;
  }
  sasl = (st->flags & IRC_AUTH_BUSY) && !(st->flags & IRC_AUTH_NS);
  st->flags &= (uint16_t) ~(IRC_AUTH_BUSY | IRC_AUTH_NS);
  if (account == NULL) account = uvc_session_account(s) != NULL ? uvc_session_account(s) : "*";
  if (sasl) {
    if (status == 0) {
      logged_in(core, s, account);
      irc_num(core, s, RPL_SASLSUCCESS);
      if (detail != NULL) irc_ns_notice(core, s, "%s", detail);
    } else {
      irc_num(core, s, ERR_SASLFAIL_WHY, detail != NULL ? detail : uvc_strerror(status));
    }
  } else if (status != 0) {
    irc_ns_notice(core, s, "%s", detail != NULL ? detail : uvc_strerror(status));
  } else {
    switch (op) {
      case UVC_AUTH_REGISTER:
        irc_ns_notice(core, s, "Account %s registered; you are logged in", account);
        logged_in(core, s, account);
        break;
      case UVC_AUTH_LOGIN:
        irc_ns_notice(core, s, "You are now logged in as %s", account);
        logged_in(core, s, account);
        break;
      case UVC_AUTH_LOGOUT:
        if (detail != NULL)
          irc_ns_notice(core, s, "You are logged out: %s", detail);
        else
          irc_ns_notice(core, s, "You are logged out of %s", account);
        logged_out(core, s);
        detail = NULL;
        break;
      case UVC_AUTH_PASSWD:
        irc_ns_notice(core, s, "The password of %s was changed", account);
        break;
      case UVC_AUTH_UNREGISTER:
        irc_ns_notice(core, s, "Account %s deleted; you are logged out", account);
        logged_out(core, s);
        break;
      case UVC_AUTH_OPER: /* answered above */
        break;
    }
    if (detail != NULL) irc_ns_notice(core, s, "Note: %s", detail);
  }
  if (!s->present) irc_try_register(core, s);
}
