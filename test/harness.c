/* harness.c: the integration-test driver: the real server process and real sockets on one
 * libuv loop, every wait bounded by a deadline. */
#include "harness.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "tmpdir.h"
#include "unit.h"

#ifndef UVCHAT_BIN
#error "UVCHAT_BIN must name the server binary"
#endif

static uv_loop_t* g_loop;

uv_loop_t* th_loop(void) {
  if (g_loop == NULL) {
#ifdef SIGPIPE
    signal(SIGPIPE, SIG_IGN); /* a server that closed on us is an error code, not a crash */
#endif
    g_loop = uv_default_loop();
  }
  return g_loop;
}

uint64_t th_ms(uint64_t ms) {
  const char* slow = getenv("UVCHAT_TEST_SLOW");
  double f = slow ? atof(slow) : 1.0;
  if (f < 1.0) f = 1.0;
  return (uint64_t)((double)ms * f);
}

static void buf_append(th_buf_t* b, const char* p, size_t n) {
  if (b->len + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + n + 1)
      cap *= 2;
    b->p = realloc(b->p, cap);
    assert_non_null(b->p);
    b->cap = cap;
  }
  memcpy(b->p + b->len, p, n);
  b->len += n;
  b->p[b->len] = '\0';
}

static void buf_free(th_buf_t* b) {
  free(b->p);
  memset(b, 0, sizeof(*b));
}

/* ------------------------------------------------------------------------------------------
 * Waiting
 * ---------------------------------------------------------------------------------------- */

typedef struct deadline {
  uv_timer_t t;
  int expired;
  int closed;
} deadline_t;

static void on_deadline(uv_timer_t* t) {
  ((deadline_t*)t->data)->expired = 1;
}
static void on_deadline_closed(uv_handle_t* h) {
  ((deadline_t*)h->data)->closed = 1;
}

int th_run_until(int (*cond)(void*), void* arg, uint64_t ms) {
  deadline_t d;
  int ok;
  memset(&d, 0, sizeof(d));
  uv_timer_init(th_loop(), &d.t);
  d.t.data = &d;
  uv_timer_start(&d.t, on_deadline, th_ms(ms), 0);
  while (!(ok = cond(arg)) && !d.expired)
    uv_run(th_loop(), UV_RUN_ONCE);
  uv_close((uv_handle_t*)&d.t, on_deadline_closed);
  while (!d.closed)
    uv_run(th_loop(), UV_RUN_ONCE);
  return ok;
}

/* ------------------------------------------------------------------------------------------
 * The server process
 * ---------------------------------------------------------------------------------------- */

static void alloc_cb(uv_handle_t* h, size_t suggested, uv_buf_t* buf) {
  (void)h;
  buf->base = malloc(suggested);
  buf->len = (unsigned)suggested;
}

static void on_handle_closed(uv_handle_t* h) {
  th_server_t* s = h->data;
  s->handles--;
}

static void on_out(uv_stream_t* st, ssize_t n, const uv_buf_t* buf) {
  th_server_t* s = st->data;
  if (n > 0) {
    buf_append(st == (uv_stream_t*)&s->out ? &s->out_buf : &s->err_buf, buf->base, (size_t)n);
    if (st == (uv_stream_t*)&s->err && getenv("UVCHAT_TEST_VERBOSE"))
      fwrite(buf->base, 1, (size_t)n, stderr);
  } else if (n < 0) {
    uv_close((uv_handle_t*)st, on_handle_closed);
  }
  free(buf->base);
}

static void on_exit_cb(uv_process_t* p, int64_t status, int term_signal) {
  th_server_t* s = p->data;
  s->running = 0;
  s->status = status;
  s->term_signal = term_signal;
  uv_close((uv_handle_t*)p, on_handle_closed);
}

/* An empty configuration file for servers whose test names none: a uvchat installed on the
 * machine (SYSCONFDIR/uvchat/uvchat.conf) must not change what a test sees. */
static char g_conf_dir[1024];
static char g_empty_conf[1100];

static void remove_empty_conf(void) {
  if (g_conf_dir[0] != '\0') tt_rmdir(g_conf_dir);
}

