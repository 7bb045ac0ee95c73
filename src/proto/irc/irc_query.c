/* irc_query.c: questions about the server and its users: WHO, WHOIS, LIST, ISON,
 * USERHOST, MOTD, LUSERS, VERSION, and the replies of the greeting (005, LUSERS, MOTD). */
#include "irc_int.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

void irc_send_isupport(uvc_core_t* core, uvc_session_t* s) {
  irc_num(core, s, RPL_ISUPPORT_1, UVC_AWAY_MAX, UVC_ROOMS_PER_USER, UVC_ROOM_MAX, UVC_REASON_MAX,
          MODES_MAX, uvc_core_server_name(core), UVC_NICK_MAX, UVC_TOPIC_MAX, UVC_USER_MAX);
  irc_num(core, s, RPL_ISUPPORT_2, UVC_LIST_MAX, TARGETS_MAX, TARGETS_MAX, TARGETS_MAX);
  irc_num(core, s, RPL_ISUPPORT_3, UVC_WATCH_MAX, REALNAME_MAX);
}

/* 251, 254, 255, 265 and 266: people, rooms, connections, now and at most (one server:
 * local and global are the same). */
void irc_send_lusers(uvc_core_t* core, uvc_session_t* s) {
  unsigned all = uvc_core_present_count(core), max = uvc_core_max_present(core);
  unsigned inv = uvc_core_invisible(core) < all ? uvc_core_invisible(core) : all;
  irc_num(core, s, RPL_LUSERCLIENT, all - inv, inv);
  irc_num(core, s, RPL_LUSERCHANNELS, uvc_core_room_count(core));
  irc_num(core, s, RPL_LUSERME, all);
  irc_num(core, s, RPL_LOCALUSERS, all, max, all, max);
  irc_num(core, s, RPL_GLOBALUSERS, all, max, all, max);
}

