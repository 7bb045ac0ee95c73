/* irc_query.c: questions about the server and its users: WHO, WHOIS, LIST, ISON,
 * USERHOST, MOTD, LUSERS, VERSION, and the replies of the greeting (005, LUSERS, MOTD). */
#include "irc_int.h"

#include <stdio.h>
#include <string.h>

void irc_send_isupport(uvc_core_t* core, uvc_session_t* s) {
  irc_num(core, s, RPL_ISUPPORT_1, UVC_AWAY_MAX, UVC_ROOMS_PER_USER, UVC_ROOM_MAX, UVC_REASON_MAX,
          MODES_MAX, core->server_name, UVC_NICK_MAX, UVC_TOPIC_MAX, UVC_USER_MAX);
  irc_num(core, s, RPL_ISUPPORT_2, UVC_LIST_MAX, TARGETS_MAX, TARGETS_MAX, TARGETS_MAX);
}

/* 251, 254 and 255: people, rooms, connections (one server, no operators). */
void irc_send_lusers(uvc_core_t* core, uvc_session_t* s) {
  uint32_t all = core->n_present;
  uint32_t inv = irc_invisible < all ? irc_invisible : all;
  irc_num(core, s, RPL_LUSERCLIENT, (unsigned)(all - inv), (unsigned)inv);
  irc_num(core, s, RPL_LUSERCHANNELS, (unsigned)HASH_COUNT(core->rooms));
  irc_num(core, s, RPL_LUSERME, (unsigned)all);
}

/* The message of the day, a 372 per line (cleaned, cut to fit), or 422 without one. */
void irc_send_motd(uvc_core_t* core, uvc_session_t* s) {
  const char* p = core->motd;
  if (p == NULL) {
    irc_num(core, s, ERR_NOMOTD);
    return;
  }
  irc_num(core, s, RPL_MOTDSTART, core->server_name);
  while (*p != '\0') {
    const char* nl = strchr(p, '\n');
    size_t n = nl != NULL ? (size_t)(nl - p) : strlen(p);
    const char* text;
    size_t len = uvc_utf8_cut(p, n, OUT_MAX);
    len = irc_clean(core, p, len, OUT_MAX, &text);
    irc_num(core, s, RPL_MOTD, (int)len, text);
    p += n;
    if (*p == '\n') p++;
  }
  irc_num(core, s, RPL_ENDOFMOTD);
}

/* One 352 line: u as seen in room (NULL: in no particular room). */
static void who_line(uvc_core_t* core, uvc_session_t* s, const uvc_room_t* room,
                     const uvc_session_t* u) {
  char flags[8];
  snprintf(flags, sizeof(flags), "%s%s", (u->umodes & UVC_USER_OPER) ? "*" : "",
           irc_prefixes(s, u, room));
  irc_num(core, s, RPL_WHOREPLY, room != NULL ? room->name : "*", u->user, irc_server,
          core->server_name, u->nick, uvc_session_away(u) != NULL ? 'G' : 'H', flags,
          irc_realname_of(u));
}

/* WHO #room or WHO nick (no masks): 352 lines, then 315. */
void irc_cmd_who(uvc_core_t* core, uvc_session_t* s, irc_state_t* st, const uvc_irc_msg_t* m) {
  const uvc_irc_str_t* mask = &m->params[0];
  char word[ECHO_MAX + 1];
  (void)st;
  if (mask->n > 0 && mask->p[0] == '#') {
    uvc_room_t* room = uvc_core_room(core, mask->p, mask->n);
    if (room != NULL && uvc_room_visible(room, s)) {
      int in_room = uvc_session_in(s, room) != NULL;
      uint32_t i;
      for (i = 0; i < room->n_members; i++)
        if ((in_room || !irc_is_invisible(room->members[i])) &&
            uvc_session_listed(room->members[i], s))
          who_line(core, s, room, room->members[i]);
    }
  } else {
    uvc_session_t* u = uvc_core_find(core, mask->p, mask->n);
    if (u != NULL && irc_visible_to(s, u)) who_line(core, s, uvc_session_room(u), u);
  }
  irc_num(core, s, RPL_ENDOFWHO, irc_echo(mask->p, mask->n, word));
}

/* WHOIS [server] nick: 311, 319, 312, 301, 320 (text users), 330 (logged in), 318; 401
 * when nobody. NickServ is a service: 311, 312, 313. */
