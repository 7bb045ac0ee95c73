/* irc_oper.c: server operators: OPER, KILL, WALLOPS, REHASH, DIE. The command table lets
 * only operators (user mode +o) run all but OPER (481 for others). */
#include "irc_int.h"

#include <string.h>

void irc_oper_answer(uvc_core_t* core, uvc_session_t* s, int status, const char* name,
                     const char* detail) {
  if (status == 0) {
    irc_num(core, s, RPL_YOUREOPER);
    irc_sendf(core, s, ":%s!%s@%s MODE %s :+ow", s->nick, s->user, uvc_core_server_name(core),
              s->nick);
    (void)name;
    return;
  }
  if (status == UVC_EOPER_UNAVAILABLE || status == UVC_EOPERS_UNAVAILABLE)
    irc_num(core, s, ERR_NOOPERHOST);
  else if (status == UVC_EOPER_FAILED)
    irc_num(core, s, ERR_PASSWDINCORRECT);
  else /* throttled, busy: the reason in words */
    irc_num(core, s, ERR_PASSWDMISMATCH, detail != NULL ? detail : uvc_strerror(status));
}

/* OPER name password: checked off the loop; the answer comes through irc_on_auth. */
void irc_cmd_oper(uvc_core_t* core, uvc_session_t* s, irc_state_t* st, const uvc_irc_msg_t* m) {
  (void)st;
  uvc_core_auth(core, s, UVC_AUTH_OPER, m->params[0].p, m->params[0].n, m->params[1].p,
                m->params[1].n, NULL, 0);
}

/* KILL nick :reason: the victim gets "ERROR :Closing Link: nick (Killed (oper (reason)))"
 * and everyone who shares a room with it "QUIT :Killed (oper (reason))". */
void irc_cmd_kill(uvc_core_t* core, uvc_session_t* s, irc_state_t* st, const uvc_irc_msg_t* m) {
  char word[ECHO_MAX + 1];
  uvc_session_t* u = uvc_core_find(core, m->params[0].p, m->params[0].n);
  const char* text;
  size_t len;
  (void)st;
  if (u == NULL) {
    irc_num(core, s, ERR_NOSUCHNICK, irc_echo(m->params[0].p, m->params[0].n, word));
    return;
  }
  len = irc_clean(core, m->params[1].p, m->params[1].n, UVC_REASON_MAX, &text);
  (void)uvc_core_kill(core, s, u, text, len);
}

/* WALLOPS :text, to every operator and user with +w. */
void irc_cmd_wallops(uvc_core_t* core, uvc_session_t* s, irc_state_t* st, const uvc_irc_msg_t* m) {
  const char* text;
  size_t len;
  (void)st;
  len = irc_clean(core, m->params[0].p, m->params[0].n, OUT_MAX, &text);
  if (len == 0) {
    irc_num(core, s, ERR_NEEDMOREPARAMS, "WALLOPS");
    return;
  }
  (void)uvc_core_wallops(core, s, text, len);
}

/* REHASH: 382, then the settings are read again (the log says what changed). */
void irc_cmd_rehash(uvc_core_t* core, uvc_session_t* s, irc_state_t* st, const uvc_irc_msg_t* m) {
  (void)st;
  (void)m;
  irc_num(core, s, RPL_REHASHING, "uvchat.conf");
  (void)uvc_core_rehash(core, s);
}

/* DIE: the server stops as on SIGTERM: everyone is told, output drains, exit 0. */
void irc_cmd_die(uvc_core_t* core, uvc_session_t* s, irc_state_t* st, const uvc_irc_msg_t* m) {
  (void)st;
  (void)m;
  (void)uvc_core_die(core, s);
}
