/* irc_register.c: connection registration (NICK, USER, CAP negotiation, the greeting),
 * PING/PONG and QUIT. */
#include "irc_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct irc_cap {
  const char* name;
  const char* value; /* shown to CAP LS 302 clients as name=value, or NULL */
  uint32_t bit;      /* 0: listed, never enabled (sts: a policy to read, not to request) */
  uint8_t accounts;  /* offered only where accounts are available */
} irc_cap_t;

/* Every capability offered, sorted by name; each one's whole behaviour is implemented. */
static const irc_cap_t kCaps[] = {{"account-notify", NULL, CAP_ACCOUNT_NOTIFY, 0},
                                  {"account-tag", NULL, CAP_ACCOUNT_TAG, 0},
                                  {"away-notify", NULL, CAP_AWAY_NOTIFY, 0},
                                  {"batch", NULL, CAP_BATCH, 0},
                                  {"cap-notify", NULL, CAP_CAP_NOTIFY, 0},
                                  {"echo-message", NULL, CAP_ECHO_MESSAGE, 0},
                                  {"extended-join", NULL, CAP_EXTENDED_JOIN, 0},
                                  {"invite-notify", NULL, CAP_INVITE_NOTIFY, 0},
                                  {"labeled-response", NULL, CAP_LABELED_RESPONSE, 0},
                                  {"message-tags", NULL, CAP_MESSAGE_TAGS, 0},
                                  {"multi-prefix", NULL, CAP_MULTI_PREFIX, 0},
                                  {"sasl", "PLAIN", CAP_SASL, 1},
                                  {"server-time", NULL, CAP_SERVER_TIME, 0},
                                  {"setname", NULL, CAP_SETNAME, 0},
                                  {"standard-replies", NULL, CAP_STANDARD_REPLIES, 0},
                                  {"sts", NULL, 0, 0}, /* its value: sts_value */
                                  {"userhost-in-names", NULL, CAP_USERHOST_IN_NAMES, 0},
                                  {NULL, NULL, 0, 0}};

/* Completes the registration once NICK and USER are in and no CAP negotiation is open:
 * checks the password, enters the nick into the core, greets, joins the --irc-autojoin room
 * if there is one, and says where the text users are. */
void irc_try_register(uvc_core_t* core, uvc_session_t* s) {
  irc_state_t* st = s->proto;
  char nick[UVC_NICK_MAX + 1];
  char when[64];
  size_t len = s->nick_len;
  time_t started = (time_t)uvc_core_started(core);
  struct tm* tm;
  uvc_room_t* room;
  int err;
  if (s->present || len == 0 || !(st->flags & IRC_GOT_USER) ||
      (st->flags & (IRC_CAP_OPEN | IRC_AUTH_BUSY)))
    return;
  if (uvc_core_has_password(core)) {
    static const char kBad[] = "Password incorrect";
    static const char kWait[] = "Too many wrong passwords";
    uint64_t wait = uvc_core_address_wait(core, s, 0);
    if (wait != 0) { /* the address is throttled: not even the right password counts now */
      irc_num(core, s, ERR_PASSWDTHROTTLED, (unsigned)((wait + 999) / 1000));
      irc_closing_link(core, s, kWait, sizeof(kWait) - 1);
      uvc_core_request_close(core, s, UVC_LEAVE_QUIT, kWait, sizeof(kWait) - 1);
      return;
    }
    if (!(st->flags & IRC_PASS_OK)) {
      (void)uvc_core_address_wait(core, s, 1);
      irc_num(core, s, ERR_PASSWDMISMATCH, kBad);
      irc_closing_link(core, s, kBad, sizeof(kBad) - 1);
      uvc_core_request_close(core, s, UVC_LEAVE_QUIT, kBad, sizeof(kBad) - 1);
      return;
    }
  }
  memcpy(nick, s->nick, len);
  nick[len] = '\0';
  s->nick_len = 0; /* from now on s->nick is the core's */
  s->nick[0] = '\0';
  if (uvc_session_logged_in_as(s, nick, len)) /* SASL: its own nick, even from a ghost */
    (void)uvc_core_reclaim(core, s, nick, len);
  err = uvc_core_enter(core, s, nick, len);
  if (err == UVC_ENICK_TAKEN) {
    irc_num(core, s, ERR_NICKNAMEINUSE, (int)len, nick);
    return;
  }
  if (err == UVC_ENICK_REGISTERED) {
    irc_num(core, s, ERR_NICKREGISTERED_SASL, nick, nick);
    return;
  }
  if (err == UVC_ENICK_INVALID || err == UVC_ENICK_RESERVED) {
    irc_num(core, s, ERR_ERRONEUSNICKNAME, nick);
    return;
  }
  if (err != 0) {
    static const char kNoMem[] = "Server out of memory";
    irc_closing_link(core, s, kNoMem, sizeof(kNoMem) - 1);
    uvc_core_request_close(core, s, UVC_LEAVE_LOST, NULL, 0);
    return;
  }
  if (((irc_state_t*)s->proto)->user[1] == '\0') { /* USER gave nothing usable: "~" + nick */
    char* user = ((irc_state_t*)s->proto)->user;
    size_t n = len < UVC_USER_MAX - 1 ? len : UVC_USER_MAX - 1;
    user[0] = '~';
    memcpy(user + 1, nick, n);
    user[n + 1] = '\0';
  }
  tm = gmtime(&started);
  if (tm == NULL || strftime(when, sizeof(when), "%a %b %d %Y at %H:%M:%S UTC", tm) == 0)
    snprintf(when, sizeof(when), "at %lld", (long long)uvc_core_started(core));
  irc_num(core, s, RPL_WELCOME, uvc_core_server_name(core), s->nick);
  irc_num(core, s, RPL_YOURHOST, uvc_core_server_name(core), VERSION_TEXT);
  irc_num(core, s, RPL_CREATED, when);
  irc_num(core, s, RPL_MYINFO, uvc_core_server_name(core), VERSION_TEXT);
  irc_send_isupport(core, s);
  irc_send_lusers(core, s);
  irc_send_motd(core, s);
  /* IRC clients join what they ask for, unless the server names a room (--irc-autojoin). */
  if (uvc_core_autojoin(core) != NULL &&
      uvc_core_join(core, s, uvc_core_autojoin(core), strlen(uvc_core_autojoin(core)), 1, &room) ==
          0)
    irc_send_joined(core, s, room);
  /* Always last: where the plain-text users are, who cannot go anywhere else at first (a
   * standard reply, NOTE, to a client with standard-replies). */
  if (((irc_state_t*)s->proto)->caps & CAP_STANDARD_REPLIES)
    irc_sendf(core, s,
              ":%s NOTE * TEXT_USERS_ROOM %s :Plain-text users (nc, telnet) talk in %s; JOIN %s "
              "to meet them",
              uvc_core_server_name(core), uvc_core_lobby(core)->name, uvc_core_lobby(core)->name,
              uvc_core_lobby(core)->name);
  else
    irc_sendf(core, s,
              ":%s NOTICE %s :*** Plain-text users (nc, telnet) talk in %s; JOIN %s to meet them",
              uvc_core_server_name(core), s->nick, uvc_core_lobby(core)->name,
              uvc_core_lobby(core)->name);
}