static const char* empty_conf(void) {
  if (g_empty_conf[0] == '\0') {
    FILE* f;
    tt_mkdtemp("uvchat-conf", g_conf_dir, sizeof(g_conf_dir));
    snprintf(g_empty_conf, sizeof(g_empty_conf), "%s/empty.conf", g_conf_dir);
    if ((f = fopen(g_empty_conf, "w")) == NULL) fail_msg("cannot write %s", g_empty_conf);
    fclose(f);
    atexit(remove_empty_conf);
  }
  return g_empty_conf;
}

/* Whether args name the flag (as "--flag" or "--flag=..."). */
static int names_flag(const char* const* args, const char* flag) {
  size_t n = strlen(flag);
  int i;
  for (i = 0; args != NULL && args[i] != NULL; i++)
    if (strncmp(args[i], flag, n) == 0 && (args[i][n] == '\0' || args[i][n] == '=')) return 1;
  return 0;
}

void th_server_spawn(th_server_t* s, const char* const* args) {
  uv_process_options_t opt;
  uv_stdio_container_t stdio[3];
  char* argv[64];
  char data_dir[1024] = "";
  char* wrapper = NULL;
  int argc = 0, r, i;
  const char* w = getenv("UVCHAT_TEST_WRAPPER");
  memset(s, 0, sizeof(*s));
  if (w != NULL && *w != '\0') {
    char* tok;
    wrapper = malloc(strlen(w) + 1);
    strcpy(wrapper, w);
    for (tok = strtok(wrapper, " "); tok != NULL && argc < 32; tok = strtok(NULL, " "))
      argv[argc++] = tok;
  }
#ifdef _WIN32
  /* The server runs in a process group of its own under the launcher, so that a Ctrl+Break
   * reaches it alone (see winlaunch.c). */
  argv[argc++] = (char*)UVCHAT_WINLAUNCH;
#endif
  argv[argc++] = (char*)UVCHAT_BIN;
  for (i = 0; args != NULL && args[i] != NULL && argc < 56; i++)
    argv[argc++] = (char*)args[i];
  /* Whatever the test says, the server is its own: an account database, no configuration
   * file of the machine's, and no web port the test did not ask for (another server may
   * hold 8081). */
  if (!names_flag(args, "--data-dir")) {
    tt_mkdtemp("uvchat-data", data_dir, sizeof(data_dir));
    argv[argc++] = (char*)"--data-dir";
    argv[argc++] = data_dir;
  }
  if (!names_flag(args, "--config")) {
    argv[argc++] = (char*)"--config";
    argv[argc++] = (char*)empty_conf();
  }
  if (!names_flag(args, "--web-port") && !names_flag(args, "--listen")) {
    argv[argc++] = (char*)"--web-port";
    argv[argc++] = (char*)"off";
  }
  argv[argc] = NULL;
  snprintf(s->data_dir, sizeof(s->data_dir), "%s", data_dir); /* removed by th_server_free */
  uv_pipe_init(th_loop(), &s->out, 0);
  uv_pipe_init(th_loop(), &s->err, 0);
  s->out.data = s->err.data = s->proc.data = s;
  memset(&opt, 0, sizeof(opt));
  stdio[0].flags = UV_IGNORE;
#ifdef _WIN32
  uv_pipe_init(th_loop(), &s->in, 0);
  s->in.data = s;
  s->has_in = 1;
  stdio[0].flags = UV_CREATE_PIPE | UV_READABLE_PIPE;
  stdio[0].data.stream = (uv_stream_t*)&s->in;
#endif
  stdio[1].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
  stdio[1].data.stream = (uv_stream_t*)&s->out;
  stdio[2].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
  stdio[2].data.stream = (uv_stream_t*)&s->err;
  opt.file = argv[0];
  opt.args = argv;
  opt.exit_cb = on_exit_cb;
  opt.stdio = stdio;
  opt.stdio_count = 3;
  r = uv_spawn(th_loop(), &s->proc, &opt);
  free(wrapper);
  if (r != 0) fail_msg("cannot start %s: %s", UVCHAT_BIN, uv_strerror(r));
  s->running = 1;
  s->handles = 3 + s->has_in;
  uv_read_start((uv_stream_t*)&s->out, alloc_cb, on_out);
  uv_read_start((uv_stream_t*)&s->err, alloc_cb, on_out);
}

