/* irc_int.h: what the files of the IRC adapter share (private to src/proto/irc/).
 *
 * The adapter is split the way ngIRCd splits its handlers, one file per concern:
 *   irc.c           the adapter's entry points, the command table and its dispatcher, the
 *                   session state, and the helpers every handler uses (replies, parameters)
 *   irc_register.c  registration, CAP, NICK, USER, PING/PONG, QUIT
 *   irc_account.c   PASS, SASL (AUTHENTICATE), NickServ, the answers of account operations
 *   irc_channel.c   JOIN, PART, TOPIC, NAMES, KICK, MODE
 *   irc_message.c   PRIVMSG, NOTICE, CTCP, AWAY
 *   irc_query.c     WHO, WHOIS, LIST, ISON, USERHOST, MOTD, LUSERS, VERSION
 *   irc_render.c    core events as IRC lines
 *   irc_parse.c     cutting an input line into its parts
 *   irc_ws.c        the same adapter over WebSocket (each line in a frame of its own)
 * numerics.h holds every numeric reply with its format.
 *
 * A session is registered when it is present in the core. Before that, the nick it asked
 * for waits in s->nick (valid and free when asked for; checked again on entering) and its
 * USER name in s->user; the rest of its state is the small irc_state_t in s->proto.
 *
 * Every line sent is at most 512 bytes with its CRLF: replies are cut at a character
 * boundary, and a long message from a text user is split over several lines.
 */
#ifndef UVCHAT_IRC_INT_H
#define UVCHAT_IRC_INT_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "numerics.h"
#include "uvchat/clean.h"
#include "uvchat/irc.h"
#include "uvchat/version.h"

#define CRLF          "\r\n"
#define OUT_MAX       (UVC_IRC_LINE - 2) /* bytes of a line before its CRLF */
#define BUF_SIZE      1024               /* a reply is formatted here, then cut to OUT_MAX */
#define REALNAME_MAX  64                 /* bytes of a USER realname that are kept */
#define TARGETS_MAX   4                  /* PRIVMSG, NOTICE and KICK targets (TARGMAX) */
#define MODES_MAX     4                  /* +o/-o changes in one MODE command (MODES) */
#define USERHOST_MAX  5                  /* nicks in one USERHOST */
#define WHO_MAX       1000               /* people one WHO mask lists at most */
#define ECHO_MAX      64                 /* bytes of a client's word repeated in an error */
#define CTCP_CMD_MAX  32                 /* longest CTCP command passed on */
#define VERSION_TEXT  "uvchat-" UVCHAT_VERSION
#define TEXT_REALNAME "text user"
#define SASL_CHUNK    400 /* AUTHENTICATE payloads come in pieces of this size */
#define SASL_MAX                                                      \
  1600 /* base64 bytes of a SASL payload at most: 4 pieces, more than \
          two nicks and the longest password (1024 bytes) need */
#define NICKSERV "NickServ"

#if defined(__GNUC__)
#define IRC_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define IRC_PRINTF(f, a)
#endif

/* Registration, user-mode and account flags. */
enum {
  IRC_GOT_USER = 1,   /* USER was given */
  IRC_PASS_OK = 2,    /* PASS matched the server password */
  IRC_CAP_OPEN = 4,   /* CAP LS/REQ before registration: wait for CAP END */
  IRC_CAP_302 = 16,   /* CAP LS 302 or later: capabilities are listed with their values */
  IRC_SASL_WAIT = 32, /* AUTHENTICATE PLAIN was accepted: the credentials come next */
  IRC_AUTH_BUSY = 64, /* an account operation is under way (registration waits for it) */
  IRC_AUTH_NS = 128,  /* ... started through NickServ (else through SASL) */
  IRC_OPER = 256      /* unused: server operators are the core's (s->umodes & UVC_USER_OPER) */
};

/* Capabilities (IRCv3). Only those whose whole behaviour is implemented are offered (see
 * kCaps in irc_register.c). Those in CAP_RENDER change how core events are rendered for a
 * client, so they choose its render variant (irc_set_variant). */