/* The value of the sts capability for s (IRCv3 strict transport security) into out, or
 * NULL when none is offered: without an IRC TLS port, or to a client that cannot read
 * values (before CAP LS 302). Over TLS the policy's duration ("duration=0" withdraws it);
 * in plaintext the port to upgrade to and the duration, unless the policy is withdrawn. */
static const char* sts_value(const uvc_core_t* core, const uvc_session_t* s, const irc_state_t* st,
                             char* out, size_t cap) {
  if (uvc_core_irc_tls_port(core) == 0 || !(st->flags & IRC_CAP_302)) return NULL;
  if (uvc_core_secure(core, s))
    snprintf(out, cap, "duration=%u", (unsigned)uvc_core_sts_duration(core));
  else if (uvc_core_sts_duration(core) > 0)
    snprintf(out, cap, "port=%u,duration=%u", (unsigned)uvc_core_irc_tls_port(core),
             (unsigned)uvc_core_sts_duration(core));
  else
    return NULL;
  return out;
}

/* CAP LS / LIST / REQ / END (IRCv3 capability negotiation). */
void irc_cmd_cap(uvc_core_t* core, uvc_session_t* s, irc_state_t* st, const uvc_irc_msg_t* m) {
  const uvc_irc_str_t* sub = &m->params[0];
  const char* name = uvc_core_server_name(core);
  char list[BUF_SIZE];
  char word[ECHO_MAX + 1];
  size_t n = 0;
  const irc_cap_t* c;
  if (irc_str_eq(sub, "LS") || irc_str_eq(sub, "LIST")) {
    int ls = irc_str_eq(sub, "LS");
    if (ls && !s->present) st->flags |= IRC_CAP_OPEN;
    if (ls && m->n >= 2 && irc_atoi(&m->params[1]) >= 302) {
      st->flags |= IRC_CAP_302;
      st->caps |= CAP_CAP_NOTIFY; /* implied by 302 */
    }
    list[0] = '\0';
    for (c = kCaps; c->name != NULL; c++) {
      char sts[48];
      const char* value = c->value;
      if (!ls && !(st->caps & c->bit)) continue;
      if (c->accounts && !uvc_core_has_accounts(core)) continue;
      if (c->bit == 0 && (value = sts_value(core, s, st, sts, sizeof(sts))) == NULL) continue;
      n += (size_t)snprintf(list + n, sizeof(list) - n, "%s%s%s%s", n ? " " : "", c->name,
                            ls && value && (st->flags & IRC_CAP_302) ? "=" : "",
                            ls && value && (st->flags & IRC_CAP_302) ? value : "");
    }
    irc_sendf(core, s, ":%s CAP %s %s :%s", name, irc_client(s), ls ? "LS" : "LIST", list);
  } else if (irc_str_eq(sub, "REQ")) {
    const uvc_irc_str_t* req = &m->params[1];
    unsigned on = 0, off = 0;
    size_t i = 0;
    int ok = m->n >= 2;
    if (!s->present) st->flags |= IRC_CAP_OPEN;
    while (ok && i < (m->n >= 2 ? req->n : 0)) {
      size_t start, end;
      int neg;
      while (i < req->n && req->p[i] == ' ')
        i++;
      if (i == req->n) break;
      neg = req->p[i] == '-';
      start = i + (size_t)neg;
      end = start;
      while (end < req->n && req->p[end] != ' ')
        end++;
      for (c = kCaps; c->name != NULL; c++)
        if (strlen(c->name) == end - start && memcmp(c->name, req->p + start, end - start) == 0)
          break;
      if (c->name == NULL || c->bit == 0 || (c->accounts && !uvc_core_has_accounts(core))) {
        ok = 0;
      } else if (neg) {
        off |= c->bit;
        on &= ~(unsigned)c->bit;
      } else {
        on |= c->bit;
        off &= ~(unsigned)c->bit;
      }
      i = end;
    }
    if (ok) {
      st->caps = (st->caps | on) & ~off;
      if (st->flags & IRC_CAP_302) st->caps |= CAP_CAP_NOTIFY; /* implied by 302 */
      irc_set_variant(core, s, st, st->caps);
    }
    for (i = 0; m->n >= 2 && i < req->n && n < 400; i++) /* echoed as printable ASCII */
      list[n++] =
          (unsigned char)req->p[i] < ' ' || (unsigned char)req->p[i] >= 0x7F ? '?' : req->p[i];
    irc_sendf(core, s, ":%s CAP %s %s :%.*s", name, irc_client(s), ok ? "ACK" : "NAK", (int)n,
              list);
  } else if (irc_str_eq(sub, "END")) {
    if (!s->present) {
      st->flags &= (uint16_t)~IRC_CAP_OPEN;
      irc_try_register(core, s);
    }
  } else {
    irc_num(core, s, ERR_INVALIDCAPCMD, irc_echo(sub->p, sub->n, word));
  }
}