/* The port of the complete "listening on ADDR:PORT (kind)" line for kind, or 0. */
static int port_of(const char* out, const char* kind) {
  const char* p = out;
  char tag[32];
  snprintf(tag, sizeof(tag), " (%s)\n", kind);
  while (p != NULL && (p = strstr(p, "listening on ")) != NULL) {
    const char* nl = strchr(p, '\n');
    const char* t = strstr(p, tag);
    if (nl == NULL) return 0;
    if (t != NULL && t + strlen(tag) - 1 == nl) {
      const char* colon = nl;
      while (colon > p && *colon != ':')
        colon--;
      return atoi(colon + 1);
    }
    p = nl;
  }
  return 0;
}

static int has_port(void* arg) {
  th_server_t* s = arg;
  if (s->out_buf.p != NULL) {
    if (s->port == 0) s->port = port_of(s->out_buf.p, "text");
    if (s->irc_port == 0 && s->want_irc) s->irc_port = port_of(s->out_buf.p, "irc");
    if (s->tls_port == 0 && s->want_tls) s->tls_port = port_of(s->out_buf.p, "text-tls");
    if (s->irc_tls_port == 0 && s->want_irc_tls) s->irc_tls_port = port_of(s->out_buf.p, "irc-tls");
  }
  return !s->running ||
         (s->port != 0 && (!s->want_irc || s->irc_port != 0) &&
          (!s->want_tls || s->tls_port != 0) && (!s->want_irc_tls || s->irc_tls_port != 0));
}

void th_server_start(th_server_t* s, const char* const* args) {
  /* Off unless the test names them (a web listener a test wants is a --listen web:...). */
  static const char* const kPorts[4] = {"--irc-port", "--tls-port", "--irc-tls-port", "--web-port"};
  const char* all[64];
  char data_dir[1024] = "";
  int n = 0, i, k, named[4] = {0, 0, 0, 0}, want[4] = {0, 0, 0, 0}, has_dir = 0, has_conf = 0;
  int has_join = 0, has_irc_replay = 0;
  for (i = 0; args != NULL && args[i] != NULL && n < 38; i++) {
    if (strcmp(args[i], "--data-dir") == 0 || strncmp(args[i], "--data-dir=", 11) == 0) has_dir = 1;
    if (strcmp(args[i], "--config") == 0 || strncmp(args[i], "--config=", 9) == 0) has_conf = 1;
    if (strcmp(args[i], "--history-join") == 0) has_join = 1;
    if (strcmp(args[i], "--history-irc") == 0) has_irc_replay = 1;
    for (k = 0; k < 4; k++) {
      if (strcmp(args[i], kPorts[k]) == 0 && args[i + 1] != NULL) {
        named[k] = 1;
        want[k] = strcmp(args[i + 1], "off") != 0;
      }
    }
    all[n++] = args[i];
  }
  all[n++] = "--port";
  all[n++] = "0";
  for (k = 0; k < 4; k++) {
    if (!named[k]) {
      all[n++] = kPorts[k];
      all[n++] = "off";
    }
  }
  all[n++] = "--log-level";
  all[n++] = "debug";
  /* The replay of history on joining comes when the store answers, in between whatever a
   * test expects next: only the tests of history ask for it. */
  if (!has_join) {
    all[n++] = "--history-join";
    all[n++] = "0";
  }
  if (!has_irc_replay) {
    all[n++] = "--history-irc";
    all[n++] = "0";
  }
  if (!has_conf) {
    all[n++] = "--config";
    all[n++] = empty_conf();
  }
  if (!has_dir) {
    /* Never the user's own account database (Windows ignores XDG_STATE_HOME). */
    tt_mkdtemp("uvchat-data", data_dir, sizeof(data_dir));
    all[n++] = "--data-dir";
    all[n++] = data_dir;
  }
  all[n] = NULL;
  th_server_spawn(s, all);
  snprintf(s->data_dir, sizeof(s->data_dir), "%s", data_dir);
  s->want_irc = want[0];
  s->want_tls = want[1];
  s->want_irc_tls = want[2];
  if (!th_run_until(has_port, s, 20000) || !has_port(s) || s->port == 0) {
    fail_msg("the server did not say where it listens; stdout: %s stderr: %s",
             s->out_buf.p ? s->out_buf.p : "", s->err_buf.p ? s->err_buf.p : "");
  }
}

#ifdef _WIN32
static void on_break_written(uv_write_t* req, int status) {
  (void)status;
  free(req);
}
#endif