enum {
  CAP_MULTI_PREFIX = 1,        /* every prefix in NAMES and WHO (there is only @) */
  CAP_USERHOST_IN_NAMES = 2,   /* nick!user@host in NAMES */
  CAP_SASL = 4,                /* AUTHENTICATE */
  CAP_SERVER_TIME = 8,         /* @time= on every event */
  CAP_MESSAGE_TAGS = 16,       /* @msgid= and client-only tags relayed; TAGMSG */
  CAP_ECHO_MESSAGE = 32,       /* one's own PRIVMSG, NOTICE and TAGMSG come back */
  CAP_BATCH = 64,              /* BATCH (for labeled-response) */
  CAP_LABELED_RESPONSE = 128,  /* @label= on the answer to a labeled command */
  CAP_ACCOUNT_TAG = 256,       /* @account= on events from logged-in users */
  CAP_ACCOUNT_NOTIFY = 512,    /* ACCOUNT when a peer logs in or out */
  CAP_AWAY_NOTIFY = 1024,      /* AWAY when a peer goes away or comes back */
  CAP_EXTENDED_JOIN = 2048,    /* JOIN #room account :realname */
  CAP_CAP_NOTIFY = 4096,       /* CAP NEW/DEL (the set never changes while running) */
  CAP_STANDARD_REPLIES = 8192, /* FAIL/WARN/NOTE understood: used instead of server notices */
  CAP_INVITE_NOTIFY = 16384,   /* INVITE when someone is invited to a room one may invite to */
  CAP_SETNAME = 32768,         /* SETNAME when a peer (or oneself) changes the real name */
  CAP_CHATHISTORY = 65536      /* draft/chathistory: no replay on JOIN; CHATHISTORY */
};
#define CAP_RENDER                                                                               \
  (CAP_SERVER_TIME | CAP_MESSAGE_TAGS | CAP_ACCOUNT_TAG | CAP_ACCOUNT_NOTIFY | CAP_AWAY_NOTIFY | \
   CAP_EXTENDED_JOIN | CAP_INVITE_NOTIFY | CAP_SETNAME)

#define LABEL_MAX 64 /* bytes of a label (labeled-response) */

/* What a labeled command's answer collects before it goes out as one (labeled-response):
 * every line for the client, replies and events alike, while the command runs. */
typedef struct irc_capture {
  char label[LABEL_MAX + 1];
  uint8_t slot;  /* the session's render slot before (capturing renders for it alone) */
  uint8_t later; /* the answer comes later and carries the label itself (CHATHISTORY) */
  size_t len, cap;
  char* buf; /* lines, each with its CRLF */
} irc_capture_t;

typedef struct irc_state {
  uint32_t caps;
  uint16_t flags;
  uint16_t sasl_len;           /* bytes collected in sasl */
  char* sasl;                  /* the SASL payload's pieces so far (SASL_MAX bytes), or NULL */
  uint8_t variant;             /* the render variant in use (irc_set_variant) */
  uint32_t batch_seq;          /* the last batch id given */
  irc_capture_t* capture;      /* while a labeled command runs, else NULL */
  char user[UVC_USER_MAX + 1]; /* "~" + the USER name; the session's user points here */
  char realname[];             /* NUL-terminated; grows when USER arrives */
} irc_state_t;

/* ------------------------------------------------------------------------------------------
 * The command table (irc.c)
 *
 * One row per command: who may call it and how many parameters it takes. The dispatcher
 * checks both once, so a handler only does its work: it runs with at least min parameters
 * (more than max are dropped), and only in the registration state its row allows.
 * ---------------------------------------------------------------------------------------- */

typedef void (*irc_fn)(uvc_core_t* core, uvc_session_t* s, irc_state_t* st, const uvc_irc_msg_t* m);

enum {
  BEFORE = 1, /* before registration (only BEFORE: 462 after) */
  AFTER = 2,  /* once registered (only AFTER: 451 before) */
  ANY = 3,
  OPER = 4 /* with AFTER: server operators only (481 for others) */
};