void irc_cmd_whois(uvc_core_t* core, uvc_session_t* s, irc_state_t* st, const uvc_irc_msg_t* m) {
  const uvc_irc_str_t* target = &m->params[m->n >= 2 ? 1 : 0];
  uvc_session_t* u = uvc_core_find(core, target->p, target->n);
  char word[ECHO_MAX + 1];
  (void)st;
  irc_echo(target->p, target->n, word);
  if (irc_is_nickserv(target)) {
    irc_num(core, s, RPL_WHOISUSER, NICKSERV, "service", irc_server, "Account services");
    irc_num(core, s, RPL_WHOISSERVER, NICKSERV, core->server_name);
    irc_num(core, s, RPL_WHOISSERVICE, NICKSERV);
    irc_num(core, s, RPL_ENDOFWHOIS, NICKSERV);
    return;
  }
  if (u == NULL) {
    irc_num(core, s, ERR_NOSUCHNICK, word);
  } else {
    char buf[BUF_SIZE];
    int head;
    size_t n;
    unsigned r;
    irc_num(core, s, RPL_WHOISUSER, u->nick, u->user, irc_server, irc_realname_of(u));
    head = snprintf(buf, sizeof(buf), ":%s %03d %s %s :", core->server_name,
                    IRC_CODE(RPL_WHOISCHANNELS), irc_client(s), u->nick);
    n = (size_t)head;
    for (r = 0; r < u->n_rooms; r++) {
      const uvc_membership_t* mb = uvc_session_membership_c(u, r);
      const char* pre = irc_prefixes(s, u, mb->room);
      size_t len = mb->room->name_len + strlen(pre);
      if (!uvc_room_visible(mb->room, s)) continue; /* a secret room of someone else's */
      if (n > (size_t)head && n + 1 + len > OUT_MAX) {
        irc_send_buf(core, s, buf, n);
        n = (size_t)head;
      }
      if (n > (size_t)head) buf[n++] = ' ';
      memcpy(buf + n, pre, strlen(pre));
      n += strlen(pre);
      memcpy(buf + n, mb->room->name, mb->room->name_len);
      n += mb->room->name_len;
    }
    if (n > (size_t)head) irc_send_buf(core, s, buf, n);
    irc_num(core, s, RPL_WHOISSERVER, u->nick, core->server_name);
    if (u->umodes & UVC_USER_OPER) irc_num(core, s, RPL_WHOISOPERATOR, u->nick);
    if (uvc_session_away(u) != NULL) irc_num(core, s, RPL_AWAY, u->nick, uvc_session_away(u));
    if (!irc_is_irc(u)) irc_num(core, s, RPL_WHOISTEXT, u->nick);
    if (uvc_session_account(u) != NULL)
      irc_num(core, s, RPL_WHOISACCOUNT, u->nick, uvc_session_account(u));
  }
  irc_num(core, s, RPL_ENDOFWHOIS, word);
}

/* One 322 line. */
static void list_line(uvc_core_t* core, uvc_session_t* s, const uvc_room_t* room) {
  if (!uvc_room_visible(room, s)) return; /* secret (+s), and s is not in it */
  irc_num(core, s, RPL_LIST, room->name, (unsigned)room->n_members,
          room->topic != NULL ? room->topic : "");
}

/* LIST, or LIST #a,#b: 321, 322 per room, 323. A first parameter that is not a channel
 * (an ELIST filter) lists every room. */
void irc_cmd_list(uvc_core_t* core, uvc_session_t* s, irc_state_t* st, const uvc_irc_msg_t* m) {
  (void)st;
  irc_num(core, s, RPL_LISTSTART);
  if (m->n > 0 && m->params[0].n > 0 && m->params[0].p[0] == '#') {
    uvc_irc_str_t item;
    size_t pos = 0;
    while (irc_next_item(&m->params[0], &pos, &item)) {
      uvc_room_t* room = uvc_core_room(core, item.p, item.n);
      if (room != NULL) list_line(core, s, room);
    }
  } else {
    uvc_room_t *room, *tmp;
    HASH_ITER(hh, core->rooms, room, tmp) {
      list_line(core, s, room);
    }
  }
  irc_num(core, s, RPL_LISTEND);
}

/* ISON nick nick...: 303 with those present (the nicks may also come as one parameter). */
void irc_cmd_ison(uvc_core_t* core, uvc_session_t* s, irc_state_t* st, const uvc_irc_msg_t* m) {
  char list[OUT_MAX];
  size_t n = 0;
  int i;
  (void)st;
  for (i = 0; i < m->n; i++) {
    const uvc_irc_str_t* p = &m->params[i];
    size_t k = 0;
    while (k < p->n) {
      size_t start;
      uvc_session_t* u;
      while (k < p->n && p->p[k] == ' ')
        k++;
      start = k;
      while (k < p->n && p->p[k] != ' ')
        k++;
      u = uvc_core_find(core, p->p + start, k - start);
      if (u != NULL && n + 1 + u->nick_len < 400) {
        if (n > 0) list[n++] = ' ';
        memcpy(list + n, u->nick, u->nick_len);
        n += u->nick_len;
      }
    }
  }
  irc_num(core, s, RPL_ISON, (int)n, list);
}

/* USERHOST nick...: 302 with nick=+user@host (- when away) for those present. */
void irc_cmd_userhost(uvc_core_t* core, uvc_session_t* s, irc_state_t* st, const uvc_irc_msg_t* m) {
  char list[OUT_MAX];
  size_t n = 0;
  int i;
  (void)st;
  for (i = 0; i < m->n; i++) {
    uvc_session_t* u = uvc_core_find(core, m->params[i].p, m->params[i].n);
    int len;
    if (u == NULL) continue;
    len = snprintf(list + n, sizeof(list) - n, "%s%s%s=%c%s@%s", n ? " " : "", u->nick,
                   (u->umodes & UVC_USER_OPER) ? "*" : "", uvc_session_away(u) != NULL ? '-' : '+',
                   u->user, irc_server);
    if (len > 0 && (size_t)len < sizeof(list) - n) n += (size_t)len;
  }
  irc_num(core, s, RPL_USERHOST, (int)n, list);
}

/* MOTD: the message of the day again. */
void irc_cmd_motd(uvc_core_t* core, uvc_session_t* s, irc_state_t* st, const uvc_irc_msg_t* m) {
  (void)st;
  (void)m;
  irc_send_motd(core, s);
}

/* LUSERS: the counts of the greeting. */
void irc_cmd_lusers(uvc_core_t* core, uvc_session_t* s, irc_state_t* st, const uvc_irc_msg_t* m) {
  (void)st;
  (void)m;
  irc_send_lusers(core, s);
}

/* VERSION: 351 and the 005 lines. */
void irc_cmd_version(uvc_core_t* core, uvc_session_t* s, irc_state_t* st, const uvc_irc_msg_t* m) {
  (void)st;
  (void)m;
  irc_num(core, s, RPL_VERSION, VERSION_TEXT, core->server_name);
  irc_send_isupport(core, s);
}