void th_server_kill(th_server_t* s, int signum) {
  if (!s->running) return;
#ifdef _WIN32
  if (signum == SIGINT || signum == SIGTERM) {
    /* winlaunch.c turns this line into GenerateConsoleCtrlEvent(CTRL_BREAK_EVENT). */
    static char line[] = "break\n";
    uv_write_t* req = malloc(sizeof(*req));
    uv_buf_t b = uv_buf_init(line, sizeof(line) - 1);
    assert_non_null(req);
    if (uv_write(req, (uv_stream_t*)&s->in, &b, 1, on_break_written) != 0) free(req);
    return;
  }
  if (signum != SIGKILL) fail_msg("signal %d cannot be sent on Windows", signum);
#endif
  uv_process_kill(&s->proc, signum);
}

static int not_running(void* arg) {
  return !((th_server_t*)arg)->running;
}

int th_server_wait(th_server_t* s, uint64_t ms) {
  if (!th_run_until(not_running, s, ms)) {
    uv_process_kill(&s->proc, SIGKILL);
    th_run_until(not_running, s, 5000);
    return -1;
  }
  return s->term_signal ? 128 + s->term_signal : (int)s->status;
}

int th_server_stop_checked(th_server_t* s) {
  int status;
  if (!s->running) return 1;
  th_server_kill(s, SIGTERM);
  status = th_server_wait(s, th_ms(30000));
  if (status != 0 || !th_server_logged(s, "stopped cleanly")) {
    const char* log = s->err_buf.p ? s->err_buf.p : "";
    size_t len = strlen(log);
    fprintf(stderr, "the server did not stop cleanly (status %d); the end of its log:\n%s\n",
            status, len > 3000 ? log + len - 3000 : log);
    return 0;
  }
  return 1;
}

void th_server_stop(th_server_t* s) {
  if (!th_server_stop_checked(s)) fail_msg("the server did not stop cleanly (its log is above)");
}

static int no_handles(void* arg) {
  return ((th_server_t*)arg)->handles == 0;
}

void th_server_free(th_server_t* s) {
  if (s->running) {
    uv_process_kill(&s->proc, SIGKILL);
    th_run_until(not_running, s, 5000);
  }
  if (s->has_in && !uv_is_closing((uv_handle_t*)&s->in))
    uv_close((uv_handle_t*)&s->in, on_handle_closed);
  th_run_until(no_handles, s, 5000);
  buf_free(&s->out_buf);
  buf_free(&s->err_buf);
  if (s->data_dir[0] != '\0') tt_rmdir(s->data_dir);
  s->data_dir[0] = '\0';
}

int th_server_logged(th_server_t* s, const char* text) {
  return s->err_buf.p != NULL && strstr(s->err_buf.p, text) != NULL;
}

typedef struct log_wait {
  th_server_t* s;
  const char* text;
  size_t mark;
} log_wait_t;

static int logged(void* arg) {
  log_wait_t* w = arg;
  return w->s->err_buf.p != NULL && w->s->err_buf.len >= w->mark &&
         strstr(w->s->err_buf.p + w->mark, w->text) != NULL;
}

int th_server_wait_log(th_server_t* s, const char* text, uint64_t ms) {
  return th_server_wait_log_since(s, 0, text, ms);
}

size_t th_server_log_mark(th_server_t* s) {
  return s->err_buf.len;
}

int th_server_wait_log_since(th_server_t* s, size_t mark, const char* text, uint64_t ms) {
  log_wait_t w;
  w.s = s;
  w.text = text;
  w.mark = mark;
  return th_run_until(logged, &w, ms);
}

/* ------------------------------------------------------------------------------------------
 * Clients
 * ---------------------------------------------------------------------------------------- */

static char g_rbuf[65536];

static void client_alloc(uv_handle_t* h, size_t suggested, uv_buf_t* buf) {
  (void)h;
  (void)suggested;
  *buf = uv_buf_init(g_rbuf, sizeof(g_rbuf));
}

static void on_client_read(uv_stream_t* st, ssize_t n, const uv_buf_t* buf) {
  th_client_t* c = st->data;
  if (n > 0) {
    buf_append(&c->in, buf->base, (size_t)n);
  } else if (n == UV_EOF) {
    c->eof = 1;
    uv_read_stop(st);
  } else if (n < 0) {
    c->eof = 1;
    c->read_err = (int)n;
    uv_read_stop(st);
  }
}