typedef struct irc_cmd {
  const char* name;
  irc_fn fn;
  uint8_t when;     /* BEFORE, AFTER, ANY; OPER */
  uint8_t min, max; /* parameters; more than max are ignored */
  uint8_t quiet;    /* NOTICE: never answered with an error */
  uint16_t none;    /* the numeric for no parameters at all (0: 461) */
  uint16_t few;     /* the numeric for some but too few (0: 461) */
} irc_cmd_t;

/* ------------------------------------------------------------------------------------------
 * The adapter's entry points (irc.c), shared by the WebSocket adapters (irc_ws.c)
 * ---------------------------------------------------------------------------------------- */

void irc_on_open(uvc_core_t* core, uvc_session_t* s);
void irc_on_line(uvc_core_t* core, uvc_session_t* s, const char* line, size_t len);
void irc_on_toolong(uvc_core_t* core, uvc_session_t* s);
void irc_on_idle(uvc_core_t* core, uvc_session_t* s);
void irc_on_farewell(uvc_core_t* core, uvc_session_t* s, uvc_leave_t why, const char* text);
void irc_on_slowed(uvc_core_t* core, uvc_session_t* s, unsigned per_second);
const char* irc_realname(const uvc_session_t* s);
void irc_on_free(uvc_core_t* core, uvc_session_t* s);

/* ------------------------------------------------------------------------------------------
 * Helpers (irc.c)
 * ---------------------------------------------------------------------------------------- */

/* Whether s is an IRC session (with its state). */
int irc_is_irc(const uvc_session_t* s);
/* Whether s has user mode +i. */
int irc_is_invisible(const uvc_session_t* s);
/* The realname WHO and WHOIS show: USER's for IRC users, a fixed one for text users. */
const char* irc_realname_of(const uvc_session_t* s);
/* How numerics address s: its nick once registered, "*" before. */
const char* irc_client(const uvc_session_t* s);
/* Whether a parameter equals a keyword, ignoring case. */
int irc_str_eq(const uvc_irc_str_t* x, const char* name);
/* A copy of a client's word that is safe to repeat inside a reply (see irc.c). */
const char* irc_echo(const char* p, size_t n, char out[ECHO_MAX + 1]);
/* Whether a target is NickServ. */
int irc_is_nickserv(const uvc_irc_str_t* target);
/* The decimal number at the start of a parameter (0 when none; capped at 99999). */
int irc_atoi(const uvc_irc_str_t* x);
/* Cleans text (keeping IRC formatting) into the core's scratch buffer, cut to max bytes. */
size_t irc_clean(uvc_core_t* core, const char* text, size_t len, size_t max, const char** out);
/* Iterates the comma-separated items of a list; returns 0 at the end. */
int irc_next_item(const uvc_irc_str_t* list, size_t* pos, uvc_irc_str_t* item);
/* Whether s may see u in WHO and NAMES: invisible users only show to who shares a room. */
int irc_visible_to(const uvc_session_t* s, const uvc_session_t* u);
/* The room a channel parameter names, or NULL after answering 403 (unless quiet). */
uvc_room_t* irc_find_room(uvc_core_t* core, uvc_session_t* s, const uvc_irc_str_t* name, int quiet);

/* Hands a rendered message to s alone, or into its capture while a labeled command runs. */
void irc_send_msg(uvc_core_t* core, uvc_session_t* s, uvc_msg_t* m);
/* Sends buf[0..n) plus CRLF to s alone, cut to fit one IRC line (buf holds OUT_MAX + 2). */
void irc_send_buf(uvc_core_t* core, uvc_session_t* s, char* buf, size_t n);
/* Formats into buf (BUF_SIZE bytes) at offset `at`; returns the new length. */
IRC_PRINTF(3, 0) size_t irc_vformat(char* buf, size_t at, const char* fmt, va_list ap);
/* Sends one formatted line (no prefix added) to s. */
IRC_PRINTF(3, 4) void irc_sendf(uvc_core_t* core, uvc_session_t* s, const char* fmt, ...);
/* Sends ":server NNN client <formatted>" to s. Called with a numerics.h name, which stands
 * for the code and its format: irc_num(core, s, RPL_WELCOME, network, nick). */
