/* irc_channel.c: channels: JOIN, PART, TOPIC, NAMES, KICK, and MODE (channel and user
 * modes). */
#include "irc_int.h"

#include <stdio.h>
#include <string.h>

/* 332 and 333 for a room with a topic; 331 without one, unless it answers a JOIN. */
static void send_topic(uvc_core_t* core, uvc_session_t* s, const uvc_room_t* room, int joining) {
  if (room->topic == NULL) {
    if (!joining) irc_num(core, s, RPL_NOTOPIC, room->name);
    return;
  }
  irc_num(core, s, RPL_TOPIC, room->name, room->topic);
  irc_num(core, s, RPL_TOPICWHOTIME, room->name, room->topic_by, (long long)room->topic_at);
}

/* 353 lines (as many as the members need) and 366 for room. Invisible members are left
 * out for someone who is not in the room. */
static void send_names(uvc_core_t* core, uvc_session_t* s, const uvc_room_t* room) {
  char buf[BUF_SIZE];
  const irc_state_t* st = s->proto;
  int in_room = uvc_session_in(s, room) != NULL;
  int full = st != NULL && (st->caps & CAP_USERHOST_IN_NAMES);
  int head = snprintf(buf, sizeof(buf), ":%s %03d %s = %s :", core->server_name,
                      IRC_CODE(RPL_NAMREPLY), irc_client(s), room->name);
  size_t n = (size_t)head;
  uint32_t i;
  for (i = 0; i < room->n_members; i++) {
    const uvc_session_t* u = room->members[i];
    char entry[128];
    int len;
    if ((!in_room && irc_is_invisible(u)) || !uvc_session_listed(u, s)) continue;
    len = snprintf(entry, sizeof(entry), "%s%s%s%s%s%s", uvc_session_is_op(u, room) ? "@" : "",
                   u->nick, full ? "!" : "", full ? u->user : "", full ? "@" : "",
                   full ? irc_server : "");
    if (len < 0 || len >= (int)sizeof(entry)) continue;
    if (n > (size_t)head && n + 1 + (size_t)len > OUT_MAX) {
      irc_send_buf(core, s, buf, n);
      n = (size_t)head;
    }
    if (n > (size_t)head) buf[n++] = ' ';
    memcpy(buf + n, entry, (size_t)len);
    n += (size_t)len;
  }
  if (n > (size_t)head) irc_send_buf(core, s, buf, n);
  irc_num(core, s, RPL_ENDOFNAMES, room->name);
}

/* What a successful JOIN gets after its echo: the topic and the names. A room past the
 * announce limit is not listed on joining (nobody is told of its comings and goings, so a
 * client's list could not stay right, and listing it to each newcomer would cost the
 * square of its size): the names are only the newcomer's, and NAMES lists everyone. */
void irc_send_joined(uvc_core_t* core, uvc_session_t* s, const uvc_room_t* room) {
  send_topic(core, s, room, 1);
  if (core->announce_limit == 0 || room->n_members <= core->announce_limit) {
    send_names(core, s, room);
    return;
  }
  irc_sendf(core, s,
            ":%s NOTICE %s :%s has %u members, too many to list on joining or to announce who "
            "comes and goes; NAMES %s lists them",
            core->server_name, s->nick, room->name, (unsigned)room->n_members, room->name);
  irc_num(core, s, RPL_NAMREPLY, room->name, uvc_session_is_op(s, room) ? "@" : "", s->nick);
  irc_num(core, s, RPL_ENDOFNAMES, room->name);
}

