/* irc_server.c: questions about the server itself: TIME, INFO, ADMIN, STATS and LINKS. There
 * is one server, so a target naming another one gets 402. */
#include "irc_int.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

int irc_our_server(uvc_core_t* core, uvc_session_t* s, const uvc_irc_msg_t* m, int i) {
  const uvc_irc_str_t* t = &m->params[i];
  char word[ECHO_MAX + 1];
  if (m->n <= i || t->n == 0) return 1;
  if (uvc_mask_match(t->p, t->n, uvc_core_server_name(core), strlen(uvc_core_server_name(core))) ||
      uvc_core_find(core, t->p, t->n) != NULL) /* a nick stands for its server: this one */
    return 1;
  irc_num(core, s, ERR_NOSUCHSERVER, irc_echo(t->p, t->n, word));
  return 0;
}

/* TIME [server]: 391 with the server's clock (UTC). */
void irc_cmd_time(uvc_core_t* core, uvc_session_t* s, irc_state_t* st, const uvc_irc_msg_t* m) {
  time_t now = (time_t)uvc_core_now(core);
  struct tm* tm = gmtime(&now);
  char when[64];
  (void)st;
  if (!irc_our_server(core, s, m, 0)) return;
  if (tm == NULL || strftime(when, sizeof(when), "%A %B %d %Y -- %H:%M:%S +00:00", tm) == 0)
    snprintf(when, sizeof(when), "%lld", (long long)now);
  irc_num(core, s, RPL_TIME, uvc_core_server_name(core), when);
}

/* INFO [server]: a few 371 lines about the program, then 374. */
void irc_cmd_info(uvc_core_t* core, uvc_session_t* s, irc_state_t* st, const uvc_irc_msg_t* m) {
  time_t started = (time_t)uvc_core_started(core);
  struct tm* tm = gmtime(&started);
  char line[128], when[64];
  (void)st;
  if (!irc_our_server(core, s, m, 0)) return;
  irc_num(core, s, RPL_INFO, VERSION_TEXT ": a chat server for IRC and plain-text clients");
  irc_num(core, s, RPL_INFO, "written in C on libuv; IRC and nc/telnet users share the rooms");
  if (tm != NULL && strftime(when, sizeof(when), "%a %b %d %Y at %H:%M:%S UTC", tm) != 0) {
    snprintf(line, sizeof(line), "running since %s", when);
    irc_num(core, s, RPL_INFO, line);
  }
  irc_num(core, s, RPL_ENDOFINFO);
}

/* ADMIN [server]: 256 to 259. No administrator is configured: the lines say so. */
void irc_cmd_admin(uvc_core_t* core, uvc_session_t* s, irc_state_t* st, const uvc_irc_msg_t* m) {
  (void)st;
  if (!irc_our_server(core, s, m, 0)) return;
  irc_num(core, s, RPL_ADMINME, uvc_core_server_name(core));
  irc_num(core, s, RPL_ADMINLOC1, "uvchat chat server");
  irc_num(core, s, RPL_ADMINLOC2, "no administrator details are configured");
  irc_num(core, s, RPL_ADMINEMAIL, "-");
}

/* One 212 line for STATS m. */
static void stats_command(const char* name, unsigned count, void* arg) {
  void** a = arg;
  if (count > 0) irc_num(a[0], a[1], RPL_STATSCOMMANDS, name, count);
}

/* STATS [letter [server]]: u, the uptime (242); m, how often each command was used (212);
 * any other letter (l included: connections are not counted here) only 219. */
void irc_cmd_stats(uvc_core_t* core, uvc_session_t* s, irc_state_t* st, const uvc_irc_msg_t* m) {
  char letter = m->n > 0 && m->params[0].n > 0 ? m->params[0].p[0] : '*';
  (void)st;
  if (!irc_our_server(core, s, m, 1)) return;
  if (letter == 'u') {
    int64_t up = uvc_core_now(core) - uvc_core_started(core);
    if (up < 0) up = 0;
    irc_num(core, s, RPL_STATSUPTIME, (unsigned)(up / 86400), (unsigned)(up / 3600 % 24),
            (unsigned)(up / 60 % 60), (unsigned)(up % 60));
  } else if (letter == 'm') {
    void* a[2];
    a[0] = core;
    a[1] = s;
    irc_each_command(stats_command, a);
  }
  if ((unsigned char)letter <= ' ' || (unsigned char)letter >= 0x7F) letter = '*';
  irc_num(core, s, RPL_ENDOFSTATS, letter);
}

/* LINKS [[server] mask]: this server alone (364) when the mask matches it, then 365. */
void irc_cmd_links(uvc_core_t* core, uvc_session_t* s, irc_state_t* st, const uvc_irc_msg_t* m) {
  const uvc_irc_str_t* mask = m->n > 0 ? &m->params[m->n - 1] : NULL;
  char word[ECHO_MAX + 1];
  (void)st;
  if (m->n >= 2 && !irc_our_server(core, s, m, 0)) return;
  if (mask == NULL || mask->n == 0 ||
      uvc_mask_match(mask->p, mask->n, uvc_core_server_name(core),
                     strlen(uvc_core_server_name(core))))
    irc_num(core, s, RPL_LINKS, uvc_core_server_name(core), uvc_core_server_name(core),
            "uvchat chat server");
  irc_num(core, s, RPL_ENDOFLINKS,
          mask != NULL && mask->n > 0 ? irc_echo(mask->p, mask->n, word) : "*");
}
