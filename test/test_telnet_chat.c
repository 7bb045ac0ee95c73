/* test_telnet_chat.c: telnet users against the real server: each negotiation over a raw
 * socket, and Debian's own telnet client (inetutils) in a pseudo-terminal. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "unit.h"

#include "harness.h"

#ifndef _WIN32
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
#if defined(__APPLE__)
#include <util.h>
#elif defined(__FreeBSD__)
#include <libutil.h>
#else
#include <pty.h>
#endif
#endif

#define IAC        "\xFF"
#define DO         "\xFD"
#define WILL       "\xFB"
#define WONT       "\xFC"
#define DONT       "\xFE"
#define SB         "\xFA"
#define SE         "\xF0"
#define TM         "\x06"
#define ASK_BINARY IAC DO "\x00" /* the server's question, once a client speaks telnet */
#define HINT       "*** Ctrl-C does nothing here: type /quit to leave"
#define AYT_REPLY  "[uvchat: yes, you are connected]"

static th_server_t srv;

static void start(const char* const* args) {
  th_server_start(&srv, args);
}

static int start_default(void** state) {
  (void)state;
  start(NULL);
  return 0;
}

static int stop_server(void** state) {
  (void)state;
  th_server_stop(&srv);
  th_server_free(&srv);
  return 0;
}

/* ------------------------------------------------------------------------------------------
 * Raw bytes
 * ---------------------------------------------------------------------------------------- */

typedef struct want {
  th_client_t* c;
  size_t n;
} want_t;

static int has_bytes(void* arg) {
  want_t* w = arg;
  return w->c->in.len - w->c->in.pos >= w->n || w->c->eof;
}

/* Asserts that the next bytes c receives are exactly bytes[0..n) (telnet answers have no
 * newline, and may hold NUL). */
static void expect_bytes(th_client_t* c, const char* bytes, size_t n) {
  want_t w = {c, n};
  size_t have;
  th_start_reading(c);
  th_run_until(has_bytes, &w, TH_WAIT_MS);
  have = c->in.len - c->in.pos;
  if (have < n || memcmp(c->in.p + c->in.pos, bytes, n) != 0) {
    size_t i;
    fprintf(stderr, "expected:");
    for (i = 0; i < n; i++)
      fprintf(stderr, " %02x", (unsigned char)bytes[i]);
    fprintf(stderr, "\ngot:     ");
    for (i = 0; i < have && i < 64; i++)
      fprintf(stderr, " %02x", (unsigned char)c->in.p[c->in.pos + i]);
    fail_msg("the server's telnet answer is not what a telnet client needs");
  }
  c->in.pos += n;
}
#define EXPECT_BYTES(c, lit) expect_bytes((c), (lit), sizeof(lit) - 1)
#define SEND(c, lit)         th_send((c), (lit), sizeof(lit) - 1)

/* A text user named nick, past its greeting. */
static th_client_t* user(const char* nick) {
  th_client_t* c = th_text_connect(srv.port);
  char line[64], want[96];
  const char* l;
  snprintf(line, sizeof(line), "/nick %s\n", nick);
  th_sendf(c, line);
  snprintf(want, sizeof(want), " is now known as %s", nick);
  while ((l = th_line(c, TH_WAIT_MS)) != NULL && strstr(l, want) == NULL)
    ;
  if (l == NULL) fail_msg("the rename to %s never came", nick);
  return c;
}

/* Ctrl-C in inetutils telnet: IAC IP IAC DO TIMING-MARK. Without WILL TIMING-MARK the client
 * shows nothing the server sends, ever again. */
