/* irc.c: the adapter for IRC clients (irssi, WeeChat, HexChat...): its entry points, the
 * command table and the dispatcher that checks each command's state and arity once, the
 * session state, and the helpers every handler shares. The handlers live in the files of
 * their concern (see irc_int.h).
 */
#include "irc_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------------------------------
 * Small helpers
 * ---------------------------------------------------------------------------------------- */

/* Whether s is an IRC session (with its state). */
int irc_is_irc(const uvc_session_t* s) {
  return uvc_irc_adapter_is(s->adapter) && s->proto != NULL;
}

/* Whether a session of adapter a is an IRC client. */
int irc_format_is_irc(const uvc_adapter_t* a) {
  return uvc_irc_adapter_is(a);
}

/* Whether s has user mode +i. */
int irc_is_invisible(const uvc_session_t* s) {
  return (s->umodes & UVC_USER_INVISIBLE) != 0;
}

/* The realname WHO and WHOIS show: USER's for IRC users, a fixed one for text users. */
const char* irc_realname_of(const uvc_session_t* s) {
  return irc_is_irc(s) ? ((const irc_state_t*)s->proto)->realname : TEXT_REALNAME;
}

/* How numerics address s: its nick once registered, "*" before. */
const char* irc_client(const uvc_session_t* s) {
  return s->present ? s->nick : "*";
}

/* Whether a parameter equals a keyword, ignoring case. */
int irc_str_eq(const uvc_irc_str_t* x, const char* name) {
  return uvc_irc_is(x, name);
}

/* A copy of a client's word that is safe to repeat inside a reply: at most ECHO_MAX bytes,
 * and spaces, controls and non-ASCII bytes as '?' (so it stays one parameter). */
const char* irc_echo(const char* p, size_t n, char out[ECHO_MAX + 1]) {
  size_t i;
  if (n > ECHO_MAX) n = ECHO_MAX;
  for (i = 0; i < n; i++) {
    unsigned char c = (unsigned char)p[i];
    out[i] = (c <= ' ' || c >= 0x7F || (i == 0 && c == ':')) ? '?' : (char)c;
  }
  if (n == 0) out[n++] = '*';
  out[n] = '\0';
  return out;
}

/* Whether a target is NickServ. */
int irc_is_nickserv(const uvc_irc_str_t* target) {
  return uvc_name_eq(target->p, target->n, NICKSERV, sizeof(NICKSERV) - 1);
}

/* The decimal number at the start of a parameter (0 when none; capped at 99999). */
int irc_atoi(const uvc_irc_str_t* x) {
  int v = 0;
  size_t i;
  for (i = 0; i < x->n && x->p[i] >= '0' && x->p[i] <= '9' && v < 10000; i++)
    v = v * 10 + (x->p[i] - '0');
  return v;
}

/* Cleans text (keeping IRC formatting) into the core's scratch buffer, cut to max bytes. */
size_t irc_clean(uvc_core_t* core, const char* text, size_t len, size_t max, const char** out) {
  size_t n = uvc_clean_text(text, len, uvc_core_scratch(core), UVC_CLEAN_KEEP_IRC_FORMAT);
  *out = uvc_core_scratch(core);
  return uvc_utf8_cut(uvc_core_scratch(core), n, max);
}

/* Iterates the comma-separated items of a list: *pos is where to start; returns 0 at the
 * end. Empty items are skipped. */
int irc_next_item(const uvc_irc_str_t* list, size_t* pos, uvc_irc_str_t* item) {
  size_t i = *pos, start;
  while (i < list->n && list->p[i] == ',')
    i++;
  if (i >= list->n) return 0;
  start = i;
  while (i < list->n && list->p[i] != ',')
    i++;
  item->p = list->p + start;
  item->n = i - start;
  *pos = i;
  return 1;
}

/* Whether a and b share a room. */
static int share_room(const uvc_session_t* a, const uvc_session_t* b) {
  unsigned r;
  for (r = 0; r < a->n_rooms; r++)
    if (uvc_session_in(b, uvc_session_membership_c(a, r)->room) != NULL) return 1;
  return 0;
}

/* Whether s may see u in WHO and NAMES: invisible users only show to who shares a room. */
int irc_visible_to(const uvc_session_t* s, const uvc_session_t* u) {
  return u == s || (!u->unseen && (!irc_is_invisible(u) || share_room(s, u)));
}