static void on_connect(uv_connect_t* req, int status) {
  th_client_t* c = req->data;
  c->connected = status == 0 ? 1 : (status < 0 ? status : -1);
  free(req);
}

static int connected(void* arg) {
  return ((th_client_t*)arg)->connected != 0;
}

static th_client_t* connect_impl(int port, const struct sockaddr* from, int rcvbuf, int read) {
  th_client_t* c = calloc(1, sizeof(*c));
  struct sockaddr_in addr;
  uv_connect_t* req = malloc(sizeof(*req));
  int r;
  assert_non_null(c);
  uv_tcp_init_ex(th_loop(), &c->tcp, AF_INET);
  c->tcp.data = c;
  c->rd = c->wr = (uv_stream_t*)&c->tcp;
  if (rcvbuf > 0) {
    int v = rcvbuf;
    uv_recv_buffer_size((uv_handle_t*)&c->tcp, &v);
  }
  if (from != NULL && (r = uv_tcp_bind(&c->tcp, from, 0)) != 0)
    fail_msg("cannot bind the client to its source address: %s", uv_strerror(r));
  uv_ip4_addr("127.0.0.1", port, &addr);
  req->data = c;
  r = uv_tcp_connect(req, &c->tcp, (const struct sockaddr*)&addr, on_connect);
  assert_int_equal(r, 0);
  if (!th_run_until(connected, c, TH_WAIT_MS) || c->connected != 1)
    fail_msg("cannot connect to port %d: %s", port,
             c->connected < 0 ? uv_strerror(c->connected) : "timeout");
  uv_tcp_nodelay(&c->tcp, 1);
  if (read) th_start_reading(c);
  return c;
}

th_client_t* th_connect(int port, int rcvbuf, int read) {
  return connect_impl(port, NULL, rcvbuf, read);
}

th_client_t* th_connect_from(int port, const struct sockaddr* from) {
  return connect_impl(port, from, 0, 1);
}

void th_start_reading(th_client_t* c) {
  if (c->reading || c->eof) return;
  c->reading = 1;
  uv_read_start(c->rd, client_alloc, on_client_read);
}

static void on_write_done(uv_write_t* req, int status) {
  th_client_t* c = req->data;
  (void)status;
  c->writes--;
  free(req);
}

void th_send(th_client_t* c, const char* data, size_t len) {
  uv_write_t* req = malloc(sizeof(*req) + len);
  char* copy = (char*)(req + 1);
  uv_buf_t b;
  memcpy(copy, data, len);
  b = uv_buf_init(copy, (unsigned)len);
  req->data = c;
  c->writes++;
  if (uv_write(req, c->wr, &b, 1, on_write_done) != 0) {
    c->writes--;
    free(req);
  }
}

void th_sendf(th_client_t* c, const char* s) {
  th_send(c, s, strlen(s));
}

static int drained(void* arg) {
  return ((th_client_t*)arg)->writes == 0;
}

void th_drain(th_client_t* c) {
  if (!th_run_until(drained, c, 30000)) fail_msg("writes did not go out in time");
}

/* Cuts the next complete line out of c->in into c->line; 1 if there was one. */
static int take_line(th_client_t* c) {
  char* start;
  char* lf;
  size_t n;
  if (c->in.p == NULL || c->in.pos >= c->in.len) return 0;
  start = c->in.p + c->in.pos;
  lf = memchr(start, '\n', c->in.len - c->in.pos);
  if (lf == NULL) return 0;
  n = (size_t)(lf - start);
  if (n > 0 && start[n - 1] == '\r') n--;
  if (n >= sizeof(c->line)) n = sizeof(c->line) - 1;
  memcpy(c->line, start, n);
  c->line[n] = '\0';
  c->in.pos += (size_t)(lf - start) + 1;
  if (c->in.pos == c->in.len) c->in.pos = c->in.len = 0;
  return 1;
}

static int line_or_end(void* arg) {
  th_client_t* c = arg;
  return (c->in.p && memchr(c->in.p + c->in.pos, '\n', c->in.len - c->in.pos) != NULL) || c->eof;
}

const char* th_line(th_client_t* c, uint64_t ms) {
  if (take_line(c)) return c->line;
  th_start_reading(c);
  th_run_until(line_or_end, c, ms);
  return take_line(c) ? c->line : NULL;
}