/* JOIN #a,#b [keys] (keys are ignored: there are none); JOIN 0 leaves every room. */
void irc_cmd_join(uvc_core_t* core, uvc_session_t* s, irc_state_t* st, const uvc_irc_msg_t* m) {
  const uvc_irc_str_t* list = &m->params[0];
  uvc_irc_str_t item;
  char word[ECHO_MAX + 1];
  size_t pos = 0;
  int any = 0;
  (void)st;
  if (list->n == 1 && list->p[0] == '0') {
    while (s->n_rooms > 0)
      uvc_core_part(core, s, uvc_session_membership(s, s->n_rooms - 1u)->room, NULL, 0);
    return;
  }
  while (irc_next_item(list, &pos, &item)) {
    uvc_room_t* room;
    int err;
    any = 1;
    if (item.p[0] != '#') {
      irc_num(core, s, ERR_NOSUCHCHANNEL, irc_echo(item.p, item.n, word));
      continue;
    }
    if (uvc_room_problem(item.p, item.n) != NULL) {
      irc_num(core, s, ERR_BADCHANMASK, irc_echo(item.p, item.n, word));
      continue;
    }
    err = uvc_core_join(core, s, item.p, item.n, 1, &room);
    if (err == 0)
      irc_send_joined(core, s, room);
    else if (err == UVC_ETOO_MANY_ROOMS)
      irc_num(core, s, ERR_TOOMANYCHANNELS, (int)item.n, item.p);
    else if (err != UVC_EALREADY_IN_ROOM)
      irc_num(core, s, ERR_UNKNOWNERROR, "JOIN", uvc_strerror(err));
  }
  if (!any) irc_num(core, s, ERR_NEEDMOREPARAMS, "JOIN");
}

/* PART #a,#b [:reason] */
void irc_cmd_part(uvc_core_t* core, uvc_session_t* s, irc_state_t* st, const uvc_irc_msg_t* m) {
  uvc_irc_str_t item;
  const char* text = NULL;
  size_t pos = 0, len = 0;
  (void)st;
  if (m->n > 1) len = irc_clean(core, m->params[1].p, m->params[1].n, UVC_REASON_MAX, &text);
  while (irc_next_item(&m->params[0], &pos, &item)) {
    uvc_room_t* room = irc_find_room(core, s, &item, 0);
    if (room != NULL && uvc_core_part(core, s, room, text, len) == UVC_ENOT_IN_ROOM)
      irc_num(core, s, ERR_NOTONCHANNEL, room->name);
  }
}

/* TOPIC #room: 331 or 332/333. TOPIC #room :text sets it (empty text clears it). */
void irc_cmd_topic(uvc_core_t* core, uvc_session_t* s, irc_state_t* st, const uvc_irc_msg_t* m) {
  uvc_room_t* room = irc_find_room(core, s, &m->params[0], 0);
  const char* text;
  size_t len;
  int err;
  (void)st;
  if (room == NULL) return;
  if (m->n < 2) {
    send_topic(core, s, room, 0);
    return;
  }
  len = irc_clean(core, m->params[1].p, m->params[1].n, UVC_TOPIC_MAX, &text);
  err = uvc_core_set_topic(core, s, room, text, len);
  if (err == UVC_ENOT_IN_ROOM)
    irc_num(core, s, ERR_NOTONCHANNEL, room->name);
  else if (err == UVC_ENOT_OPERATOR)
    irc_num(core, s, ERR_CHANOPRIVSNEEDED, room->name);
}

/* NAMES #room (one room: TARGMAX NAMES:1, so one short line cannot ask for the members of
 * a big room many times over); with no channel, only the end marker. */
void irc_cmd_names(uvc_core_t* core, uvc_session_t* s, irc_state_t* st, const uvc_irc_msg_t* m) {
  uvc_irc_str_t item;
  char word[ECHO_MAX + 1];
  size_t pos = 0;
  uvc_room_t* room;
  (void)st;
  if (m->n == 0 || !irc_next_item(&m->params[0], &pos, &item)) {
    irc_num(core, s, RPL_ENDOFNAMES, "*");
    return;
  }
  room = uvc_core_room(core, item.p, item.n);
  if (room != NULL)
    send_names(core, s, room);
  else
    irc_num(core, s, RPL_ENDOFNAMES, irc_echo(item.p, item.n, word));
}