/* The room a channel parameter names, or NULL after answering 403. */
uvc_room_t* irc_find_room(uvc_core_t* core, uvc_session_t* s, const uvc_irc_str_t* name,
                          int quiet) {
  uvc_room_t* room = uvc_core_room(core, name->p, name->n);
  char word[ECHO_MAX + 1];
  if (room == NULL && !quiet) irc_num(core, s, ERR_NOSUCHCHANNEL, irc_echo(name->p, name->n, word));
  return room;
}

/* ------------------------------------------------------------------------------------------
 * Replies
 * ---------------------------------------------------------------------------------------- */

/* Sends buf[0..n) plus CRLF to s alone, cut at a character boundary to fit one IRC line.
 * buf has room for OUT_MAX + 2 bytes. */
/* Appends bytes to a capture (dropped when memory runs out: the answer is then short). */
static void capture_add(irc_capture_t* c, const char* p, size_t n) {
  if (c->len + n > c->cap) {
    size_t cap = c->cap ? c->cap : 1024;
    char* grown;
    while (cap < c->len + n)
      cap *= 2;
    if ((grown = realloc(c->buf, cap)) == NULL) return;
    c->buf = grown;
    c->cap = cap;
  }
  memcpy(c->buf + c->len, p, n);
  c->len += n;
}

void irc_send_msg(uvc_core_t* core, uvc_session_t* s, uvc_msg_t* m) {
  const irc_state_t* st = s->proto;
  if (st != NULL && st->capture != NULL)
    capture_add(st->capture, m->data, m->len);
  else
    uvc_core_send(core, s, m);
}

void irc_send_buf(uvc_core_t* core, uvc_session_t* s, char* buf, size_t n) {
  const irc_state_t* st = s->proto;
  uvc_msg_t* m;
  n = uvc_utf8_cut(buf, n, OUT_MAX);
  memcpy(buf + n, CRLF, 2);
  if (st != NULL && st->capture != NULL) {
    capture_add(st->capture, buf, n + 2);
    return;
  }
  m = uvc_msg_from(buf, n + 2);
  if (m == NULL) return;
  uvc_core_send(core, s, m);
  uvc_msg_release(m);
}

/* Formats into buf at offset `at` (a vsnprintf that reports what it wrote). */
#if defined(__GNUC__)
__attribute__((format(printf, 3, 0)))
#endif
size_t
irc_vformat(char* buf, size_t at, const char* fmt, va_list ap) {
  int n = vsnprintf(buf + at, BUF_SIZE - at, fmt, ap);
  if (n < 0) return at;
  return at + ((size_t)n < BUF_SIZE - at ? (size_t)n : BUF_SIZE - at - 1);
}

/* Sends one formatted line (no prefix added) to s. */
#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
void
irc_sendf(uvc_core_t* core, uvc_session_t* s, const char* fmt, ...) {
  char buf[BUF_SIZE];
  va_list ap;
  size_t n;
  va_start(ap, fmt);
  n = irc_vformat(buf, 0, fmt, ap);
  va_end(ap);
  irc_send_buf(core, s, buf, n);
}

/* Sends the numeric reply ":server NNN client <formatted>" to s. */
#if defined(__GNUC__)
__attribute__((format(printf, 4, 5)))
#endif
void
irc_num(uvc_core_t* core, uvc_session_t* s, int code, const char* fmt, ...) {
  char buf[BUF_SIZE];
  va_list ap;
  int head =
      snprintf(buf, sizeof(buf), ":%s %03d %s ", uvc_core_server_name(core), code, irc_client(s));
  size_t n;
  if (head < 0 || head >= (int)sizeof(buf)) return;
  va_start(ap, fmt);
  n = irc_vformat(buf, (size_t)head, fmt, ap);
  va_end(ap);
  irc_send_buf(core, s, buf, n);
}

/* Sends "ERROR :Closing Link: <nick or *> (<why>)" to s. */
void irc_closing_link(uvc_core_t* core, uvc_session_t* s, const char* why, size_t len) {
  irc_sendf(core, s, "ERROR :Closing Link: %s (%.*s)", irc_client(s), (int)len, why);
}

/* The prefix "nick!user@server" of a user, with an optional other nick. */
int irc_user_prefix(const uvc_core_t* core, char* out, size_t cap, const uvc_session_t* u,
                    const char* nick, int len) {
  int n = snprintf(out, cap, ":%.*s!%s@%s", len, nick, u->user, uvc_core_server_name(core));
  return n < 0 ? 0 : (n >= (int)cap ? (int)cap - 1 : n);
}