void th_expect(th_client_t* c, const char* expected) {
  const char* got = th_line(c, TH_WAIT_MS);
  if (got == NULL)
    fail_msg("expected \"%s\" but got %s", expected, c->eof ? "end of stream" : "nothing");
  if (strcmp(got, expected) != 0) fail_msg("expected \"%s\"\n       got \"%s\"", expected, got);
}

/* Skips lines of c until one starts with s (or holds it, anywhere), for at most ms. */
static const char* skip_lines(th_client_t* c, const char* s, uint64_t ms, int anywhere) {
  uint64_t end = uv_now(th_loop()) + th_ms(ms);
  for (;;) {
    uint64_t now;
    const char* l;
    uv_update_time(th_loop());
    now = uv_now(th_loop());
    if (now >= end) return NULL;
    l = th_line(c, end - now);
    if (l == NULL) return NULL;
    if (anywhere ? strstr(l, s) != NULL : strncmp(l, s, strlen(s)) == 0) return l;
  }
}

const char* th_skip_to(th_client_t* c, const char* prefix, uint64_t ms) {
  return skip_lines(c, prefix, ms, 0);
}

const char* th_skip_containing(th_client_t* c, const char* needle) {
  return skip_lines(c, needle, TH_WAIT_MS, 1);
}

void th_expect_eventually(th_client_t* c, const char* expected) {
  const char* l = th_skip_to(c, expected, TH_WAIT_MS);
  if (l == NULL || strcmp(l, expected) != 0) fail_msg("\"%s\" never came", expected);
}

void th_expect_prefix(th_client_t* c, const char* prefix) {
  const char* got = th_line(c, TH_WAIT_MS);
  if (got == NULL) fail_msg("expected \"%s...\" but got %s", prefix, c->eof ? "EOF" : "nothing");
  if (strncmp(got, prefix, strlen(prefix)) != 0)
    fail_msg("expected \"%s...\"\n       got \"%s\"", prefix, got);
}

static int ended(void* arg) {
  return ((th_client_t*)arg)->eof;
}

int th_wait_closed(th_client_t* c, uint64_t ms) {
  th_start_reading(c);
  return th_run_until(ended, c, ms);
}

void th_expect_silence(th_client_t* c, uint64_t ms) {
  const char* l;
  th_start_reading(c);
  l = th_line(c, ms);
  if (l != NULL) fail_msg("expected nothing, got \"%s\"", l);
}

static void on_shutdown_done(uv_shutdown_t* req, int status) {
  (void)status;
  free(req);
}

void th_shutdown(th_client_t* c) {
  uv_shutdown_t* req = malloc(sizeof(*req));
  if (uv_shutdown(req, c->wr, on_shutdown_done) != 0) free(req);
}

/* A program client: its process and the pipes to its stdin and stdout. */
typedef struct th_proc {
  uv_process_t p;
  uv_pipe_t in, out;
  int running;
  int64_t status;
  int handles; /* still open */
} th_proc_t;

static void on_client_closed(uv_handle_t* h) {
  th_client_t* c = h->data;
  if (c->proc != NULL && --c->proc->handles > 0) return;
  free(c->proc);
  buf_free(&c->in);
  free(c);
}

static void on_client_exit(uv_process_t* p, int64_t status, int term_signal) {
  th_client_t* c = p->data;
  c->proc->running = 0;
  c->proc->status = term_signal ? 128 + term_signal : status;
}

th_client_t* th_spawn_client(const char* const* argv) {
  th_client_t* c = calloc(1, sizeof(*c));
  th_proc_t* pr = calloc(1, sizeof(*pr));
  uv_process_options_t opt;
  uv_stdio_container_t stdio[3];
  int r;
  assert_non_null(c);
  assert_non_null(pr);
  c->proc = pr;
  uv_pipe_init(th_loop(), &pr->in, 0);
  uv_pipe_init(th_loop(), &pr->out, 0);
  pr->in.data = pr->out.data = pr->p.data = c;
  memset(&opt, 0, sizeof(opt));
  stdio[0].flags = UV_CREATE_PIPE | UV_READABLE_PIPE;
  stdio[0].data.stream = (uv_stream_t*)&pr->in;
  stdio[1].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
  stdio[1].data.stream = (uv_stream_t*)&pr->out;
  stdio[2].flags = UV_IGNORE;
  opt.file = argv[0];
  opt.args = (char**)argv;
  opt.exit_cb = on_client_exit;
  opt.stdio = stdio;
  opt.stdio_count = 3;
  if ((r = uv_spawn(th_loop(), &pr->p, &opt)) != 0)
    fail_msg("cannot run %s: %s", argv[0], uv_strerror(r));
  pr->running = 1;
  pr->handles = 3;
  c->connected = 1;
  c->rd = (uv_stream_t*)&pr->out;
  c->wr = (uv_stream_t*)&pr->in;
  th_start_reading(c);
  return c;
}