/* NICK: before registration, asks for a nick; after, renames (the core tells everyone). */
void irc_cmd_nick(uvc_core_t* core, uvc_session_t* s, irc_state_t* st, const uvc_irc_msg_t* m) {
  const uvc_irc_str_t* nick = &m->params[0];
  char word[ECHO_MAX + 1];
  int err;
  (void)st;
  if (nick->n == 0) {
    irc_num(core, s, ERR_NONICKNAMEGIVEN);
    return;
  }
  if (!s->present) {
    if (!uvc_nick_valid(nick->p, nick->n)) {
      irc_num(core, s, ERR_ERRONEUSNICKNAME, irc_echo(nick->p, nick->n, word));
    } else if (uvc_core_reserved(nick->p, nick->n)) {
      irc_num(core, s, ERR_NICKRESERVED, (int)nick->n, nick->p);
    } else if (uvc_core_find(core, nick->p, nick->n) != NULL &&
               uvc_core_registered(core, nick->p, nick->n) == NULL) {
      /* (a registered nick is checked at the end of registration: SASL may log the client
       * in to it before, and then it takes it back even from another connection) */
      irc_num(core, s, ERR_NICKNAMEINUSE, (int)nick->n, nick->p);
    } else {
      memcpy(s->nick, nick->p, nick->n);
      s->nick[nick->n] = '\0';
      s->nick_len = (uint8_t)nick->n;
      irc_try_register(core, s);
    }
    return;
  }
  err = uvc_core_rename(core, s, nick->p, nick->n);
  if (err == UVC_ENICK_INVALID)
    irc_num(core, s, ERR_ERRONEUSNICKNAME, irc_echo(nick->p, nick->n, word));
  else if (err == UVC_ENICK_RESERVED)
    irc_num(core, s, ERR_NICKRESERVED, (int)nick->n, nick->p);
  else if (err == UVC_ENICK_TAKEN)
    irc_num(core, s, ERR_NICKNAMEINUSE, (int)nick->n, nick->p);
  else if (err == UVC_ENICK_REGISTERED)
    irc_num(core, s, ERR_NICKREGISTERED, (int)nick->n, nick->p, (int)nick->n, nick->p);
}