int irc_who_prefix(char* out, size_t cap, const uvc_event_who_t* who, const char* nick,
                   size_t len) {
  /* pieces put together, not printed: this is on every message's rendering */
  size_t ul = who->user_len > 0 ? who->user_len : strlen(who->user);
  size_t hl = who->host_len > 0 ? who->host_len : strlen(who->host);
  char* p = out;
  if (len + ul + hl + 4 > cap) { /* cannot happen with the core's bounds; cut as printf would */
    int n = snprintf(out, cap, ":%.*s!%s@%s", (int)len, nick, who->user, who->host);
    return n < 0 ? 0 : (n >= (int)cap ? (int)cap - 1 : n);
  }
  *p++ = ':';
  memcpy(p, nick, len);
  p += len;
  *p++ = '!';
  memcpy(p, who->user, ul);
  p += ul;
  *p++ = '@';
  memcpy(p, who->host, hl);
  p += hl;
  *p = '\0';
  return (int)(p - out);
}

/* ------------------------------------------------------------------------------------------
 * The command table
 * ---------------------------------------------------------------------------------------- */

#define NO_RECIPIENT IRC_CODE(ERR_NORECIPIENT)
#define NO_TEXT      IRC_CODE(ERR_NOTEXTTOSEND)
#define NO_NICK      IRC_CODE(ERR_NONICKNAMEGIVEN)

static const irc_cmd_t kCommands[] = {
    /* name      handler       when    min max quiet none few */
    /* registration (irc_register.c) */
    {"NICK", irc_cmd_nick, ANY, 1, 1, 0, NO_NICK, NO_NICK},
    {"USER", irc_cmd_user, BEFORE, 4, 4, 0, 0, 0},
    {"CAP", irc_cmd_cap, ANY, 1, 2, 0, 0, 0},
    {"PING", irc_cmd_ping, ANY, 1, 2, 0, 0, 0},
    {"PONG", irc_cmd_pong, ANY, 0, 2, 0, 0, 0},
    {"QUIT", irc_cmd_quit, ANY, 0, 1, 0, 0, 0},
    {"SETNAME", irc_cmd_setname, AFTER, 1, 1, 0, 0, 0},
    /* accounts (irc_account.c) */
    {"PASS", irc_cmd_pass, BEFORE, 1, 1, 0, 0, 0},
    {"AUTHENTICATE", irc_cmd_authenticate, ANY, 1, 1, 0, 0, 0},
    /* messages (irc_message.c) */
    {"PRIVMSG", irc_cmd_privmsg, AFTER, 2, 2, 0, NO_RECIPIENT, NO_TEXT},
    {"NOTICE", irc_cmd_notice, AFTER, 2, 2, 1, 0, 0},
    {"TAGMSG", irc_cmd_tagmsg, AFTER, 1, 1, 0, 0, 0},
    {"AWAY", irc_cmd_away, AFTER, 0, 1, 0, 0, 0},
    /* channels (irc_channel.c) */
    {"JOIN", irc_cmd_join, AFTER, 1, 2, 0, 0, 0},
    {"PART", irc_cmd_part, AFTER, 1, 2, 0, 0, 0},
    {"MODE", irc_cmd_mode, AFTER, 1, UVC_IRC_MAX_PARAMS, 0, 0, 0},
    {"NAMES", irc_cmd_names, AFTER, 0, 1, 0, 0, 0},
    {"TOPIC", irc_cmd_topic, AFTER, 1, 2, 0, 0, 0},
    {"KICK", irc_cmd_kick, AFTER, 2, 3, 0, 0, 0},
    {"INVITE", irc_cmd_invite, AFTER, 0, 2, 0, 0, 0},
    /* server operators (irc_oper.c) */
    {"OPER", irc_cmd_oper, AFTER, 2, 2, 0, 0, 0},
    {"KILL", irc_cmd_kill, AFTER | OPER, 2, 2, 0, 0, 0},
    {"WALLOPS", irc_cmd_wallops, AFTER | OPER, 1, 1, 0, 0, 0},
    {"REHASH", irc_cmd_rehash, AFTER | OPER, 0, 1, 0, 0, 0},
    {"DIE", irc_cmd_die, AFTER | OPER, 0, 1, 0, 0, 0},
    /* queries (irc_query.c) */
    {"WHO", irc_cmd_who, AFTER, 1, 2, 0, 0, 0},
    {"WHOIS", irc_cmd_whois, AFTER, 1, 2, 0, NO_NICK, NO_NICK},
    {"ISON", irc_cmd_ison, AFTER, 1, UVC_IRC_MAX_PARAMS, 0, 0, 0},
    {"USERHOST", irc_cmd_userhost, AFTER, 1, USERHOST_MAX, 0, 0, 0},
    {"LIST", irc_cmd_list, AFTER, 0, 2, 0, 0, 0},
    {"MOTD", irc_cmd_motd, AFTER, 0, 1, 0, 0, 0},
    {"LUSERS", irc_cmd_lusers, AFTER, 0, 2, 0, 0, 0},
    {"VERSION", irc_cmd_version, AFTER, 0, 1, 0, 0, 0},
    {"WHOWAS", irc_cmd_whowas, AFTER, 1, 2, 0, NO_NICK, NO_NICK},
    {"MONITOR", irc_cmd_monitor, AFTER, 1, 2, 0, 0, 0},
    /* history (irc_history.c) */
    {"CHATHISTORY", irc_cmd_chathistory, AFTER, 1, 5, 0, 0, 0},
    /* the server itself (irc_server.c) */
    {"TIME", irc_cmd_time, AFTER, 0, 1, 0, 0, 0},
    {"INFO", irc_cmd_info, AFTER, 0, 1, 0, 0, 0},
    {"ADMIN", irc_cmd_admin, AFTER, 0, 1, 0, 0, 0},
    {"STATS", irc_cmd_stats, AFTER, 0, 2, 0, 0, 0},
    {"LINKS", irc_cmd_links, AFTER, 0, 2, 0, 0, 0},
    {NULL, NULL, 0, 0, 0, 0, 0, 0}};