static void timing_mark_is_answered_and_chat_goes_on(void** state) {
  th_client_t *nora = user("nora"), *tess = user("tess"); /* tess hears nothing before */
  (void)state;
  SEND(tess, IAC "\xF4" IAC DO TM);
  EXPECT_BYTES(tess, ASK_BINARY IAC WILL TM HINT "\r\n");
  th_sendf(nora, "can you hear me?\n");
  th_expect_eventually(tess, "<nora> can you hear me?");
  SEND(tess, IAC "\xF4" IAC DO TM); /* again: answered again, no second hint */
  EXPECT_BYTES(tess, IAC WILL TM);
  th_sendf(nora, "and now?\n");
  th_expect(tess, "<nora> and now?");
  th_sendf(tess, "yes\r\n");
  th_expect_eventually(nora, "<tess> yes");
  th_close(tess);
  th_close(nora);
}

/* What uvchat does not support is refused once; a repeated request or a confirmation gets
 * no answer (the next bytes after the refusals are the /who reply). */
static void options_are_refused_once(void** state) {
  th_client_t* tess = user("tess");
  (void)state;
  SEND(tess, IAC DO "\x01" IAC WILL "\x1F" IAC DO "\x01" IAC WILL "\x18");
  EXPECT_BYTES(tess, ASK_BINARY IAC WONT "\x01" IAC DONT "\x1F" IAC DONT "\x18");
  SEND(tess, IAC DO "\x01" IAC DONT "\x01" IAC WONT "\x1F" IAC WILL "\x00" IAC DO "\x03");
  EXPECT_BYTES(tess, IAC WONT "\x03"); /* WILL BINARY answered our question: no reply */
  th_sendf(tess, "/who\n");
  th_expect(tess, "*** 1 person in #lobby:");
  th_close(tess);
}

/* AYT is answered at once, even in the middle of a line; EC erases a character. */
static void are_you_there_and_erase_mid_line(void** state) {
  th_client_t *nora = user("nora"), *tess = user("tess"); /* tess hears nothing before */
  (void)state;
  SEND(tess, "half a li" IAC "\xF6");
  EXPECT_BYTES(tess, ASK_BINARY AYT_REPLY "\r\n");
  SEND(tess, "nx" IAC
             "\xF7"
             "e\r\n");
  th_expect_eventually(nora, "<tess> half a line");
  SEND(tess, "sp" IAC
             "\xF1"
             "ace" IAC
             "\xF9"
             "s\n"); /* NOP and GA vanish */
  th_expect(nora, "<tess> spaces");
  th_close(tess);
  th_close(nora);
}

/* A subnegotiation split over several writes (an escaped 0xFF and a newline inside). */
static void subnegotiation_across_writes(void** state) {
  th_client_t *nora = user("nora"), *tess = user("tess"); /* tess hears nothing before */
  (void)state;
  SEND(tess, "be" IAC SB "\x18");
  th_drain(tess);
  SEND(tess, "\x00xt\nerm" IAC IAC);
  th_drain(tess);
  SEND(tess, IAC SE "fore\n");
  th_expect_eventually(nora, "<tess> before");
  /* random binary with FF FA in it: the next command ends it, the user is heard again */
  SEND(tess, IAC SB "\x01\x9c\x42junk" IAC
                    "\xF4"
                    "still here\n");
  th_expect(nora, "<tess> still here");
  th_close(tess);
  th_close(nora);
}

/* IAC SB and no IAC SE, then 1 MiB: dropped at --max-input, with the reason. */
static void endless_subnegotiation_is_dropped(void** state) {
  th_client_t* tess = user("tess");
  static char chunk[16384];
  int i;
  (void)state;
  memset(chunk, 'A', sizeof(chunk));
  SEND(tess, IAC SB "\x18");
  for (i = 0; i < 64; i++)
    th_send(tess, chunk, sizeof(chunk));
  EXPECT_BYTES(tess, ASK_BINARY);
  th_expect(tess, "*** Disconnected: a telnet negotiation longer than 16384 bytes");
  assert_true(th_wait_closed(tess, TH_WAIT_MS));
  assert_true(th_server_wait_log(&srv, "a telnet negotiation longer than 16384 bytes", TH_WAIT_MS));
  th_close(tess);
}

/* The count is of negotiation since the last line: a long session of telnet commands, with
 * lines between them in reads of their own, is never mistaken for an endless one. */