/* MODE #room [changes]: n, t, o (b lists an empty ban list); others get 472. */
static void channel_mode(uvc_core_t* core, uvc_session_t* s, const uvc_irc_msg_t* m) {
  uvc_room_t* room = irc_find_room(core, s, &m->params[0], 0);
  const uvc_irc_str_t* modes;
  uvc_session_t* targets[MODES_MAX];
  int target_on[MODES_MAX];
  int n_targets = 0, argi = 2, on_sign = 1, change = 0, banlist = 0, i;
  unsigned on = 0, off = 0;
  const uvc_membership_t* mb;
  char word[ECHO_MAX + 1];
  uint8_t told[16]; /* unknown letters already answered with 472, one bit per ASCII code */
  size_t k;
  if (room == NULL) return;
  memset(told, 0, sizeof(told));
  if (m->n < 2) {
    irc_num(core, s, RPL_CHANNELMODEIS, room->name,
            (room->modes & UVC_ROOM_MEMBERS_ONLY) ? "n" : "",
            (room->modes & UVC_ROOM_TOPIC_LOCKED) ? "t" : "");
    irc_num(core, s, RPL_CREATIONTIME, room->name, (long long)room->created);
    return;
  }
  modes = &m->params[1];
  for (k = 0; k < modes->n; k++) {
    char c = modes->p[k];
    unsigned bit = 0;
    if (c == '+' || c == '-') {
      on_sign = c == '+';
      continue;
    }
    if (c == 'n') bit = UVC_ROOM_MEMBERS_ONLY;
    if (c == 't') bit = UVC_ROOM_TOPIC_LOCKED;
    if (bit != 0) {
      change = 1;
      if (on_sign)
        on |= bit, off &= ~bit;
      else
        off |= bit, on &= ~bit;
    } else if (c == 'o') {
      const uvc_irc_str_t* arg;
      uvc_session_t* u;
      if (argi >= m->n) continue;
      arg = &m->params[argi++];
      if (n_targets == MODES_MAX) continue;
      u = uvc_core_find(core, arg->p, arg->n);
      if (u == NULL) {
        irc_num(core, s, ERR_NOSUCHNICK, irc_echo(arg->p, arg->n, word));
        continue;
      }
      change = 1;
      targets[n_targets] = u;
      target_on[n_targets++] = on_sign;
    } else if (c == 'b' && argi >= m->n) {
      banlist = 1;
    } else {
      unsigned char u = (unsigned char)c > ' ' && (unsigned char)c < 0x7F ? (unsigned char)c : '?';
      if (c == 'b') argi++;
      if (told[u >> 3] & (1u << (u & 7))) continue;
      told[u >> 3] |= (uint8_t)(1u << (u & 7));
      irc_num(core, s, ERR_UNKNOWNMODE, (char)u);
    }
  }
  if (banlist) irc_num(core, s, RPL_ENDOFBANLIST, room->name);
  if (!change) return;
  mb = uvc_session_in(s, room);
  if (mb == NULL) {
    irc_num(core, s, ERR_NOTONCHANNEL, room->name);
    return;
  }
  if (!(mb->flags & UVC_MEMBER_OP)) {
    irc_num(core, s, ERR_CHANOPRIVSNEEDED, room->name);
    return;
  }
  if (on != 0 || off != 0) uvc_core_set_modes(core, s, room, on, off);
  for (i = 0; i < n_targets; i++)
    if (uvc_core_set_op(core, s, room, targets[i], target_on[i]) == UVC_ETARGET_NOT_IN_ROOM)
      irc_num(core, s, ERR_USERNOTINCHANNEL, targets[i]->nick, room->name);
}

/* MODE nick [+i|-i]: one's own modes only (221; 501 for letters other than i); 502 for
 * someone else's. */