IRC_PRINTF(4, 5) void irc_num(uvc_core_t* core, uvc_session_t* s, int code, const char* fmt, ...);
/* Sends "ERROR :Closing Link: <nick or *> (<why>)" to s. */
void irc_closing_link(uvc_core_t* core, uvc_session_t* s, const char* why, size_t len);
/* The prefix ":nick!user@server" of a user, with an optional other nick; its length. */
int irc_user_prefix(const uvc_core_t* core, char* out, size_t cap, const uvc_session_t* u,
                    const char* nick, int len);
/* The same for someone as an event shows them. */
int irc_who_prefix(char* out, size_t cap, const uvc_event_who_t* who, const char* nick, size_t len);
/* Whether a session of adapter a is an IRC client (whose lines were fitted to IRC's length). */
int irc_format_is_irc(const uvc_adapter_t* a);

/* ------------------------------------------------------------------------------------------
 * History (irc_history.c)
 * ---------------------------------------------------------------------------------------- */

void irc_cmd_chathistory(uvc_core_t* core, uvc_session_t* s, irc_state_t* st,
                         const uvc_irc_msg_t* m);
/* The adapter's on_history entry point. */
void irc_on_history(uvc_core_t* core, uvc_session_t* s, const uvc_history_query_t* q, int status,
                    const uvc_event_t* ev, size_t n);
/* s joined room: a client without draft/chathistory gets the last lines as NOTICEs. */
void irc_history_joined(uvc_core_t* core, uvc_session_t* s, irc_state_t* st,
                        const uvc_room_t* room);

/* ------------------------------------------------------------------------------------------
 * Registration (irc_register.c)
 * ---------------------------------------------------------------------------------------- */

/* Completes the registration once NICK and USER are in and nothing is pending. */
void irc_try_register(uvc_core_t* core, uvc_session_t* s);

void irc_cmd_cap(uvc_core_t* core, uvc_session_t* s, irc_state_t* st, const uvc_irc_msg_t* m);
void irc_cmd_nick(uvc_core_t* core, uvc_session_t* s, irc_state_t* st, const uvc_irc_msg_t* m);
void irc_cmd_user(uvc_core_t* core, uvc_session_t* s, irc_state_t* st, const uvc_irc_msg_t* m);
void irc_cmd_ping(uvc_core_t* core, uvc_session_t* s, irc_state_t* st, const uvc_irc_msg_t* m);
void irc_cmd_pong(uvc_core_t* core, uvc_session_t* s, irc_state_t* st, const uvc_irc_msg_t* m);
void irc_cmd_quit(uvc_core_t* core, uvc_session_t* s, irc_state_t* st, const uvc_irc_msg_t* m);
void irc_cmd_setname(uvc_core_t* core, uvc_session_t* s, irc_state_t* st, const uvc_irc_msg_t* m);

/* ------------------------------------------------------------------------------------------
 * Accounts (irc_account.c)
 * ---------------------------------------------------------------------------------------- */

/* A NOTICE from NickServ to s. */
IRC_PRINTF(3, 4) void irc_ns_notice(uvc_core_t* core, uvc_session_t* s, const char* fmt, ...);
/* PRIVMSG NickServ :text, the account service of IRC users. */
void irc_nickserv(uvc_core_t* core, uvc_session_t* s, irc_state_t* st, const uvc_irc_str_t* t);
/* The adapter's entry point for the answer to an account operation. */
void irc_on_auth(uvc_core_t* core, uvc_session_t* s, uvc_auth_op_t op, int status,
                 const char* account, const char* detail);

/* Forgets (and wipes) a SASL payload being collected. */
void irc_sasl_reset(irc_state_t* st);

void irc_cmd_pass(uvc_core_t* core, uvc_session_t* s, irc_state_t* st, const uvc_irc_msg_t* m);
void irc_cmd_authenticate(uvc_core_t* core, uvc_session_t* s, irc_state_t* st,
                          const uvc_irc_msg_t* m);

