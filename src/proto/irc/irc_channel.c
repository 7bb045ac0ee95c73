/* irc_channel.c: channels: JOIN, PART, TOPIC, NAMES, KICK, INVITE, and MODE (channel and
 * user modes: the core's room features in IRC letters). */
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
  int head = snprintf(buf, sizeof(buf), ":%s %03d %s = %s :", uvc_core_server_name(core),
                      IRC_CODE(RPL_NAMREPLY), irc_client(s), room->name);
  size_t n = (size_t)head;
  uint32_t i;
  for (i = 0; i < room->n_members; i++) {
    const uvc_session_t* u = room->members[i];
    char entry[128];
    int len;
    if ((!in_room && irc_is_invisible(u)) || !uvc_session_listed(u, s)) continue;
    len = snprintf(entry, sizeof(entry), "%s%s%s%s%s%s", irc_prefixes(s, u, room), u->nick,
                   full ? "!" : "", full ? u->user : "", full ? "@" : "",
                   full ? uvc_core_server_name(core) : "");
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

const char* irc_prefixes(const uvc_session_t* viewer, const uvc_session_t* u,
                         const uvc_room_t* room) {
  const irc_state_t* st = viewer->proto;
  const uvc_membership_t* mb = room != NULL ? uvc_session_in(u, room) : NULL;
  int multi = st != NULL && (st->caps & CAP_MULTI_PREFIX);
  unsigned f = mb != NULL ? mb->flags : 0;
  if ((f & UVC_MEMBER_OP) && (f & UVC_MEMBER_VOICE)) return multi ? "@+" : "@";
  if (f & UVC_MEMBER_OP) return "@";
  if (f & UVC_MEMBER_VOICE) return "+";
  return "";
}

/* What a successful JOIN gets after its echo: the topic and the names. A room past the
 * announce limit is not listed on joining (nobody is told of its comings and goings, so a
 * client's list could not stay right, and listing it to each newcomer would cost the
 * square of its size): the names are only the newcomer's, and NAMES lists everyone. */
void irc_send_joined(uvc_core_t* core, uvc_session_t* s, const uvc_room_t* room) {
  send_topic(core, s, room, 1);
  if (uvc_core_announce_limit(core) == 0 || room->n_members <= uvc_core_announce_limit(core)) {
    send_names(core, s, room);
    return;
  }
  irc_sendf(core, s,
            ":%s NOTICE %s :%s has %u members, too many to list on joining or to announce who "
            "comes and goes; NAMES %s lists them",
            uvc_core_server_name(core), s->nick, room->name, (unsigned)room->n_members, room->name);
  irc_num(core, s, RPL_NAMREPLY, room->name, uvc_session_is_op(s, room) ? "@" : "", s->nick);
  irc_num(core, s, RPL_ENDOFNAMES, room->name);
}

/* JOIN #a,#b [key,key]; JOIN 0 leaves every room. 471/473/474/475 when a room's limit,
 * invite-only, bans or key keep the user out. */
void irc_cmd_join(uvc_core_t* core, uvc_session_t* s, irc_state_t* st, const uvc_irc_msg_t* m) {
  const uvc_irc_str_t* list = &m->params[0];
  uvc_irc_str_t item, key;
  char word[ECHO_MAX + 1];
  size_t pos = 0, kpos = 0;
  int any = 0;
  (void)st;
  if (list->n == 1 && list->p[0] == '0') {
    while (s->n_rooms > 0)
      uvc_core_part(core, s, uvc_session_membership(s, s->n_rooms - 1u)->room, NULL, 0);
    return;
  }
  while (irc_next_item(list, &pos, &item)) {
    uvc_room_t* room;
    int err, has_key = m->n > 1 && irc_next_item(&m->params[1], &kpos, &key);
    any = 1;
    if (item.p[0] != '#') {
      irc_num(core, s, ERR_NOSUCHCHANNEL, irc_echo(item.p, item.n, word));
      continue;
    }
    if (uvc_room_problem(item.p, item.n) != NULL) {
      irc_num(core, s, ERR_BADCHANMASK, irc_echo(item.p, item.n, word));
      continue;
    }
    err = uvc_core_join_key(core, s, item.p, item.n, has_key ? key.p : NULL, has_key ? key.n : 0, 1,
                            &room);
    if (err == 0)
      irc_send_joined(core, s, room);
    else if (err == UVC_EBANNED)
      irc_num(core, s, ERR_BANNEDFROMCHAN, irc_echo(item.p, item.n, word));
    else if (err == UVC_EINVITE_ONLY)
      irc_num(core, s, ERR_INVITEONLYCHAN, irc_echo(item.p, item.n, word));
    else if (err == UVC_EBAD_KEY)
      irc_num(core, s, ERR_BADCHANNELKEY, irc_echo(item.p, item.n, word));
    else if (err == UVC_EROOM_FULL)
      irc_num(core, s, ERR_CHANNELISFULL, irc_echo(item.p, item.n, word));
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
  if (room != NULL && uvc_room_visible(room, s))
    send_names(core, s, room);
  else
    irc_num(core, s, RPL_ENDOFNAMES, irc_echo(item.p, item.n, word));
}

/* The letters of the room flags (no parameter), in the order 324 lists them. */
static const struct {
  char letter;
  unsigned mode;
} kFlagLetters[] = {{'i', UVC_ROOM_INVITE_ONLY},
                    {'m', UVC_ROOM_MODERATED},
                    {'n', UVC_ROOM_MEMBERS_ONLY},
                    {'s', UVC_ROOM_SECRET},
                    {'t', UVC_ROOM_TOPIC_LOCKED}};
#define N_FLAG_LETTERS (sizeof(kFlagLetters) / sizeof(kFlagLetters[0]))

/* 324 and 329: the room's modes; the key only to its members. */
static void send_channel_modes(uvc_core_t* core, uvc_session_t* s, const uvc_room_t* room) {
  char modes[64 + UVC_KEY_MAX];
  size_t n = 0, i;
  modes[n++] = '+';
  for (i = 0; i < N_FLAG_LETTERS; i++)
    if (room->modes & kFlagLetters[i].mode) modes[n++] = kFlagLetters[i].letter;
  if (room->modes & UVC_ROOM_KEY) modes[n++] = 'k';
  if (room->modes & UVC_ROOM_LIMIT) modes[n++] = 'l';
  modes[n] = '\0';
  if ((room->modes & UVC_ROOM_KEY) && room->key != NULL)
    n += (size_t)snprintf(modes + n, sizeof(modes) - n, " %s",
                          uvc_session_in(s, room) != NULL ? room->key : "*");
  if (room->modes & UVC_ROOM_LIMIT)
    snprintf(modes + n, sizeof(modes) - n, " %u", (unsigned)room->limit);
  irc_num(core, s, RPL_CHANNELMODEIS, room->name, modes);
  irc_num(core, s, RPL_CREATIONTIME, room->name, (long long)room->created);
}

/* 367/368 (bans) or 346/347 (invite exceptions). */
static void send_list(uvc_core_t* core, uvc_session_t* s, const uvc_room_t* room,
                      uvc_room_list_kind_t kind) {
  const uvc_mask_list_t* l = uvc_room_list(room, kind);
  uint16_t i;
  for (i = 0; i < l->n; i++) {
    if (kind == UVC_LIST_BAN)
      irc_num(core, s, RPL_BANLIST, room->name, l->v[i].mask, l->v[i].by, (long long)l->v[i].at);
    else
      irc_num(core, s, RPL_INVEXLIST, room->name, l->v[i].mask, l->v[i].by, (long long)l->v[i].at);
  }
  if (kind == UVC_LIST_BAN)
    irc_num(core, s, RPL_ENDOFBANLIST, room->name);
  else
    irc_num(core, s, RPL_ENDOFINVEXLIST, room->name);
}

/* One change with a parameter, waiting for the operator check. */
typedef struct {
  char letter;
  uint8_t on;
  uvc_irc_str_t arg;
} mode_arg_t;

/* Runs one change with a parameter and answers its errors. */
static void apply_arg(uvc_core_t* core, uvc_session_t* s, uvc_room_t* room, const mode_arg_t* c) {
  char word[ECHO_MAX + 1];
  int err = 0;
  switch (c->letter) {
    case 'o':
    case 'v': {
      uvc_session_t* u = uvc_core_find(core, c->arg.p, c->arg.n);
      if (u == NULL) {
        irc_num(core, s, ERR_NOSUCHNICK, irc_echo(c->arg.p, c->arg.n, word));
        return;
      }
      err = uvc_core_set_member(core, s, room, u,
                                c->letter == 'o' ? UVC_MEMBER_OP : UVC_MEMBER_VOICE, c->on);
      if (err == UVC_ETARGET_NOT_IN_ROOM)
        irc_num(core, s, ERR_USERNOTINCHANNEL, u->nick, room->name);
      return;
    }
    case 'b':
    case 'I':
      err = uvc_core_list_change(core, s, room, c->letter == 'b' ? UVC_LIST_BAN : UVC_LIST_INVITE,
                                 c->arg.p, c->arg.n, c->on);
      if (err == UVC_ELIST_FULL) irc_num(core, s, ERR_BANLISTFULL, room->name, c->letter);
      return;
    case 'k':
      err = uvc_core_set_key(core, s, room, c->on ? c->arg.p : NULL, c->on ? c->arg.n : 0);
      if (err == UVC_EKEY_INVALID) irc_num(core, s, ERR_INVALIDKEY, room->name);
      return;
    case 'l': {
      int v = c->on ? irc_atoi(&c->arg) : 0;
      if (c->on && v <= 0) {
        irc_num(core, s, ERR_INVALIDMODEPARAM, room->name, 'l', irc_echo(c->arg.p, c->arg.n, word),
                "The limit must be a number above 0");
        return;
      }
      (void)uvc_core_set_limit(core, s, room, (uint32_t)v);
      return;
    }
  }
}

/* MODE #room [changes]: the flags i m n s t, k key, l limit, o and v nicks, b and I masks
 * (b or I alone lists them); other letters get 472. At most MODES_MAX changes with a
 * parameter per command. Changes need a room operator (482; 442 outside the room): each is
 * told to the members as its own MODE line. */
static void channel_mode(uvc_core_t* core, uvc_session_t* s, const uvc_irc_msg_t* m) {
  uvc_room_t* room = irc_find_room(core, s, &m->params[0], 0);
  const uvc_irc_str_t* modes;
  mode_arg_t args[MODES_MAX];
  int n_args = 0, argi = 2, on_sign = 1, change = 0, i, listed_b = 0, listed_i = 0, missing = 0;
  unsigned on = 0, off = 0;
  const uvc_membership_t* mb;
  uint8_t told[16]; /* unknown letters already answered with 472, one bit per ASCII code */
  size_t k, f;
  if (room == NULL) return;
  memset(told, 0, sizeof(told));
  if (m->n < 2) {
    send_channel_modes(core, s, room);
    return;
  }
  modes = &m->params[1];
  for (k = 0; k < modes->n; k++) {
    char c = modes->p[k];
    if (c == '+' || c == '-') {
      on_sign = c == '+';
      continue;
    }
    for (f = 0; f < N_FLAG_LETTERS; f++)
      if (kFlagLetters[f].letter == c) break;
    if (f < N_FLAG_LETTERS) {
      unsigned bit = kFlagLetters[f].mode;
      change = 1;
      if (on_sign)
        on |= bit, off &= ~bit;
      else
        off |= bit, on &= ~bit;
    } else if (c == 'b' || c == 'I') {
      if (argi >= m->n) { /* no mask: list it (once per command) */
        int* done = c == 'b' ? &listed_b : &listed_i;
        if (!*done) send_list(core, s, room, c == 'b' ? UVC_LIST_BAN : UVC_LIST_INVITE);
        *done = 1;
        continue;
      }
      if (n_args < MODES_MAX) {
        args[n_args].letter = c, args[n_args].on = (uint8_t)on_sign;
        args[n_args++].arg = m->params[argi];
        change = 1;
      }
      argi++;
    } else if (c == 'o' || c == 'v' || c == 'k' || (c == 'l' && on_sign)) {
      if (argi >= m->n) {
        if (c != 'k' || on_sign) { /* -k may come without the key */
          missing = 1;
          continue;
        }
      }
      if (n_args < MODES_MAX) {
        args[n_args].letter = c, args[n_args].on = (uint8_t)on_sign;
        if (argi < m->n) args[n_args].arg = m->params[argi];
        n_args++;
        change = 1;
      }
      if (argi < m->n) argi++;
    } else if (c == 'l') { /* -l */
      if (n_args < MODES_MAX) {
        args[n_args].letter = 'l', args[n_args++].on = 0;
        change = 1;
      }
    } else {
      unsigned char u = (unsigned char)c > ' ' && (unsigned char)c < 0x7F ? (unsigned char)c : '?';
      if (told[u >> 3] & (1u << (u & 7))) continue;
      told[u >> 3] |= (uint8_t)(1u << (u & 7));
      irc_num(core, s, ERR_UNKNOWNMODE, (char)u);
    }
  }
  if (missing) irc_num(core, s, ERR_NEEDMOREPARAMS, "MODE");
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
  for (i = 0; i < n_args; i++)
    apply_arg(core, s, room, &args[i]);
}

/* The user modes of s as letters: i (invisible), o (server operator), w (wallops). */
static unsigned umode_bits(const uvc_session_t* s) {
  return ((s->umodes & UVC_USER_INVISIBLE) ? 1u : 0u) | ((s->umodes & UVC_USER_OPER) ? 2u : 0u) |
         ((s->umodes & UVC_USER_WALLOPS) ? 4u : 0u);
}
static const char kUmodeLetters[] = "iow";

/* MODE nick [+i|-i|+w|-w|-o]: one's own modes only (221; 501 for other letters; +o is
 * ignored, only OPER gives it); 502 for someone else's. */
static void user_mode(uvc_core_t* core, uvc_session_t* s, const uvc_irc_msg_t* m) {
  const uvc_irc_str_t* target = &m->params[0];
  char word[ECHO_MAX + 1];
  char out[16];
  unsigned before = umode_bits(s), after, bit;
  int on_sign = 1, unknown = 0, want_i = (s->umodes & UVC_USER_INVISIBLE) != 0;
  int want_w = (s->umodes & UVC_USER_WALLOPS) != 0, deoper = 0, sign = 0, said_w = 0;
  size_t k, n = 0;
  if (!uvc_name_eq(target->p, target->n, s->nick, s->nick_len)) {
    if (uvc_core_find(core, target->p, target->n) != NULL)
      irc_num(core, s, ERR_USERSDONTMATCH);
    else
      irc_num(core, s, ERR_NOSUCHNICK, irc_echo(target->p, target->n, word));
    return;
  }
  if (m->n < 2) {
    out[n++] = '+';
    for (k = 0; k < 3; k++)
      if (before & (1u << k)) out[n++] = kUmodeLetters[k];
    out[n] = '\0';
    irc_num(core, s, RPL_UMODEIS, out);
    return;
  }
  for (k = 0; k < m->params[1].n; k++) {
    char ch = m->params[1].p[k];
    if (ch == '+' || ch == '-')
      on_sign = ch == '+';
    else if (ch == 'i')
      want_i = on_sign;
    else if (ch == 'w')
      want_w = on_sign, said_w = 1;
    else if (ch == 'o')
      deoper |= !on_sign;
    else
      unknown = 1;
  }
  if (unknown) irc_num(core, s, ERR_UMODEUNKNOWNFLAG);
  if (deoper && (s->umodes & UVC_USER_OPER)) {
    uvc_core_set_oper(core, s, NULL, 0); /* takes +w with it, unless this asks for it */
    if (!said_w) want_w = 0;
  }
  uvc_core_set_invisible(core, s, want_i);
  if (want_w)
    s->umodes |= UVC_USER_WALLOPS;
  else
    s->umodes &= (uint8_t)~UVC_USER_WALLOPS;
  after = umode_bits(s);
  for (bit = 0; bit < 3; bit++) { /* what changed: "+i", "-ow" ... */
    unsigned b1 = 1u << bit;
    if ((before & b1) == (after & b1)) continue;
    if (sign != ((after & b1) ? 1 : -1)) {
      sign = (after & b1) ? 1 : -1;
      out[n++] = sign > 0 ? '+' : '-';
    }
    out[n++] = kUmodeLetters[bit];
  }
  if (n == 0) return;
  out[n] = '\0';
  irc_sendf(core, s, ":%s!%s@%s MODE %s :%s", s->nick, s->user, uvc_core_server_name(core), s->nick,
            out);
}

/* MODE: a channel's modes when the target starts with #, else user modes. */
void irc_cmd_mode(uvc_core_t* core, uvc_session_t* s, irc_state_t* st, const uvc_irc_msg_t* m) {
  (void)st;
  if (m->params[0].n > 0 && m->params[0].p[0] == '#')
    channel_mode(core, s, m);
  else
    user_mode(core, s, m);
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

/* INVITE nick #room: 341 to the inviter, an INVITE line to the invited. 401 (nobody), 403
 * (no such room), 442 (not in it), 443 (already in it), 482 (invite-only and not an
 * operator). INVITE alone lists the rooms s is invited to (336, 337). */
void irc_cmd_invite(uvc_core_t* core, uvc_session_t* s, irc_state_t* st, const uvc_irc_msg_t* m) {
  char word[ECHO_MAX + 1];
  uvc_session_t* u;
  uvc_room_t* room;
  int err;
  (void)st;
  if (m->n == 0) {
    unsigned i;
    for (i = 0; s->x != NULL && s->x->invites != NULL && i < s->x->n_invites; i++)
      irc_num(core, s, RPL_INVITELIST, s->x->invites[i]);
    irc_num(core, s, RPL_ENDOFINVITELIST);
    return;
  }
  if (m->n < 2) {
    irc_num(core, s, ERR_NEEDMOREPARAMS, "INVITE");
    return;
  }
  if ((u = uvc_core_find(core, m->params[0].p, m->params[0].n)) == NULL) {
    irc_num(core, s, ERR_NOSUCHNICK, irc_echo(m->params[0].p, m->params[0].n, word));
    return;
  }
  if ((room = irc_find_room(core, s, &m->params[1], 0)) == NULL) return;
  err = uvc_core_invite(core, s, room, u);
  if (err == 0)
    irc_num(core, s, RPL_INVITING, u->nick, room->name);
  else if (err == UVC_ENOT_IN_ROOM)
    irc_num(core, s, ERR_NOTONCHANNEL, room->name);
  else if (err == UVC_ENOT_OPERATOR)
    irc_num(core, s, ERR_CHANOPRIVSNEEDED, room->name);
  else if (err == UVC_ETARGET_IN_ROOM)
    irc_num(core, s, ERR_USERONCHANNEL, u->nick, room->name);
  else
    irc_num(core, s, ERR_UNKNOWNERROR, "INVITE", uvc_strerror(err));
}
