/* irc_message.c: messages: PRIVMSG and NOTICE to rooms and nicks, CTCP, and AWAY. */
#include "irc_int.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

/* A CTCP message: \x01COMMAND[ argument][\x01]. */
typedef struct ctcp {
  char cmd[CTCP_CMD_MAX + 1];
  const char* arg; /* cleaned, in the core's scratch buffer */
  size_t arg_len;
} ctcp_t;

#define CLIENT_TAGS_MAX 4094 /* bytes of client-only tags a message may carry (message-tags) */

/* The client-only tags (+key[=value]) of the message being handled, for the core and the
 * echo; empty when the sender has not enabled message-tags. */
static char g_tags[CLIENT_TAGS_MAX + 1];
static size_t g_tags_len;

/* Whether c may be in a tag's key (after the '+'): letters, digits, '-', '.' and '/'. */
static int key_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '/';
}

/* Whether a tag value p[0..n) may be relayed: UTF-8 (a WebSocket text frame must be) without
 * NUL or CR, as message-tags says (LF, ';' and ' ' cannot be in it). */
static int value_ok(const char* p, size_t n) {
  return memchr(p, '\0', n) == NULL && memchr(p, '\r', n) == NULL && uvc_utf8_valid(p, n);
}

/* Keeps the client-only tags of a tag section in g_tags (values stay escaped as they came):
 * those with a well-formed key and value, as many whole ones as fit in CLIENT_TAGS_MAX. */
static void take_client_tags(const irc_state_t* st, const uvc_irc_str_t* tags) {
  size_t i = 0;
  g_tags_len = 0;
  if (!(st->caps & CAP_MESSAGE_TAGS)) return;
  while (i < tags->n) {
    size_t end = i, k = i + 1;
    while (end < tags->n && tags->p[end] != ';')
      end++;
    while (k < end && tags->p[k] != '=' && key_char(tags->p[k]))
      k++;
    if (tags->p[i] == '+' && k > i + 1 && (k == end || tags->p[k] == '=') &&
        value_ok(tags->p + k, end - k) &&
        g_tags_len + (g_tags_len > 0) + (end - i) <= CLIENT_TAGS_MAX) {
      if (g_tags_len > 0) g_tags[g_tags_len++] = ';';
      memcpy(g_tags + g_tags_len, tags->p + i, end - i);
      g_tags_len += end - i;
    }
    i = end + 1;
  }
}