#define N_COMMANDS (sizeof(kCommands) / sizeof(kCommands[0]) - 1)

/* How many times each command ran (STATS m), by its row. */
static unsigned g_counts[N_COMMANDS];

void irc_each_command(void (*fn)(const char* name, unsigned count, void* arg), void* arg) {
  size_t i;
  for (i = 0; i < N_COMMANDS; i++)
    fn(kCommands[i].name, g_counts[i], arg);
}

/* ------------------------------------------------------------------------------------------
 * Dispatch and connection entry points
 * ---------------------------------------------------------------------------------------- */

/* The error for too few parameters: 461, or the command's own (411, 412, 431). */
static void too_few(uvc_core_t* core, uvc_session_t* s, const irc_cmd_t* c, int n) {
  int code = n == 0 ? c->none : c->few;
  switch (code) {
    case NO_RECIPIENT:
      irc_num(core, s, ERR_NORECIPIENT, c->name);
      break;
    case NO_TEXT:
      irc_num(core, s, ERR_NOTEXTTOSEND);
      break;
    case NO_NICK:
      irc_num(core, s, ERR_NONICKNAMEGIVEN);
      break;
    default:
      irc_num(core, s, ERR_NEEDMOREPARAMS, c->name);
      break;
  }
}

/* Checks registration and arity once, then runs the command's handler. */
static void dispatch(uvc_core_t* core, uvc_session_t* s, irc_state_t* st, uvc_irc_msg_t* m) {
  const irc_cmd_t* c;
  char word[ECHO_MAX + 1];
  for (c = kCommands; c->name != NULL; c++)
    if (uvc_irc_is(&m->cmd, c->name)) break;
  if (c->name == NULL) {
    if (s->present)
      irc_num(core, s, ERR_UNKNOWNCOMMAND, irc_echo(m->cmd.p, m->cmd.n, word));
    else
      irc_num(core, s, ERR_NOTREGISTERED);
    return;
  }
  if (!s->present && !(c->when & BEFORE)) {
    irc_num(core, s, ERR_NOTREGISTERED);
    return;
  }
  if (s->present && !(c->when & AFTER)) {
    irc_num(core, s, ERR_ALREADYREGISTERED);
    return;
  }
  if ((c->when & OPER) && !(s->umodes & UVC_USER_OPER)) {
    irc_num(core, s, ERR_NOPRIVILEGES);
    return;
  }
  if (m->n < c->min) {
    if (!c->quiet) too_few(core, s, c, m->n);
    return;
  }
  if (m->n > c->max) m->n = c->max;
  g_counts[c - kCommands]++;
  c->fn(core, s, st, m);
}