/* ------------------------------------------------------------------------------------------
 * Channels (irc_channel.c)
 * ---------------------------------------------------------------------------------------- */

/* What a successful JOIN gets after its echo: the topic and the names. */
void irc_send_joined(uvc_core_t* core, uvc_session_t* s, const uvc_room_t* room);

void irc_cmd_join(uvc_core_t* core, uvc_session_t* s, irc_state_t* st, const uvc_irc_msg_t* m);
void irc_cmd_part(uvc_core_t* core, uvc_session_t* s, irc_state_t* st, const uvc_irc_msg_t* m);
void irc_cmd_topic(uvc_core_t* core, uvc_session_t* s, irc_state_t* st, const uvc_irc_msg_t* m);
void irc_cmd_names(uvc_core_t* core, uvc_session_t* s, irc_state_t* st, const uvc_irc_msg_t* m);
void irc_cmd_mode(uvc_core_t* core, uvc_session_t* s, irc_state_t* st, const uvc_irc_msg_t* m);
void irc_cmd_kick(uvc_core_t* core, uvc_session_t* s, irc_state_t* st, const uvc_irc_msg_t* m);
void irc_cmd_invite(uvc_core_t* core, uvc_session_t* s, irc_state_t* st, const uvc_irc_msg_t* m);
/* The membership prefix of u in room as viewer sees it: "@", "+", "" (both, "@+", with
 * multi-prefix). */
const char* irc_prefixes(const uvc_session_t* viewer, const uvc_session_t* u,
                         const uvc_room_t* room);

/* ------------------------------------------------------------------------------------------
 * Server operators (irc_oper.c)
 * ---------------------------------------------------------------------------------------- */

/* The answer to OPER (from irc_on_auth): 381 and +ow, 491 or 464. */
void irc_oper_answer(uvc_core_t* core, uvc_session_t* s, int status, const char* name,
                     const char* detail);
void irc_cmd_oper(uvc_core_t* core, uvc_session_t* s, irc_state_t* st, const uvc_irc_msg_t* m);
void irc_cmd_kill(uvc_core_t* core, uvc_session_t* s, irc_state_t* st, const uvc_irc_msg_t* m);
void irc_cmd_wallops(uvc_core_t* core, uvc_session_t* s, irc_state_t* st, const uvc_irc_msg_t* m);
void irc_cmd_rehash(uvc_core_t* core, uvc_session_t* s, irc_state_t* st, const uvc_irc_msg_t* m);
void irc_cmd_die(uvc_core_t* core, uvc_session_t* s, irc_state_t* st, const uvc_irc_msg_t* m);

/* ------------------------------------------------------------------------------------------
 * Messages (irc_message.c)
 * ---------------------------------------------------------------------------------------- */

void irc_cmd_privmsg(uvc_core_t* core, uvc_session_t* s, irc_state_t* st, const uvc_irc_msg_t* m);
void irc_cmd_notice(uvc_core_t* core, uvc_session_t* s, irc_state_t* st, const uvc_irc_msg_t* m);
void irc_cmd_tagmsg(uvc_core_t* core, uvc_session_t* s, irc_state_t* st, const uvc_irc_msg_t* m);
void irc_cmd_away(uvc_core_t* core, uvc_session_t* s, irc_state_t* st, const uvc_irc_msg_t* m);

/* ------------------------------------------------------------------------------------------
 * Queries (irc_query.c)
 * ---------------------------------------------------------------------------------------- */

/* The 005 lines. */
void irc_send_isupport(uvc_core_t* core, uvc_session_t* s);
/* 251, 254 and 255. */
void irc_send_lusers(uvc_core_t* core, uvc_session_t* s);
/* The message of the day (375, 372..., 376), or 422 without one. */
void irc_send_motd(uvc_core_t* core, uvc_session_t* s);