static void negotiation_between_lines_is_not_endless(void** state) {
  th_client_t *nora = user("nora"), *tess = user("tess");
  static char sb[12000];
  char line[16], want[32];
  int i;
  (void)state;
  memset(sb, 'A', sizeof(sb));
  memcpy(sb, IAC SB "\x18", 3);
  memcpy(sb + sizeof(sb) - 4, IAC SE IAC "\xF6", 4); /* and AYT, to know it was read */
  for (i = 0; i < 3; i++) {
    th_send(tess, sb, sizeof(sb)); /* 12,000 bytes of negotiation, then a line alone */
    if (i == 0)
      EXPECT_BYTES(tess, ASK_BINARY AYT_REPLY "\r\n");
    else
      EXPECT_BYTES(tess, AYT_REPLY "\r\n");
    snprintf(line, sizeof(line), "line %d\n", i);
    th_sendf(tess, line);
    snprintf(want, sizeof(want), "<tess> line %d", i);
    th_expect_eventually(nora, want);
  }
  assert_false(th_server_logged(&srv, "a telnet negotiation longer than"));
  th_close(tess);
  th_close(nora);
}

/* Negotiation that never ends is on the clock like an unfinished line: --line-timeout applies. */
static void unfinished_subnegotiation_times_out(void** state) {
  th_client_t* tess;
  (void)state;
  {
    const char* args[] = {"--line-timeout", "1", NULL};
    start(args);
  }
  tess = user("tess");
  SEND(tess, IAC SB "\x18\x00xterm");
  EXPECT_BYTES(tess, ASK_BINARY);
  th_expect(tess, "*** Disconnected: a telnet negotiation was left unfinished for 1 seconds");
  assert_true(th_wait_closed(tess, TH_WAIT_MS));
  th_close(tess);
}

/* ------------------------------------------------------------------------------------------
 * The real telnet client, in a pseudo-terminal
 * ---------------------------------------------------------------------------------------- */

#define TELNET "/usr/bin/telnet"

#ifndef _WIN32
typedef struct seen {
  th_client_t* c;
  const char* text;
} seen_t;

/* Where text is in what the terminal showed and nobody looked at yet, or NULL. */
static const char* find(th_client_t* c, const char* text) {
  size_t n = strlen(text), i;
  if (c->in.p == NULL) return NULL;
  for (i = c->in.pos; i + n <= c->in.len; i++)
    if (memcmp(c->in.p + i, text, n) == 0) return c->in.p + i;
  return NULL;
}

static int shows(void* arg) {
  seen_t* s = arg;
  return find(s->c, s->text) != NULL || s->c->eof;
}

/* Waits until the terminal shows text (lines there end "\r\r\n", so they are not compared
 * whole); what came before it is looked at no more. */
static void screen_shows(th_client_t* c, const char* text) {
  seen_t s = {c, text};
  const char* at;
  th_run_until(shows, &s, TH_WAIT_MS);
  if ((at = find(c, text)) == NULL) {
    fail_msg("the telnet user never saw \"%s\"; the screen had:\n%.*s", text,
             (int)(c->in.len - c->in.pos), c->in.p ? c->in.p + c->in.pos : "");
  }
  c->in.pos = (size_t)(at - c->in.p) + strlen(text);
}

static void on_pty_closed(uv_handle_t* h) {
  th_client_t* c = h->data;
  free(c->in.p);
  free(c);
  free(h);
}

/* Runs telnet 127.0.0.1 port in a new pseudo-terminal; the client reads what its screen
 * shows and types by sending. */