/* The message of the day, a 372 per line (cleaned, cut to fit), or 422 without one. */
void irc_send_motd(uvc_core_t* core, uvc_session_t* s) {
  const char* p = uvc_core_motd(core);
  if (p == NULL) {
    irc_num(core, s, ERR_NOMOTD);
    return;
  }
  irc_num(core, s, RPL_MOTDSTART, uvc_core_server_name(core));
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

/* ---- WHO ---------------------------------------------------------------------------- */

/* What a WHO asks for: WHOX fields (%tcuihsnfdlaor and a token), operators only. */
typedef struct who_query {
  unsigned fields;           /* WHOX: one bit per letter of kWhoxFields; 0: a plain WHO (352) */
  char token[4];             /* WHOX: the query type, up to 3 digits (empty: none given) */
  int opers;                 /* the "o" flag: server operators only */
  unsigned shown;            /* replies so far */
  uvc_core_t* core;          /* for the mask walk */
  uvc_session_t* s;          /* who asks */
  const uvc_irc_str_t* mask; /* for the mask walk */
} who_query_t;

/* The WHOX fields, in the order their values are sent. */
static const char kWhoxFields[] = "tcuihsnfdlaor";

/* Reads WHO's second parameter: "o", or "%fields[,token]" (WHOX), or both ("o%nt,1"). */
static void who_options(const uvc_irc_str_t* p, who_query_t* q) {
  size_t i = 0, k = 0;
  while (i < p->n && p->p[i] != '%') {
    if (p->p[i] == 'o') q->opers = 1;
    i++;
  }
  if (i == p->n) return;
  for (i++; i < p->n && p->p[i] != ','; i++) {
    const char* f = memchr(kWhoxFields, p->p[i], sizeof(kWhoxFields) - 1);
    if (f != NULL) q->fields |= 1u << (f - kWhoxFields);
  }
  q->fields |= 1u << 31; /* a WHOX query even with no known field */
  for (i++; i < p->n && k < sizeof(q->token) - 1; i++)
    if (p->p[i] >= '0' && p->p[i] <= '9') q->token[k++] = p->p[i];
  q->token[k] = '\0';
}

/* Whether u is a server operator (IRC user mode +o; text users can be operators too). */
static int is_oper(const uvc_session_t* u) {
  return (u->umodes & UVC_USER_OPER) != 0;
}

/* One reply: 352, or 354 with the WHOX fields asked for; u as seen in room (NULL: none). */
static void who_line(who_query_t* q, const uvc_room_t* room, const uvc_session_t* u) {
  uvc_core_t* core = q->core;
  char flags[8], buf[BUF_SIZE];
  size_t n = 0;
  int i, len;
  flags[n++] = uvc_session_away(u) != NULL ? 'G' : 'H';
  if (is_oper(u)) flags[n++] = '*';
  flags[n] = '\0';
  if (room != NULL) snprintf(flags + n, sizeof(flags) - n, "%s", irc_prefixes(q->s, u, room));
  q->shown++;
  if (q->fields == 0) {
    irc_num(core, q->s, RPL_WHOREPLY, room != NULL ? room->name : "*", u->user,
            uvc_core_server_name(core), uvc_core_server_name(core), u->nick, flags,
            irc_realname_of(u));
    return;
  }
  len = snprintf(buf, sizeof(buf), ":%s %03d %s", uvc_core_server_name(core),
                 IRC_CODE(RPL_WHOSPCRPL), irc_client(q->s));
  n = len > 0 ? (size_t)len : 0;
  for (i = 0; kWhoxFields[i] != '\0'; i++) {
    const char* v;
    if (!(q->fields & (1u << i))) continue;
    switch (kWhoxFields[i]) {
      case 't':
        v = q->token[0] != '\0' ? q->token : "0";
        break;
      case 'c':
        v = room != NULL ? room->name : "*";
        break;
      case 'u':
        v = u->user;
        break;
      case 'i':
        v = "255.255.255.255"; /* addresses are never shown */
        break;
      case 'h':
        v = uvc_core_server_name(core);
        break;
      case 's':
        v = uvc_core_server_name(core);
        break;
      case 'n':
        v = u->nick;
        break;
      case 'f':
        v = flags;
        break;
      case 'd':
        v = "0"; /* hops: one server */
        break;
      case 'l':
        v = "0"; /* idle seconds are not kept */
        break;
      case 'a':
        v = uvc_session_account(u) != NULL ? uvc_session_account(u) : "0";
        break;
      case 'o':
        v = "n/a";
        break;
      default: /* 'r', always the last */
        v = irc_realname_of(u);
        break;
    }
    len = snprintf(buf + n, sizeof(buf) - n, " %s%s", kWhoxFields[i] == 'r' ? ":" : "", v);
    if (len > 0) n = n + (size_t)len < sizeof(buf) ? n + (size_t)len : sizeof(buf) - 1;
  }
  irc_send_buf(core, q->s, buf, n);
}

/* Whether u answers a WHO mask: its nick, user name, host, server or real name matches. */
static int who_matches(const uvc_core_t* core, const uvc_irc_str_t* mask, const uvc_session_t* u) {
  const char* real = irc_realname_of(u);
  return uvc_mask_match(mask->p, mask->n, u->nick, u->nick_len) ||
         uvc_mask_match(mask->p, mask->n, u->user, strlen(u->user)) ||
         uvc_mask_match(mask->p, mask->n, uvc_core_server_name(core),
                        strlen(uvc_core_server_name(core))) ||
         uvc_mask_match(mask->p, mask->n, uvc_core_server_name(core),
                        strlen(uvc_core_server_name(core))) ||
         uvc_mask_match(mask->p, mask->n, real, strlen(real));
}

/* One present session, for a WHO mask. */
static void who_each(uvc_session_t* u, void* arg) {
  who_query_t* q = arg;
  if (q->shown >= WHO_MAX || !irc_visible_to(q->s, u) || (q->opers && !is_oper(u))) return;
  if (who_matches(q->core, q->mask, u)) who_line(q, uvc_session_room(u), u);
}

/* WHO #room, WHO nick, WHO mask (* and ? against nicks, user names, hosts, server names and
 * real names; "0" and "*" alone: everyone), with the "o" flag and WHOX fields: 352 or 354
 * lines, then 315. Users with +i show only to who shares a room with them; a mask lists at
 * most WHO_MAX people. */
void irc_cmd_who(uvc_core_t* core, uvc_session_t* s, irc_state_t* st, const uvc_irc_msg_t* m) {
  const uvc_irc_str_t* mask = &m->params[0];
  uvc_irc_str_t all = {"*", 1};
  char word[ECHO_MAX + 1];
  who_query_t q;
  (void)st;
  memset(&q, 0, sizeof(q));
  q.core = core;
  q.s = s;
  if (m->n >= 2) who_options(&m->params[1], &q);
  if (mask->n > 0 && mask->p[0] == '#') {
    uvc_room_t* room = uvc_core_room(core, mask->p, mask->n);
    if (room != NULL && uvc_room_visible(room, s)) {
      int in_room = uvc_session_in(s, room) != NULL;
      uint32_t i;
      for (i = 0; i < room->n_members; i++) {
        const uvc_session_t* u = room->members[i];
        if ((in_room || !irc_is_invisible(u)) && uvc_session_listed(u, s) &&
            (!q.opers || is_oper(u)))
          who_line(&q, room, u);
      }
    }
  } else if (uvc_mask_has_wildcard(mask->p, mask->n) || (mask->n == 1 && mask->p[0] == '0')) {
    q.mask = mask->n == 1 && mask->p[0] == '0' ? &all : mask;
    uvc_core_each(core, who_each, &q);
  } else {
    uvc_session_t* u = uvc_core_find(core, mask->p, mask->n);
    if (u != NULL && irc_visible_to(s, u) && (!q.opers || is_oper(u)))
      who_line(&q, uvc_session_room(u), u);
  }
  irc_num(core, s, RPL_ENDOFWHO, irc_echo(mask->p, mask->n, word));
}

/* ---- WHOWAS --------------------------------------------------------------------------- */

/* WHOWAS nick[,nick...] [count]: for each nick (wildcards allowed), its departures newest
 * first, at most count of them (none or not positive: all): 314 and 312 (with the time it
 * went) each, or 406; then 369. */
void irc_cmd_whowas(uvc_core_t* core, uvc_session_t* s, irc_state_t* st, const uvc_irc_msg_t* m) {
  int count = m->n >= 2 ? irc_atoi(&m->params[1]) : 0;
  uvc_irc_str_t item;
  char word[ECHO_MAX + 1];
  size_t pos = 0;
  int targets = 0;
  (void)st;
  if (m->n >= 2 && m->params[1].n > 0 && m->params[1].p[0] == '-') count = 0;
  while (irc_next_item(&m->params[0], &pos, &item) && targets++ < TARGETS_MAX) {
    const uvc_whowas_t* e;
    unsigned k;
    int found = 0;
    irc_echo(item.p, item.n, word);
    for (k = 0; (e = uvc_core_whowas_at(core, k)) != NULL && (count <= 0 || found < count); k++) {
      char when[64];
      time_t t = (time_t)e->when;
      struct tm* tm;
      if (!uvc_mask_match(item.p, item.n, e->nick, strlen(e->nick))) continue;
      found++;
      tm = gmtime(&t);
      if (tm == NULL || strftime(when, sizeof(when), "%a %b %d %H:%M:%S %Y UTC", tm) == 0)
        snprintf(when, sizeof(when), "%lld", (long long)e->when);
      irc_num(core, s, RPL_WHOWASUSER, e->nick, e->user, uvc_core_server_name(core),
              uvc_irc_adapter_is(e->adapter) ? e->realname : TEXT_REALNAME);
      irc_num(core, s, RPL_WHOWASSERVER, e->nick, uvc_core_server_name(core), when);
    }
    if (!found) irc_num(core, s, ERR_WASNOSUCHNICK, word);
    irc_num(core, s, RPL_ENDOFWHOWAS, word);
  }
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
    irc_num(core, s, RPL_WHOISUSER, NICKSERV, "service", uvc_core_server_name(core),
            "Account services");
    irc_num(core, s, RPL_WHOISSERVER, NICKSERV, uvc_core_server_name(core));
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
    irc_num(core, s, RPL_WHOISUSER, u->nick, u->user, uvc_core_server_name(core),
            irc_realname_of(u));
    head = snprintf(buf, sizeof(buf), ":%s %03d %s %s :", uvc_core_server_name(core),
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
    irc_num(core, s, RPL_WHOISSERVER, u->nick, uvc_core_server_name(core));
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
    uvc_room_t* room;
    for (room = uvc_core_room_next(core, NULL); room != NULL; room = uvc_core_room_next(core, room))
      list_line(core, s, room);
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
                   u->user, uvc_core_server_name(core));
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
  irc_num(core, s, RPL_VERSION, VERSION_TEXT, uvc_core_server_name(core));
  irc_send_isupport(core, s);
}