void irc_cmd_who(uvc_core_t* core, uvc_session_t* s, irc_state_t* st, const uvc_irc_msg_t* m);
void irc_cmd_whois(uvc_core_t* core, uvc_session_t* s, irc_state_t* st, const uvc_irc_msg_t* m);
void irc_cmd_whowas(uvc_core_t* core, uvc_session_t* s, irc_state_t* st, const uvc_irc_msg_t* m);
void irc_cmd_list(uvc_core_t* core, uvc_session_t* s, irc_state_t* st, const uvc_irc_msg_t* m);
void irc_cmd_ison(uvc_core_t* core, uvc_session_t* s, irc_state_t* st, const uvc_irc_msg_t* m);
void irc_cmd_userhost(uvc_core_t* core, uvc_session_t* s, irc_state_t* st, const uvc_irc_msg_t* m);
void irc_cmd_motd(uvc_core_t* core, uvc_session_t* s, irc_state_t* st, const uvc_irc_msg_t* m);
void irc_cmd_lusers(uvc_core_t* core, uvc_session_t* s, irc_state_t* st, const uvc_irc_msg_t* m);
void irc_cmd_version(uvc_core_t* core, uvc_session_t* s, irc_state_t* st, const uvc_irc_msg_t* m);

/* ------------------------------------------------------------------------------------------
 * The server itself (irc_server.c) and MONITOR (irc_monitor.c)
 * ---------------------------------------------------------------------------------------- */

/* Whether parameter i of m (when given) names this server (a mask of its name, or a nick,
 * which stands for the server it is on); else 402 and 0. */
int irc_our_server(uvc_core_t* core, uvc_session_t* s, const uvc_irc_msg_t* m, int i);
/* Calls fn with each command's name and how many times it was used (STATS m). */
void irc_each_command(void (*fn)(const char* name, unsigned count, void* arg), void* arg);

void irc_cmd_time(uvc_core_t* core, uvc_session_t* s, irc_state_t* st, const uvc_irc_msg_t* m);
void irc_cmd_info(uvc_core_t* core, uvc_session_t* s, irc_state_t* st, const uvc_irc_msg_t* m);
void irc_cmd_admin(uvc_core_t* core, uvc_session_t* s, irc_state_t* st, const uvc_irc_msg_t* m);
void irc_cmd_stats(uvc_core_t* core, uvc_session_t* s, irc_state_t* st, const uvc_irc_msg_t* m);
void irc_cmd_links(uvc_core_t* core, uvc_session_t* s, irc_state_t* st, const uvc_irc_msg_t* m);
void irc_cmd_monitor(uvc_core_t* core, uvc_session_t* s, irc_state_t* st, const uvc_irc_msg_t* m);
/* The adapter's on_watch entry point: 730 or 731 for a watched nick. */
void irc_on_watch(uvc_core_t* core, uvc_session_t* s, const uvc_session_t* who, const char* nick,
                  size_t len);

/* ------------------------------------------------------------------------------------------
 * Rendering (irc_render.c)
 * ---------------------------------------------------------------------------------------- */

/* A core event as IRC lines for clients without capabilities (the adapter's render). */
uvc_msg_t* irc_render(const uvc_event_t* ev, const uvc_render_ctx_t* ctx);
/* A core event for the clients of a render variant (the adapter's render_variant). */
uvc_msg_t* irc_render_variant(const uvc_event_t* ev, const uvc_render_ctx_t* ctx,
                              const uvc_session_t* s, unsigned v);
/* ev rendered for the capabilities caps. */
uvc_msg_t* irc_render_caps(const uvc_event_t* ev, const uvc_render_ctx_t* ctx, unsigned caps);
/* Chooses s's render variant from its capabilities (after CAP REQ), or gives it back
 * (caps 0, when the session goes). */
void irc_set_variant(uvc_core_t* core, uvc_session_t* s, irc_state_t* st, unsigned caps);
/* The message s just sent, back to s (echo-message): the core's last event, as s sees it. */
void irc_echo_message(uvc_core_t* core, uvc_session_t* s, uvc_event_type_t type,
                      const uvc_room_t* room, const uvc_session_t* to, const char* text, size_t len,
                      int notice, const char* tags, size_t tags_len);

#endif