/* Parses a CTCP message; 0 when the command is not a plain word. */
static int parse_ctcp(uvc_core_t* core, const uvc_irc_str_t* t, ctcp_t* c) {
  size_t i = 1, n = t->n, k = 0;
  const char* end = memchr(t->p + 1, '\x01', n - 1);
  if (end != NULL) n = (size_t)(end - t->p);
  while (i < n && t->p[i] != ' ') {
    char ch = t->p[i++];
    if (k == CTCP_CMD_MAX || !((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
                               (ch >= '0' && ch <= '9') || ch == '_' || ch == '-'))
      return 0;
    c->cmd[k++] = (ch >= 'a' && ch <= 'z') ? (char)(ch - 32) : ch;
  }
  c->cmd[k] = '\0';
  if (k == 0) return 0;
  if (i < n) i++;
  c->arg_len = irc_clean(core, t->p + i, n - i, OUT_MAX, &c->arg);
  return 1;
}

/* Answers a CTCP request to a text user (who cannot) on their behalf: VERSION, PING,
 * CLIENTINFO and TIME; others are dropped. */
static void ctcp_answer(uvc_core_t* core, uvc_session_t* s, const uvc_session_t* u,
                        const ctcp_t* c) {
  char prefix[128];
  char text[BUF_SIZE];
  int n;
  if (strcmp(c->cmd, "VERSION") == 0) {
    n = snprintf(text, sizeof(text), "VERSION %s (a plain-text user; nc or telnet)", VERSION_TEXT);
  } else if (strcmp(c->cmd, "PING") == 0) {
    n = snprintf(text, sizeof(text), "PING %.*s", (int)c->arg_len, c->arg);
  } else if (strcmp(c->cmd, "CLIENTINFO") == 0) {
    n = snprintf(text, sizeof(text), "CLIENTINFO ACTION CLIENTINFO PING TIME VERSION");
  } else if (strcmp(c->cmd, "TIME") == 0) {
    time_t now = (time_t)uvc_core_now(core);
    struct tm* tm = gmtime(&now);
    char when[64];
    if (tm == NULL || strftime(when, sizeof(when), "%a, %d %b %Y %H:%M:%S GMT", tm) == 0) return;
    n = snprintf(text, sizeof(text), "TIME %s", when);
  } else {
    return;
  }
  if (n < 0) return;
  irc_user_prefix(core, prefix, sizeof(prefix), u, u->nick, u->nick_len);
  irc_sendf(core, s, "%s NOTICE %s :\x01%.*s\x01", prefix, s->nick, n, text);
}

/* A CTCP message to one user. IRC users get it as sent (its argument cleaned); for a text
 * user, an ACTION becomes "* nick text" and requests are answered by the server. */
static void ctcp_to_user(uvc_core_t* core, uvc_session_t* s, uvc_session_t* u, const ctcp_t* c,
                         int notice) {
  char text[2 * BUF_SIZE];
  int action = strcmp(c->cmd, "ACTION") == 0, n;
  if (irc_is_irc(u)) {
    n = snprintf(text, sizeof(text), "\x01%s%s%.*s\x01", c->cmd, c->arg_len ? " " : "",
                 (int)c->arg_len, c->arg);
  } else if (action) {
    n = snprintf(text, sizeof(text), "* %s %.*s", s->nick, (int)c->arg_len, c->arg);
  } else {
    if (!notice) ctcp_answer(core, s, u, c); /* a reply to a text user: nobody asked */
    return;
  }
  if (n > 0) {
    size_t len = (size_t)n < sizeof(text) ? (size_t)n : sizeof(text) - 1;
    uvc_core_set_tags(core, g_tags, g_tags_len);
    if (uvc_core_whisper(core, s, u->nick, u->nick_len, text, len, notice, NULL) == 0)
      irc_echo_message(core, s, UVC_EV_PRIVATE, NULL, u, text, len, notice, g_tags, g_tags_len);
  }
}

/* PRIVMSG and NOTICE to rooms and nicks (up to TARGETS_MAX). A NOTICE is never answered
 * with an error. CTCP to a room: ACTION only (text users could not read the others). */
static void message(uvc_core_t* core, uvc_session_t* s, const uvc_irc_msg_t* m, int notice) {
  const uvc_irc_str_t* t = &m->params[1];
  uvc_irc_str_t item;
  char word[ECHO_MAX + 1];
  const char* text = NULL;
  size_t pos = 0, len = 0;
  int is_ctcp = t->n > 0 && t->p[0] == '\x01', count = 0;
  ctcp_t c;
  take_client_tags(s->proto, &m->tags);
  if (is_ctcp) {
    if (!parse_ctcp(core, t, &c)) return;
  } else {
    len = irc_clean(core, t->p, t->n, OUT_MAX, &text);
    if (len == 0) {
      if (!notice) irc_num(core, s, ERR_NOTEXTTOSEND);
      return;
    }
  }
  while (irc_next_item(&m->params[0], &pos, &item)) {
    if (++count > TARGETS_MAX) {
      if (!notice)
        irc_num(core, s, ERR_TOOMANYTARGETS, irc_echo(item.p, item.n, word), TARGETS_MAX);
      return;
    }
    if (item.p[0] == '#') {
      uvc_room_t* room = irc_find_room(core, s, &item, notice);
      int err = 0;
      if (room == NULL) continue;
      uvc_core_set_tags(core, g_tags, g_tags_len);
      if (!is_ctcp) {
        if ((err = uvc_core_say(core, s, room, text, len, notice)) == 0)
          irc_echo_message(core, s, UVC_EV_SAY, room, NULL, text, len, notice, g_tags, g_tags_len);
      } else if (strcmp(c.cmd, "ACTION") == 0) {
        if ((err = uvc_core_act(core, s, room, c.arg, c.arg_len)) == 0)
          irc_echo_message(core, s, UVC_EV_ACTION, room, NULL, c.arg, c.arg_len, 0, g_tags,
                           g_tags_len);
      }
      if (err == UVC_ECANNOT_SEND && !notice) irc_num(core, s, ERR_CANNOTSENDTOCHAN, room->name);
      if (err == UVC_EMODERATED && !notice)
        irc_num(core, s, ERR_CANNOTSENDTOCHAN_WHY, room->name, "+m");
      if (err == UVC_EBANNED && !notice)
        irc_num(core, s, ERR_CANNOTSENDTOCHAN_WHY, room->name, "+b");
    } else if (irc_is_nickserv(&item)) { /* with other targets: the text is not for it */
      if (!notice) irc_ns_notice(core, s, "Send your commands to NickServ alone");
    } else {
      uvc_session_t* u = uvc_core_find(core, item.p, item.n);
      if (u == NULL && !is_ctcp &&
          uvc_core_keep_private(core, s, item.p, item.n, text, len, notice) == 0) {
        /* a registered account nobody is logged in to: kept for its next login */
        irc_sendf(core, s, ":%s NOTICE %s :%s is offline: the message is kept for their next login",
                  uvc_core_server_name(core), s->nick, irc_echo(item.p, item.n, word));
        continue;
      }
      if (u == NULL) {
        if (!notice) irc_num(core, s, ERR_NOSUCHNICK, irc_echo(item.p, item.n, word));
        continue;
      }
      if (is_ctcp) {
        ctcp_to_user(core, s, u, &c, notice);
      } else {
        uvc_core_set_tags(core, g_tags, g_tags_len);
        if (uvc_core_whisper(core, s, u->nick, u->nick_len, text, len, notice, NULL) == 0)
          irc_echo_message(core, s, UVC_EV_PRIVATE, NULL, u, text, len, notice, g_tags, g_tags_len);
      }
      if (!notice && uvc_session_away(u) != NULL)
        irc_num(core, s, RPL_AWAY, u->nick, uvc_session_away(u));
    }
  }
  uvc_core_set_tags(core, NULL, 0);
}

/* TAGMSG targets (message-tags): only the client-only tags, to rooms and nicks (up to
 * TARGETS_MAX); clients without message-tags see nothing of it. */
void irc_cmd_tagmsg(uvc_core_t* core, uvc_session_t* s, irc_state_t* st, const uvc_irc_msg_t* m) {
  uvc_irc_str_t item;
  char word[ECHO_MAX + 1];
  size_t pos = 0;
  int count = 0;
  take_client_tags(st, &m->tags);
  while (irc_next_item(&m->params[0], &pos, &item)) {
    uvc_session_t* u = NULL;
    uvc_room_t* room = NULL;
    int err;
    if (++count > TARGETS_MAX) {
      irc_num(core, s, ERR_TOOMANYTARGETS, irc_echo(item.p, item.n, word), TARGETS_MAX);
      return;
    }
    if (item.p[0] == '#' && (room = irc_find_room(core, s, &item, 0)) == NULL) continue;
    err = uvc_core_tagmsg(core, s, room, item.p, item.n, g_tags, g_tags_len, &u);
    if (err == UVC_ENO_SUCH_NICK)
      irc_num(core, s, ERR_NOSUCHNICK, irc_echo(item.p, item.n, word));
    else if (err == UVC_ECANNOT_SEND)
      irc_num(core, s, ERR_CANNOTSENDTOCHAN, room->name);
    else if (err == 0)
      irc_echo_message(core, s, UVC_EV_TAGMSG, room, u, NULL, 0, 0, g_tags, g_tags_len);
  }
}

/* PRIVMSG targets :text (PRIVMSG NickServ :command goes to the account service). */
void irc_cmd_privmsg(uvc_core_t* core, uvc_session_t* s, irc_state_t* st, const uvc_irc_msg_t* m) {
  if (irc_is_nickserv(&m->params[0]))
    irc_nickserv(core, s, st, &m->params[1]);
  else
    message(core, s, m, 0);
}

/* NOTICE targets :text (no error replies, no away replies; NickServ ignores notices). */
void irc_cmd_notice(uvc_core_t* core, uvc_session_t* s, irc_state_t* st, const uvc_irc_msg_t* m) {
  (void)st;
  if (!irc_is_nickserv(&m->params[0])) message(core, s, m, 1);
}

/* AWAY :text marks away (306); AWAY alone comes back (305). */
void irc_cmd_away(uvc_core_t* core, uvc_session_t* s, irc_state_t* st, const uvc_irc_msg_t* m) {
  const char* text = NULL;
  size_t len = 0;
  (void)st;
  if (m->n > 0) len = irc_clean(core, m->params[0].p, m->params[0].n, UVC_AWAY_MAX, &text);
  if (uvc_core_set_away(core, s, text, len) != 0) return;
  if (len > 0)
    irc_num(core, s, RPL_NOWAWAY);
  else
    irc_num(core, s, RPL_UNAWAY);
}