static void user_mode(uvc_core_t* core, uvc_session_t* s, irc_state_t* st, const uvc_irc_msg_t* m) {
  const uvc_irc_str_t* target = &m->params[0];
  char word[ECHO_MAX + 1];
  int on_sign = 1, want = (st->flags & IRC_INVISIBLE) != 0, unknown = 0;
  size_t k;
  if (!uvc_name_eq(target->p, target->n, s->nick, s->nick_len)) {
    if (uvc_core_find(core, target->p, target->n) != NULL)
      irc_num(core, s, ERR_USERSDONTMATCH);
    else
      irc_num(core, s, ERR_NOSUCHNICK, irc_echo(target->p, target->n, word));
    return;
  }
  if (m->n < 2) {
    irc_num(core, s, RPL_UMODEIS, (st->flags & IRC_INVISIBLE) ? "+i" : "+");
    return;
  }
  for (k = 0; k < m->params[1].n; k++) {
    char c = m->params[1].p[k];
    if (c == '+' || c == '-')
      on_sign = c == '+';
    else if (c == 'i')
      want = on_sign;
    else
      unknown = 1;
  }
  if (unknown) irc_num(core, s, ERR_UMODEUNKNOWNFLAG);
  if (want == ((st->flags & IRC_INVISIBLE) != 0)) return;
  if (want) {
    st->flags |= IRC_INVISIBLE;
    irc_invisible++;
  } else {
    st->flags &= (uint16_t)~IRC_INVISIBLE;
    irc_invisible--;
  }
  irc_sendf(core, s, ":%s!%s@%s MODE %s :%ci", s->nick, s->user, irc_server, s->nick,
            want ? '+' : '-');
}

/* MODE: a channel's modes when the target starts with #, else user modes. */
void irc_cmd_mode(uvc_core_t* core, uvc_session_t* s, irc_state_t* st, const uvc_irc_msg_t* m) {
  if (m->params[0].n > 0 && m->params[0].p[0] == '#')
    channel_mode(core, s, m);
  else
    user_mode(core, s, st, m);
}

/* KICK #room nick[,nick] [:reason], or KICK #a,#b nick1,nick2: one room and several nicks,
 * or as many rooms as nicks, each room with its nick (461 otherwise); at most TARGETS_MAX
 * kicks. 403, 442, 482, 401, 441 per pair. */
void irc_cmd_kick(uvc_core_t* core, uvc_session_t* s, irc_state_t* st, const uvc_irc_msg_t* m) {
  const uvc_irc_str_t* rooms = &m->params[0];
  const uvc_irc_str_t* nicks = &m->params[1];
  uvc_irc_str_t ritem, nitem;
  const char* text = NULL;
  char word[ECHO_MAX + 1];
  size_t rpos = 0, npos = 0, len = 0;
  int n_rooms = 0, n_nicks = 0, count = 0;
  (void)st;
  while (irc_next_item(rooms, &rpos, &ritem))
    n_rooms++;
  while (irc_next_item(nicks, &npos, &nitem))
    n_nicks++;
  if (n_rooms == 0 || n_nicks == 0 || (n_rooms > 1 && n_rooms != n_nicks)) {
    irc_num(core, s, ERR_NEEDMOREPARAMS, "KICK");
    return;
  }
  if (m->n > 2) len = irc_clean(core, m->params[2].p, m->params[2].n, UVC_REASON_MAX, &text);
  rpos = npos = 0;
  irc_next_item(rooms, &rpos, &ritem);
  while (irc_next_item(nicks, &npos, &nitem) && count++ < TARGETS_MAX) {
    uvc_room_t* room;
    uvc_session_t* u;
    int err;
    if (count > 1 && n_rooms > 1) irc_next_item(rooms, &rpos, &ritem);
    if ((room = irc_find_room(core, s, &ritem, 0)) == NULL) continue;
    if ((u = uvc_core_find(core, nitem.p, nitem.n)) == NULL) {
      irc_num(core, s, ERR_NOSUCHNICK, irc_echo(nitem.p, nitem.n, word));
      continue;
    }
    err = uvc_core_kick(core, s, room, u, text, len);
    if (err == UVC_ENOT_IN_ROOM)
      irc_num(core, s, ERR_NOTONCHANNEL, room->name);
    else if (err == UVC_ENOT_OPERATOR)
      irc_num(core, s, ERR_CHANOPRIVSNEEDED, room->name);
    else if (err == UVC_ETARGET_NOT_IN_ROOM)
      irc_num(core, s, ERR_USERNOTINCHANNEL, u->nick, room->name);
    if ((err == UVC_ENOT_IN_ROOM || err == UVC_ENOT_OPERATOR) && n_rooms == 1)
      return; /* the same answer for every other nick */
  }
}