static int client_exited(void* arg) {
  return !((th_client_t*)arg)->proc->running;
}

int th_client_wait_exit(th_client_t* c, uint64_t ms) {
  if (!th_run_until(client_exited, c, ms)) return -1;
  return (int)c->proc->status;
}

int th_run_program(const char* const* argv, uint64_t ms) {
  th_client_t* c = th_spawn_client(argv);
  int status = th_client_wait_exit(c, ms);
  th_close(c);
  return status;
}

void th_close(th_client_t* c) {
  if (c == NULL) return;
  if (c->proc != NULL) {
    if (c->proc->running) uv_process_kill(&c->proc->p, SIGKILL);
    th_run_until(client_exited, c, 5000);
    uv_close((uv_handle_t*)&c->proc->in, on_client_closed);
    uv_close((uv_handle_t*)&c->proc->out, on_client_closed);
    uv_close((uv_handle_t*)&c->proc->p, on_client_closed);
  } else {
    uv_close((uv_handle_t*)&c->tcp, on_client_closed);
  }
  uv_run(th_loop(), UV_RUN_NOWAIT);
}

const char* th_welcome_quiet(th_client_t* c) {
  static char nick[64];
  const char* l = th_line(c, TH_WAIT_MS);
  const char* p;
  if (l == NULL || strncmp(l, "*** Welcome to uvchat, ", 23) != 0)
    fail_msg("expected the welcome line, got \"%s\"", l ? l : "(nothing)");
  p = l + 23;
  snprintf(nick, sizeof(nick), "%.*s", (int)strcspn(p, "!"), p);
  l = th_line(c, TH_WAIT_MS); /* "*** You are in #lobby ..." */
  if (l == NULL || strncmp(l, "*** You are ", 12) != 0)
    fail_msg("expected the room line, got \"%s\"", l ? l : "(nothing)");
  return nick;
}

const char* th_welcome(th_client_t* c) {
  const char* nick = th_welcome_quiet(c);
  char line[64];
  /* A first line makes it a person whom the others are told of. One with a known answer
   * ("! that is already your nick") makes the arrival announced before this returns. */
  snprintf(line, sizeof line, "/nick %s\n", nick);
  th_sendf(c, line);
  th_expect_prefix(c, "! ");
  return nick;
}

th_client_t* th_text_connect(int port) {
  th_client_t* c = th_connect(port, 0, 1);
  th_welcome(c);
  return c;
}

void th_irc_register(th_client_t* c, const char* nick) {
  char line[160];
  snprintf(line, sizeof line, "NICK %s\r\nUSER %s 0 * :Real %s\r\n", nick, nick, nick);
  th_sendf(c, line);
}

th_client_t* th_irc_connect(int port, const char* nick) {
  th_client_t* c = th_connect(port, 0, 1);
  char want[160];
  th_irc_register(c, nick);
  /* the last line of the greeting says where the text users are */
  snprintf(want, sizeof want, ":uvchat NOTICE %s :*** Plain-text users", nick);
  assert_non_null(th_skip_to(c, want, TH_WAIT_MS));
  return c;
}

void th_irc_join(th_client_t* c, const char* nick, const char* room) {
  char line[160];
  snprintf(line, sizeof line, "JOIN %s\r\n", room);
  th_sendf(c, line);
  snprintf(line, sizeof line, ":uvchat 366 %s %s :End of /NAMES list", nick, room);
  th_expect_eventually(c, line);
}

th_client_t* th_irc_connect_lobby(int port, const char* nick) {
  th_client_t* c = th_irc_connect(port, nick);
  th_irc_join(c, nick, "#lobby");
  return c;
}