/* A new connection: its state, empty until NICK and USER come. */
void irc_on_open(uvc_core_t* core, uvc_session_t* s) {
  irc_state_t* st = calloc(1, sizeof(*st) + 1);
  if (st == NULL) {
    uvc_core_request_close(core, s, UVC_LEAVE_LOST, NULL, 0);
    return;
  }
  s->proto = st;
  s->user = st->user;
}

/* The value of tag key in a tag section (escapes left as they are); 0 when absent. */
static int find_tag(const uvc_irc_str_t* tags, const char* key, uvc_irc_str_t* value) {
  size_t i = 0, klen = strlen(key);
  while (i < tags->n) {
    size_t end = i, eq;
    while (end < tags->n && tags->p[end] != ';')
      end++;
    for (eq = i; eq < end && tags->p[eq] != '='; eq++) {
    }
    if (eq - i == klen && memcmp(tags->p + i, key, klen) == 0) {
      value->p = tags->p + (eq < end ? eq + 1 : end);
      value->n = eq < end ? end - eq - 1 : 0;
      return 1;
    }
    i = end + 1;
  }
  return 0;
}

/* Starts collecting the answer to a labeled command (labeled-response): from now on until
 * capture_end, whatever s would get goes into its capture, events rendered for it alone. */
static void capture_start(uvc_session_t* s, irc_state_t* st, const uvc_irc_str_t* label) {
  irc_capture_t* c = calloc(1, sizeof(*c));
  size_t i;
  if (c == NULL) return;
  for (i = 0; i < label->n; i++) { /* a label is a token: keep it one tag value, no controls */
    unsigned char b = (unsigned char)label->p[i];
    c->label[i] = (b <= ' ' || b == ';' || b == 0x7F) ? '_' : label->p[i];
  }
  c->label[label->n] = '\0';
  c->slot = s->slot;
  s->slot = (uint8_t)(s->adapter->format + UVC_FORMATS * UVC_VARIANT_OWN);
  st->capture = c;
}

/* Appends one captured line to out with the tag tag=value added to its tags. */
static size_t tag_line(char* out, const char* line, size_t n, const char* tag, const char* value) {
  size_t k = 0, tl = strlen(tag), vl = strlen(value);
  out[k++] = '@';
  memcpy(out + k, tag, tl);
  k += tl;
  out[k++] = '=';
  memcpy(out + k, value, vl);
  k += vl;
  if (n > 0 && line[0] == '@') {
    out[k++] = ';';
    line++, n--;
  } else {
    out[k++] = ' ';
  }
  memcpy(out + k, line, n);
  return k + n;
}

/* Sends the collected answer of a labeled command as the spec says: ACK for none, the one
 * line with the label, or a labeled-response batch around several; or, for a command
 * answered later with the label on its answer (c->later), what was collected as it is. */
static void capture_end(uvc_core_t* core, uvc_session_t* s, irc_state_t* st) {
  irc_capture_t* c = st->capture;
  size_t lines = 0, i, cap, n = 0, start;
  char id[16];
  uvc_msg_t* m;
  s->slot = c->slot;
  st->capture = NULL;
  if (c->later) { /* the label goes on the answer when it comes: nothing to label now */
    if (c->len > 0 && (m = uvc_msg_from(c->buf, c->len)) != NULL) {
      uvc_core_send(core, s, m);
      uvc_msg_release(m);
    }
    free(c->buf);
    free(c);
    return;
  }
  for (i = 0; i + 1 < c->len; i++)
    if (c->buf[i] == '\r' && c->buf[i + 1] == '\n') lines++;
  /* Every line may get "@batch=ID;" in front; the batch lines and an ACK are short. */
  cap = c->len + lines * (sizeof(id) + 8) + 2 * (LABEL_MAX + 2 * 512);
  m = uvc_msg_new(cap);
  if (m != NULL) {
    char* out = m->data;
    if (lines == 0) {
      n = (size_t)snprintf(out, cap, "@label=%s :%s ACK\r\n", c->label, uvc_core_server_name(core));
    } else if (lines == 1) {
      n = tag_line(out, c->buf, c->len, "label", c->label);
    } else {
      snprintf(id, sizeof(id), "%u", (unsigned)++st->batch_seq);
      n = (size_t)snprintf(out, cap, "@label=%s :%s BATCH +%s labeled-response\r\n", c->label,
                           uvc_core_server_name(core), id);
      for (start = 0, i = 0; i + 1 < c->len; i++) {
        if (c->buf[i] != '\r' || c->buf[i + 1] != '\n') continue;
        n += tag_line(out + n, c->buf + start, i + 2 - start, "batch", id);
        start = i + 2;
      }
      n += (size_t)snprintf(out + n, cap - n, ":%s BATCH -%s\r\n", uvc_core_server_name(core), id);
    }
    m->len = (uint32_t)n;
    uvc_core_send(core, s, m);
    uvc_msg_release(m);
  }
  free(c->buf);
  free(c);
}