static th_client_t* telnet_spawn(int port, pid_t* pid) {
  th_client_t* c = calloc(1, sizeof(*c));
  uv_pipe_t* p = malloc(sizeof(*p));
  struct winsize ws;
  char portstr[16];
  int master = -1;
  assert_non_null(c);
  assert_non_null(p);
  memset(&ws, 0, sizeof(ws));
  ws.ws_row = 24;
  ws.ws_col = 200;
  snprintf(portstr, sizeof(portstr), "%d", port);
  *pid = forkpty(&master, NULL, NULL, &ws);
  if (*pid == 0) {
    execl(TELNET, "telnet", "127.0.0.1", portstr, (char*)NULL);
    _exit(127);
  }
  assert_true(*pid > 0);
  uv_pipe_init(th_loop(), p, 0);
  assert_int_equal(uv_pipe_open(p, master), 0);
  p->data = c;
  c->rd = c->wr = (uv_stream_t*)p;
  c->connected = 1;
  th_start_reading(c);
  return c;
}

static void telnet_close(th_client_t* c, pid_t pid) {
  int status;
  kill(pid, SIGKILL);
  waitpid(pid, &status, 0);
  uv_close((uv_handle_t*)c->rd, on_pty_closed);
  uv_run(th_loop(), UV_RUN_NOWAIT);
}
#endif

/* Debian's telnet: the user types a line with ✓ and 本 (which inetutils sends as IAC BRK
 * IAC DO TIMING-MARK in place of a byte), presses Ctrl-C, types ✓ 本 é, asks whether the
 * server is there, and still receives the next chat line and a /who reply. */
static void real_telnet_keeps_hearing(void** state) {
#ifdef _WIN32
  (void)state;
  skip();
#else
  th_client_t *nora, *t;
  pid_t pid;
  (void)state;
  if (access(TELNET, X_OK) != 0) {
    fprintf(stderr, "%s is not installed (Debian: inetutils-telnet): skipped\n", TELNET);
    skip();
  }
  nora = user("nora");
  t = telnet_spawn(srv.port, &pid);
  screen_shows(t, "*** Welcome to uvchat");
  th_sendf(t, "/nick tess\r");
  screen_shows(t, "is now known as tess");
  th_sendf(t, "\xE2\x9C\x93 first \xE6\x9C\xAC\r"); /* before BINARY: mangled, repaired */
  th_expect_eventually(nora, "<tess> \xE2\x9C\x93 first \xE6\x9C\xAC");
  th_sendf(t, "\x03"); /* Ctrl-C */
  screen_shows(t, HINT);
  th_sendf(t, "\xE2\x9C\x93 \xE6\x9C\xAC \xC3\xA9\r");
  th_expect(nora, "<tess> \xE2\x9C\x93 \xE6\x9C\xAC \xC3\xA9");
  th_sendf(nora, "welcome back, tess\n");
  screen_shows(t, "<nora> welcome back, tess");
  th_sendf(t, "\x1D"); /* ^], telnet's escape: its own prompt */
  screen_shows(t, "telnet>");
  th_sendf(t, "send ayt\r");
  screen_shows(t, AYT_REPLY);
  th_sendf(t, "/who\r");
  screen_shows(t, "*** 2 people in #lobby:");
  screen_shows(t, "nora");
  th_sendf(t, "/quit\r");
  screen_shows(t, "*** Bye, tess!");
  /* The server closes; telnet says so and exits (its last words may be lost with the pty:
   * the end of the pty is what counts). */
  assert_true(th_wait_closed(t, TH_WAIT_MS));
  telnet_close(t, pid);
  th_close(nora);
#endif
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(timing_mark_is_answered_and_chat_goes_on, start_default,
                                      stop_server),
      cmocka_unit_test_setup_teardown(options_are_refused_once, start_default, stop_server),
      cmocka_unit_test_setup_teardown(are_you_there_and_erase_mid_line, start_default, stop_server),
      cmocka_unit_test_setup_teardown(subnegotiation_across_writes, start_default, stop_server),
      cmocka_unit_test_setup_teardown(endless_subnegotiation_is_dropped, start_default,
                                      stop_server),
      cmocka_unit_test_setup_teardown(negotiation_between_lines_is_not_endless, start_default,
                                      stop_server),
      cmocka_unit_test_teardown(unfinished_subnegotiation_times_out, stop_server),
      cmocka_unit_test_setup_teardown(real_telnet_keeps_hearing, start_default, stop_server),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