/* Whether c may be part of a user name shown in nick!user@host. */
static int user_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_' || c == '.';
}

/* USER name mode unused :realname. The user name becomes "~name" (cut to fit). */
void irc_cmd_user(uvc_core_t* core, uvc_session_t* s, irc_state_t* st, const uvc_irc_msg_t* m) {
  const uvc_irc_str_t* name = &m->params[0];
  const char* real;
  size_t i, n = 1, rlen;
  irc_state_t* grown;
  st->user[0] = '~';
  for (i = 0; i < name->n && n < UVC_USER_MAX; i++)
    if (user_char(name->p[i])) st->user[n++] = name->p[i];
  st->user[n] = '\0';
  rlen = irc_clean(core, m->params[3].p, m->params[3].n, REALNAME_MAX, &real);
  grown = realloc(st, sizeof(*st) + rlen + 1);
  if (grown != NULL) {
    memcpy(grown->realname, real, rlen);
    grown->realname[rlen] = '\0';
    s->proto = grown;
    s->user = grown->user; /* it moved */
  }
  ((irc_state_t*)s->proto)->flags |= IRC_GOT_USER;
  irc_try_register(core, s);
}

/* SETNAME :realname (IRCv3 setname): a new real name, cleaned, of 1 to REALNAME_MAX bytes
 * with something visible besides formatting codes and spaces.
 * It shows in WHO, WHOIS and, once the nick is gone, WHOWAS. With the setname capability
 * the client gets FAIL SETNAME INVALID_REALNAME for a bad one, and the change as a SETNAME
 * line, which everyone with the capability who shares a room with it gets too; without
 * the capability the command is answered with nothing, as the specification says
 * (historic servers were silent). */
void irc_cmd_setname(uvc_core_t* core, uvc_session_t* s, irc_state_t* st, const uvc_irc_msg_t* m) {
  const char* real;
  size_t rlen = irc_clean(core, m->params[0].p, m->params[0].n, BUF_SIZE, &real);
  int tell = (st->caps & CAP_SETNAME) != 0;
  char visible[UVC_CLEAN_MAX(REALNAME_MAX)];
  irc_state_t* grown;
  /* Blank once the formatting codes are gone (only bold, spaces...): not a name either. */
  if (rlen == 0 || rlen > REALNAME_MAX ||
      uvc_text_is_blank(visible, uvc_clean_text(real, rlen, visible, 0))) {
    if (tell)
      irc_sendf(core, s, ":%s FAIL SETNAME INVALID_REALNAME :Realname is not valid (1 to %d bytes)",
                uvc_core_server_name(core), REALNAME_MAX);
    return;
  }
  grown = realloc(st, sizeof(*st) + rlen + 1);
  if (grown == NULL) {
    if (tell)
      irc_sendf(core, s, ":%s FAIL SETNAME CANNOT_CHANGE_REALNAME :Out of memory",
                uvc_core_server_name(core));
    return;
  }
  memcpy(grown->realname, real, rlen);
  grown->realname[rlen] = '\0';
  s->proto = grown;
  s->user = grown->user; /* it moved */
  uvc_core_realname_changed(core, s, grown->realname, rlen);
}

/* PING token: PONG with the token (cleaned: it comes back as it went, without controls). */
void irc_cmd_ping(uvc_core_t* core, uvc_session_t* s, irc_state_t* st, const uvc_irc_msg_t* m) {
  const char* token;
  size_t len = irc_clean(core, m->params[0].p, m->params[0].n, OUT_MAX, &token);
  (void)st;
  irc_sendf(core, s, ":%s PONG %s :%.*s", uvc_core_server_name(core), uvc_core_server_name(core),
            (int)len, token);
}

/* PONG: nothing to do; any line counts as activity for the connection layer. */
void irc_cmd_pong(uvc_core_t* core, uvc_session_t* s, irc_state_t* st, const uvc_irc_msg_t* m) {
  (void)core;
  (void)s;
  (void)st;
  (void)m;
}

/* QUIT [:reason]: an ERROR line, then the connection layer closes and tells the rooms. */
void irc_cmd_quit(uvc_core_t* core, uvc_session_t* s, irc_state_t* st, const uvc_irc_msg_t* m) {
  const char* text = NULL;
  size_t len = 0;
  char why[UVC_REASON_MAX + 16];
  int n;
  (void)st;
  if (m->n > 0) len = irc_clean(core, m->params[0].p, m->params[0].n, UVC_REASON_MAX, &text);
  n = len > 0 ? snprintf(why, sizeof(why), "Quit: %.*s", (int)len, text)
              : snprintf(why, sizeof(why), "Client Quit");
  irc_closing_link(core, s, why, n > 0 ? (size_t)n : 0);
  uvc_core_request_close(core, s, UVC_LEAVE_QUIT, text, len);
}
