/* irc_monitor.c: MONITOR (IRCv3): a list of nicks whose coming and going a client is told
 * of (730 online, 731 offline). The core keeps the lists and says when a watched nick comes
 * or goes (uvc_core_watch, the adapter's on_watch). */
#include "irc_int.h"

#include <stdio.h>
#include <string.h>

#define MON_LINE 400 /* bytes of targets in one 730/731/732 line */

/* Collects comma-separated targets, sending a line (code, its format ":%s") when full. */
typedef struct mon_batch {
  uvc_core_t* core;
  uvc_session_t* s;
  int online; /* 730, else 731 (or 732 for the list, see list) */
  int list;
  size_t n;
  char buf[MON_LINE + UVC_NICK_MAX * 2 + 64];
} mon_batch_t;

static void batch_flush(mon_batch_t* b) {
  if (b->n == 0) return;
  b->buf[b->n] = '\0';
  if (b->list)
    irc_num(b->core, b->s, RPL_MONLIST, b->buf);
  else if (b->online)
    irc_num(b->core, b->s, RPL_MONONLINE, b->buf);
  else
    irc_num(b->core, b->s, RPL_MONOFFLINE, b->buf);
  b->n = 0;
}

static void batch_add(mon_batch_t* b, const char* item) {
  size_t len = strlen(item);
  if (b->n > 0 && b->n + 1 + len > MON_LINE) batch_flush(b);
  if (b->n > 0) b->buf[b->n++] = ',';
  memcpy(b->buf + b->n, item, len);
  b->n += len;
}

/* Adds the status of target to on (nick!user@host) or off (the nick). */
static void status_of(uvc_core_t* core, const char* target, size_t len, mon_batch_t* on,
                      mon_batch_t* off) {
  const uvc_session_t* u = uvc_core_find(core, target, len);
  char item[UVC_NICK_MAX * 2 + 64];
  if (u != NULL && !u->unseen) {
    snprintf(item, sizeof(item), "%s!%s@%s", u->nick, u->user, uvc_core_server_name(core));
    batch_add(on, item);
  } else {
    snprintf(item, sizeof(item), "%.*s", (int)len, target);
    batch_add(off, item);
  }
}

static void batches_init(uvc_core_t* core, uvc_session_t* s, mon_batch_t* on, mon_batch_t* off) {
  memset(on, 0, sizeof(*on));
  memset(off, 0, sizeof(*off));
  on->core = off->core = core;
  on->s = off->s = s;
  on->online = 1;
}

/* MONITOR + targets: watch them (734 when the list is full), and say which are online;
 * MONITOR - targets: stop; C: clear; L: the list (732, 733); S: the status of each. */
void irc_cmd_monitor(uvc_core_t* core, uvc_session_t* s, irc_state_t* st, const uvc_irc_msg_t* m) {
  const uvc_irc_str_t* sub = &m->params[0];
  char op = sub->n == 1 ? sub->p[0] : '\0';
  mon_batch_t on, off;
  unsigned i;
  (void)st;
  if ((op == '+' || op == '-') && (m->n < 2 || m->params[1].n == 0)) {
    irc_num(core, s, ERR_NEEDMOREPARAMS, "MONITOR");
    return;
  }
  batches_init(core, s, &on, &off);
  switch (op) {
    case '+': {
      uvc_irc_str_t item;
      size_t pos = 0;
      while (irc_next_item(&m->params[1], &pos, &item)) {
        int err = uvc_core_watch(core, s, item.p, item.n);
        if (err == UVC_EWATCH_FULL) {
          char rest[BUF_SIZE];
          size_t n = m->params[1].n - (size_t)(item.p - m->params[1].p);
          size_t k;
          if (n > 400) n = 400;
          for (k = 0; k < n; k++) /* one parameter of printable ASCII */
            rest[k] = (unsigned char)item.p[k] <= ' ' || (unsigned char)item.p[k] >= 0x7F
                          ? '?'
                          : item.p[k];
          rest[n] = '\0';
          batch_flush(&on);
          batch_flush(&off);
          irc_num(core, s, ERR_MONLISTFULL, UVC_WATCH_MAX, rest);
          return;
        }
        if (err == 0) status_of(core, item.p, item.n, &on, &off);
      }
      break;
    }
    case '-': {
      uvc_irc_str_t item;
      size_t pos = 0;
      while (irc_next_item(&m->params[1], &pos, &item))
        uvc_core_unwatch(core, s, item.p, item.n);
      return;
    }
    case 'C':
    case 'c':
      uvc_core_unwatch_all(core, s);
      return;
    case 'L':
    case 'l':
      on.list = 1;
      for (i = 0; i < uvc_session_watch_count(s); i++)
        batch_add(&on, uvc_session_watched(s, i));
      batch_flush(&on);
      irc_num(core, s, RPL_ENDOFMONLIST);
      return;
    case 'S':
    case 's':
      for (i = 0; i < uvc_session_watch_count(s); i++) {
        const char* nick = uvc_session_watched(s, i);
        status_of(core, nick, strlen(nick), &on, &off);
      }
      break;
    default:
      return; /* an unknown subcommand: nothing, as other servers do */
  }
  batch_flush(&on);
  batch_flush(&off);
}

void irc_on_watch(uvc_core_t* core, uvc_session_t* s, const uvc_session_t* who, const char* nick,
                  size_t len) {
  mon_batch_t on, off;
  if (!s->present) return;
  batches_init(core, s, &on, &off);
  if (who != NULL) {
    char item[UVC_NICK_MAX * 2 + 64];
    snprintf(item, sizeof(item), "%s!%s@%s", who->nick, who->user, uvc_core_server_name(core));
    batch_add(&on, item);
  } else {
    char item[UVC_NICK_MAX + 1];
    snprintf(item, sizeof(item), "%.*s", (int)len, nick);
    batch_add(&off, item);
  }
  batch_flush(&on);
  batch_flush(&off);
}