/* One line from the client: parsed, then dispatched (417 when too long). A labeled command
 * from a client with labeled-response gets its answer labeled. */
void irc_on_line(uvc_core_t* core, uvc_session_t* s, const char* line, size_t len) {
  uvc_irc_msg_t m;
  irc_state_t* st = s->proto;
  uvc_irc_str_t label;
  if (st == NULL) return;
  switch (uvc_irc_parse(line, len, &m)) {
    case UVC_IRC_OK:
      if ((st->caps & (CAP_LABELED_RESPONSE | CAP_BATCH)) == (CAP_LABELED_RESPONSE | CAP_BATCH) &&
          find_tag(&m.tags, "label", &label) && label.n > 0 && label.n <= LABEL_MAX) {
        capture_start(s, st, &label);
        dispatch(core, s, st, &m);
        st = s->proto; /* USER may have moved it */
        if (st != NULL && st->capture != NULL) capture_end(core, s, st);
      } else {
        dispatch(core, s, st, &m);
      }
      break;
    case UVC_IRC_TOOLONG:
      irc_num(core, s, ERR_INPUTTOOLONG);
      break;
    case UVC_IRC_EMPTY:
      break;
  }
}

/* A line longer than the framer's limit (tags included) was dropped. */
void irc_on_toolong(uvc_core_t* core, uvc_session_t* s) {
  irc_num(core, s, ERR_INPUTTOOLONG);
}

/* The client has been silent for --ping-interval: ask it to show it is there. */
void irc_on_idle(uvc_core_t* core, uvc_session_t* s) {
  irc_sendf(core, s, "PING :%s", uvc_core_server_name(core));
}

/* The server is closing the connection (timeout, too much input, refused): say why. */
void irc_on_farewell(uvc_core_t* core, uvc_session_t* s, uvc_leave_t why, const char* text) {
  (void)why;
  irc_closing_link(core, s, text, strlen(text));
}

/* Flood control holds back the client's lines: one server NOTICE says so (a standard
 * reply, WARN, to a client with standard-replies). */
void irc_on_slowed(uvc_core_t* core, uvc_session_t* s, unsigned per_second) {
  const irc_state_t* st = s->proto;
  if (st != NULL && (st->caps & CAP_STANDARD_REPLIES)) {
    irc_sendf(core, s,
              ":%s WARN * SLOWED_DOWN :Your lines are being delayed to %u a second (none is "
              "lost)",
              uvc_core_server_name(core), per_second);
    return;
  }
  irc_sendf(core, s,
            ":%s NOTICE %s :*** slow down: your lines are being delayed to %u a second (none is "
            "lost)",
            uvc_core_server_name(core), irc_client(s), per_second);
}

/* The real name of an IRC session, for the nick history. */
const char* irc_realname(const uvc_session_t* s) {
  return irc_is_irc(s) ? ((const irc_state_t*)s->proto)->realname : NULL;
}

/* The connection is gone: its state too. */
void irc_on_free(uvc_core_t* core, uvc_session_t* s) {
  irc_state_t* st = s->proto;
  if (st != NULL) {
    irc_sasl_reset(st);
    irc_set_variant(core, s, st, 0);
    if (st->capture != NULL) free(st->capture->buf);
    free(st->capture);
  }
  free(st);
  s->proto = NULL;
  s->user = "";
}

const uvc_adapter_t uvc_irc_adapter = {
    "irc",          /* name */
    1,              /* format */
    0,              /* telnet */
    0,              /* single_room */
    UVC_LINE_FLOOR, /* max_line: 8191 bytes of tags and a 512-byte line fit */
    irc_render,
    irc_on_open,
    irc_on_line,
    irc_on_toolong,
    irc_on_idle,
    irc_on_farewell,
    irc_on_free,
    irc_on_auth,
    irc_on_slowed,
    irc_on_watch,
    irc_realname,
    irc_render_variant,
    NULL, /* wrap: render and replies are already IRC lines */
    irc_on_history,
    0, /* remote */
};
