/* test_web.c: the web listener over real sockets: HTTP (the web client, 404, limits,
 * /healthz, /metrics checked by promtool) and IRC over WebSocket with raw frames (bad
 * handshakes, Origin, chat both ways with a text user, fragments, ping/pong, unmasked and
 * oversized frames, the close handshake, a slow reader dropped at its limit), IRCv3
 * capabilities over WebSocket giving the bytes a TCP IRC client gets, and https/wss through
 * a web+tls listener with the openssl tool as the client. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "tmpdir.h"
#include "unit.h"

/* memmem, which strict C11 does not have. */
static const char* find(const char* h, size_t n, const char* needle, size_t k) {
  size_t i;
  for (i = 0; i + k <= n; i++)
    if (memcmp(h + i, needle, k) == 0) return h + i;
  return NULL;
}

typedef struct web_srv {
  th_server_t s;
  int web;
} web_srv_t;

static int has_web_line(void* arg) {
  th_server_t* s = arg;
  return s->out_buf.p != NULL && find(s->out_buf.p, s->out_buf.len, "(web)", 5) != NULL;
}

/* Starts a server with a web listener on 127.0.0.1:0 and the extra arguments. */
static void start(web_srv_t* w, const char* const* extra) {
  const char* args[32];
  int n = 0;
  const char* p;
  args[n++] = "--listen";
  args[n++] = "web:127.0.0.1:0";
  args[n++] = "--flood-rate";
  args[n++] = "0";
  while (extra != NULL && *extra != NULL)
    args[n++] = *extra++;
  args[n] = NULL;
  th_server_start(&w->s, args);
  assert_true(th_run_until(has_web_line, &w->s, th_ms(TH_WAIT_MS)));
  p = find(w->s.out_buf.p, w->s.out_buf.len, "(web)", 5);
  while (p > w->s.out_buf.p && p[-1] != ':')
    p--;
  w->web = atoi(p);
  assert_true(w->web > 0);
}

/* ---- raw bytes ------------------------------------------------------------------------- */

typedef struct want {
  th_client_t* c;
  size_t n;
} want_t;

static int have_bytes(void* arg) {
  want_t* w = arg;
  return w->c->in.len - w->c->in.pos >= w->n || w->c->eof;
}

/* Waits for n unread bytes; returns a pointer to them (consumed), or NULL. */
static const unsigned char* take(th_client_t* c, size_t n) {
  want_t w = {c, n};
  const unsigned char* p;
  if (!th_run_until(have_bytes, &w, th_ms(TH_WAIT_MS)) || c->in.len - c->in.pos < n) return NULL;
  p = (const unsigned char*)c->in.p + c->in.pos;
  c->in.pos += n;
  return p;
}

static int have_head(void* arg) {
  th_client_t* c = arg;
  return c->eof || (c->in.len > c->in.pos &&
                    find(c->in.p + c->in.pos, c->in.len - c->in.pos, "\r\n\r\n", 4) != NULL);
}

/* The next HTTP response's head (status line and headers), consumed; body left. */
static char* response_head(th_client_t* c, char* out, size_t cap) {
  const char* e;
  size_t n;
  assert_true(th_run_until(have_head, c, th_ms(TH_WAIT_MS)));
  e = find(c->in.p + c->in.pos, c->in.len - c->in.pos, "\r\n\r\n", 4);
  assert_non_null(e);
  n = (size_t)(e + 4 - (c->in.p + c->in.pos));
  assert_true(n < cap);
  memcpy(out, c->in.p + c->in.pos, n);
  out[n] = '\0';
  c->in.pos += n;
  return out;
}

static size_t content_length(const char* head) {
  const char* p = strstr(head, "Content-Length: ");
  return p != NULL ? (size_t)strtoul(p + 16, NULL, 10) : 0;
}

/* One request on a fresh connection; the head goes to head, the body (NUL-terminated, cut at
 * cap) to body. */
static void request(int port, const char* req, char* head, size_t hcap, char* body, size_t bcap) {
  th_client_t* c = th_connect(port, 0, 1);
  const unsigned char* b;
  size_t n;
  th_sendf(c, req);
  response_head(c, head, hcap);
  n = content_length(head);
  if (strncmp(req, "HEAD ", 5) == 0) n = 0;
  b = n > 0 ? take(c, n) : (const unsigned char*)"";
  assert_non_null(b);
  if (body != NULL) {
    n = n < bcap - 1 ? n : bcap - 1;
    memcpy(body, b, n);
    body[n] = '\0';
  }
  th_close(c);
}

/* ---- WebSocket frames ------------------------------------------------------------------ */

static void send_frame(th_client_t* c, int fin, int op, const void* data, size_t n, int mask) {
  unsigned char h[14], k[4] = {0x37, 0xfa, 0x21, 0x3d};
  unsigned char* buf = malloc(n + 14);
  size_t hl = 0, i;
  h[hl++] = (unsigned char)((fin ? 0x80 : 0) | op);
  if (n < 126) {
    h[hl++] = (unsigned char)((mask ? 0x80 : 0) | n);
  } else {
    h[hl++] = (unsigned char)((mask ? 0x80 : 0) | 126);
    h[hl++] = (unsigned char)(n >> 8);
    h[hl++] = (unsigned char)n;
  }
  if (mask) {
    memcpy(h + hl, k, 4);
    hl += 4;
  }
  memcpy(buf, h, hl);
  for (i = 0; i < n; i++)
    buf[hl + i] = (unsigned char)(((const unsigned char*)data)[i] ^ (mask ? k[i % 4] : 0));
  th_send(c, (const char*)buf, hl + n);
  free(buf);
}

static void send_text(th_client_t* c, const char* s) {
  send_frame(c, 1, 1, s, strlen(s), 1);
}

/* The next frame: its opcode (-1 when none came) and payload (NUL-terminated) in out. */
static int next_frame(th_client_t* c, char* out, size_t cap, size_t* len) {
  const unsigned char* h = take(c, 2);
  const unsigned char* p;
  size_t n;
  int op;
  if (h == NULL) return -1;
  op = h[0] & 0x0F;
  assert_int_equal(h[0] & 0x80, 0x80); /* the server never fragments */
  assert_int_equal(h[1] & 0x80, 0);    /* nor masks */
  n = h[1] & 0x7F;
  if (n == 126) {
    const unsigned char* e = take(c, 2);
    assert_non_null(e);
    n = ((size_t)e[0] << 8) | e[1];
  }
  p = n > 0 ? take(c, n) : (const unsigned char*)"";
  assert_non_null(p);
  assert_true(n < cap);
  memcpy(out, p, n);
  out[n] = '\0';
  if (len != NULL) *len = n;
  return op;
}

/* Skips frames until a text or binary one contains needle; returns its opcode (1 or 2) with
 * its payload in out (cap bytes; out may be NULL), or 0 when none came. */
static int frame_into(th_client_t* c, const char* needle, char* out, size_t cap) {
  char f[2048];
  int op;
  while ((op = next_frame(c, f, sizeof(f), NULL)) >= 0) {
    if ((op == 1 || op == 2) && strstr(f, needle) != NULL) {
      if (out != NULL) snprintf(out, cap, "%s", f);
      return op;
    }
  }
  return 0;
}

/* Skips frames until a text or binary one contains needle; returns 1 when it came. */
static int frame_with(th_client_t* c, const char* needle) {
  return frame_into(c, needle, NULL, 0) != 0;
}

/* Opens a WebSocket with the given extra headers; returns the client once the 101 came. */
static th_client_t* ws_open_buf(int port, int rcvbuf, const char* headers, char* head, size_t cap) {
  th_client_t* c = th_connect(port, rcvbuf, 1);
  char req[1024];
  snprintf(req, sizeof(req),
           "GET /ws HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\nConnection: "
           "Upgrade\r\nSec-WebSocket-Version: 13\r\n%s\r\n",
           port, headers);
  th_sendf(c, req);
  response_head(c, head, cap);
  return c;
}

static th_client_t* ws_open(int port, const char* headers, char* head, size_t cap) {
  return ws_open_buf(port, 0, headers, head, cap);
}

#define KEY "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"

/* A registered IRC-over-WebSocket user of subprotocol proto, in #lobby. */
static th_client_t* ws_user_proto(int port, int rcvbuf, const char* nick, const char* proto) {
  char head[1024], line[128], hdr[256];
  th_client_t* c;
  snprintf(hdr, sizeof(hdr), KEY "Sec-WebSocket-Protocol: %s\r\n", proto);
  c = ws_open_buf(port, rcvbuf, hdr, head, sizeof(head));
  assert_non_null(strstr(head, "HTTP/1.1 101 "));
  snprintf(line, sizeof(line), "NICK %s", nick);
  send_text(c, line);
  send_text(c, "USER u 0 * :U");
  assert_true(frame_with(c, " 001 "));
  send_text(c, "JOIN #lobby");
  assert_true(frame_with(c, " 366 ")); /* end of NAMES */
  return c;
}

/* A registered IRC-over-WebSocket user (text frames). */
static th_client_t* ws_user_buf(int port, int rcvbuf, const char* nick) {
  return ws_user_proto(port, rcvbuf, nick, "text.ircv3.net");
}

static th_client_t* ws_user(int port, const char* nick) {
  return ws_user_buf(port, 0, nick);
}

/* ---- tests ----------------------------------------------------------------------------- */

static void http_serves_the_web_client(void** state) {
  web_srv_t w;
  char head[4096], body[512], req[512], etag[64];
  const char* e;
  (void)state;
  start(&w, NULL);
  request(w.web, "GET / HTTP/1.1\r\nHost: x\r\n\r\n", head, sizeof(head), body, sizeof(body));
  assert_non_null(strstr(head, "HTTP/1.1 200 OK\r\n"));
  assert_non_null(strstr(head, "Content-Type: text/html"));
  assert_non_null(strstr(head, "Content-Security-Policy: default-src 'none'; script-src 'self'"));
  assert_non_null(strstr(head, "X-Content-Type-Options: nosniff"));
  assert_non_null(strstr(head, "Cache-Control: no-cache"));
  assert_non_null(strstr(body, "<html"));
  assert_non_null(e = strstr(head, "ETag: "));
  snprintf(etag, sizeof(etag), "%.*s", (int)strcspn(e + 6, "\r"), e + 6);
  snprintf(req, sizeof(req), "GET / HTTP/1.1\r\nHost: x\r\nIf-None-Match: %s\r\n\r\n", etag);
  request(w.web, req, head, sizeof(head), NULL, 0);
  assert_non_null(strstr(head, "HTTP/1.1 304 Not Modified\r\n"));
  request(w.web, "HEAD / HTTP/1.1\r\nHost: x\r\n\r\n", head, sizeof(head), NULL, 0);
  assert_non_null(strstr(head, "HTTP/1.1 200 OK\r\n"));
  request(w.web, "GET /no/such/file HTTP/1.1\r\nHost: x\r\n\r\n", head, sizeof(head), NULL, 0);
  assert_non_null(strstr(head, "HTTP/1.1 404 Not Found\r\n"));
  request(w.web, "DELETE / HTTP/1.1\r\nHost: x\r\n\r\n", head, sizeof(head), NULL, 0);
  assert_non_null(strstr(head, "HTTP/1.1 405 "));
  request(w.web, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", head, sizeof(head), body,
          sizeof(body));
  assert_non_null(strstr(head, "HTTP/1.1 200 OK\r\n"));
  assert_string_equal(body, "ok\n");
  { /* keep-alive: two requests, two answers, one connection */
    th_client_t* c = th_connect(w.web, 0, 1);
    th_sendf(c, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
    response_head(c, head, sizeof(head));
    assert_non_null(take(c, 3));
    response_head(c, head, sizeof(head));
    assert_non_null(strstr(head, "200 OK"));
    assert_null(strstr(head, "Connection: close"));
    th_close(c);
  }
  th_server_stop(&w.s);
  th_server_free(&w.s);
}

static void http_limits(void** state) {
  web_srv_t w;
  char head[4096], *big = malloc(12000);
  (void)state;
  start(&w, (const char* const[]){"--http-timeout", "1", NULL});
  /* headers over 8 KiB */
  snprintf(big, 12000, "GET / HTTP/1.1\r\nHost: x\r\nX-Pad: %09000d\r\n\r\n", 0);
  request(w.web, big, head, sizeof(head), NULL, 0);
  assert_non_null(strstr(head, "HTTP/1.1 431 "));
  /* a request line over 2 KiB */
  snprintf(big, 12000, "GET /%03000d HTTP/1.1\r\nHost: x\r\n\r\n", 0);
  request(w.web, big, head, sizeof(head), NULL, 0);
  assert_non_null(strstr(head, "HTTP/1.1 414 "));
  /* a body */
  request(w.web, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello", head, sizeof(head),
          NULL, 0);
  assert_non_null(strstr(head, "HTTP/1.1 413 "));
  /* not HTTP */
  request(w.web, "HELLO THERE\r\n\r\n", head, sizeof(head), NULL, 0);
  assert_non_null(strstr(head, "HTTP/1.1 400 "));
  { /* half a request, then nothing: 408 after --http-timeout (checked once a second) */
    th_client_t* c = th_connect(w.web, 0, 1);
    th_sendf(c, "GET / HTTP/1.1\r\nHost: x\r\n");
    response_head(c, head, sizeof(head));
    assert_non_null(strstr(head, "HTTP/1.1 408 "));
    assert_true(th_wait_closed(c, th_ms(TH_WAIT_MS)));
    th_close(c);
  }
  free(big);
  th_server_stop(&w.s);
  th_server_free(&w.s);
}

static void ws_bad_handshakes(void** state) {
  web_srv_t w;
  char head[2048];
  th_client_t* c;
  (void)state;
  start(&w, NULL);
  c = ws_open(w.web, "", head, sizeof(head)); /* no key */
  assert_non_null(strstr(head, "HTTP/1.1 400 "));
  th_close(c);
  c = ws_open(w.web, "Sec-WebSocket-Key: short\r\n", head, sizeof(head));
  assert_non_null(strstr(head, "HTTP/1.1 400 "));
  th_close(c);
  c = ws_open(w.web, KEY "Sec-WebSocket-Protocol: chat.example\r\n", head, sizeof(head));
  assert_non_null(strstr(head, "HTTP/1.1 400 ")); /* no IRC subprotocol among those asked */
  th_close(c);
  c = ws_open(w.web, KEY "Origin: http://evil.example\r\n", head, sizeof(head));
  assert_non_null(strstr(head, "HTTP/1.1 403 "));
  th_close(c);
  assert_true(th_server_wait_log(&w.s, "refused a WebSocket from origin http://evil.example",
                                 th_ms(TH_WAIT_MS)));
  { /* the wrong version */
    th_client_t* v = th_connect(w.web, 0, 1);
    th_sendf(v,
             "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
             "Sec-WebSocket-Version: 8\r\n" KEY "\r\n");
    response_head(v, head, sizeof(head));
    assert_non_null(strstr(head, "HTTP/1.1 426 "));
    assert_non_null(strstr(head, "Sec-WebSocket-Version: 13"));
    th_close(v);
  }
  /* The same origin, and the RFC 6455 example key's answer. */
  {
    char hdr[256];
    snprintf(hdr, sizeof(hdr),
             KEY
             "Origin: http://127.0.0.1:%d\r\nSec-WebSocket-Protocol: "
             "binary.ircv3.net, text.ircv3.net\r\n",
             w.web);
    c = ws_open(w.web, hdr, head, sizeof(head));
    assert_non_null(strstr(head, "HTTP/1.1 101 "));
    assert_non_null(strstr(head, "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"));
    assert_non_null(strstr(head, "Sec-WebSocket-Protocol: binary.ircv3.net\r\n"));
    th_close(c);
  }
  th_server_stop(&w.s);
  th_server_free(&w.s);
}

static void ws_chats_with_a_text_user(void** state) {
  web_srv_t w;
  th_client_t *ws, *t;
  char f[2048];
  size_t n;
  const char* nick;
  (void)state;
  start(&w, NULL);
  ws = ws_user(w.web, "webby");
  t = th_text_connect(w.s.port);
  (void)nick;
  th_sendf(t, "hello from nc\n");
  assert_true(frame_with(ws, "PRIVMSG #lobby :hello from nc"));
  send_text(ws, "PRIVMSG #lobby :hello from the browser");
  th_expect_eventually(t, "<webby> hello from the browser");
  /* A message in fragments (text, continuation, continuation) is one line. */
  send_frame(ws, 0, 1, "PRIVMSG #lobby :in ", 19, 1);
  send_frame(ws, 0, 0, "three ", 6, 1);
  send_frame(ws, 1, 0, "pieces", 6, 1);
  th_expect_eventually(t, "<webby> in three pieces");
  /* A ping between fragments is answered at once, with its payload. */
  send_frame(ws, 0, 1, "PRIVMSG #lobby :around ", 23, 1);
  send_frame(ws, 1, 9, "are you there", 13, 1);
  assert_int_equal(next_frame(ws, f, sizeof(f), &n), 10);
  assert_string_equal(f, "are you there");
  send_frame(ws, 1, 0, "a ping", 6, 1);
  th_expect_eventually(t, "<webby> around a ping");
  /* The close handshake: the server answers with the same code and closes. */
  send_frame(ws, 1, 8,
             "\x03\xe8"
             "bye",
             5, 1);
  assert_int_equal(next_frame(ws, f, sizeof(f), &n), 8);
  assert_true(n >= 2);
  assert_int_equal(((unsigned char)f[0] << 8) | (unsigned char)f[1], 1000);
  assert_true(th_wait_closed(ws, th_ms(TH_WAIT_MS)));
  assert_non_null(th_skip_to(t, "*** webby ", th_ms(TH_WAIT_MS))); /* its leaving, told */
  th_close(ws);
  th_close(t);
  th_server_stop(&w.s);
  th_server_free(&w.s);
}

#define V3_CAPS "server-time message-tags echo-message"

/* Skips lines until one contains needle; returns it, or NULL when none came. */
static const char* line_with(th_client_t* c, const char* needle) {
  const char* l;
  while ((l = th_line(c, TH_WAIT_MS)) != NULL)
    if (strstr(l, needle) != NULL) return l;
  return NULL;
}

/* IRCv3 over WebSocket: a client that asked for server-time, message-tags and echo-message
 * gets exactly the line a TCP IRC client with them gets, in one frame (a binary one for
 * binary.ircv3.net); a client without them gets the plain line; its own message comes back
 * once with the msgid and time the others got. */
static void ws_capabilities_like_tcp_irc(void** state) {
  static const char* const extra[] = {"--irc-port", "0", NULL};
  web_srv_t w;
  th_client_t *irc, *ws, *bin, *plain, *plainbin, *t;
  char line[2048], f[2048];
  const char* l;
  (void)state;
  start(&w, extra);
  irc = th_irc_connect_lobby(w.s.irc_port, "tcpuser");
  th_sendf(irc, "CAP REQ :" V3_CAPS "\r\n");
  th_expect_eventually(irc, ":uvchat CAP tcpuser ACK :" V3_CAPS);
  ws = ws_user(w.web, "wsuser");
  send_text(ws, "CAP REQ :" V3_CAPS);
  assert_int_equal(frame_into(ws, " ACK ", f, sizeof(f)), 1);
  assert_string_equal(f, ":uvchat CAP wsuser ACK :" V3_CAPS);
  bin = ws_user_proto(w.web, 0, "binuser", "binary.ircv3.net");
  send_text(bin, "CAP REQ :" V3_CAPS);
  assert_int_equal(frame_into(bin, " ACK ", f, sizeof(f)), 2);
  plain = ws_user(w.web, "plainws");
  plainbin = ws_user_proto(w.web, 0, "plainbin", "binary.ircv3.net");
  t = th_text_connect(w.s.port);

  /* a text user's message */
  th_sendf(t, "hello everyone\n");
  assert_non_null(l = line_with(irc, "hello everyone"));
  snprintf(line, sizeof(line), "%s", l);
  assert_non_null(strstr(line, "@time="));
  assert_non_null(strstr(line, ";msgid="));
  assert_non_null(strstr(line, " PRIVMSG #lobby :hello everyone"));
  assert_int_equal(frame_into(ws, "hello everyone", f, sizeof(f)), 1);
  assert_string_equal(f, line);
  assert_int_equal(frame_into(bin, "hello everyone", f, sizeof(f)), 2);
  assert_string_equal(f, line);
  assert_int_equal(frame_into(plain, "hello everyone", f, sizeof(f)), 1);
  assert_string_equal(f, strchr(line, ' ') + 1); /* the same line without its tags */
  assert_int_equal(frame_into(plainbin, "hello everyone", f, sizeof(f)), 2); /* its own frame */
  assert_string_equal(f, strchr(line, ' ') + 1);

  /* the WebSocket user's own message: echoed to it once, as the TCP user sees it */
  send_text(ws, "PRIVMSG #lobby :my own words");
  assert_non_null(l = line_with(irc, "my own words"));
  snprintf(line, sizeof(line), "%s", l);
  assert_non_null(strstr(line, "@time="));
  assert_non_null(strstr(line, ":wsuser!"));
  assert_int_equal(frame_into(ws, "my own words", f, sizeof(f)), 1);
  assert_string_equal(f, line);
  assert_int_equal(frame_into(bin, "my own words", f, sizeof(f)), 2);
  assert_string_equal(f, line);
  th_expect_eventually(t, "<wsuser> my own words");
  /* one echo only: the answer to a PING sent next is the very next frame */
  send_text(ws, "PING :after");
  assert_int_equal(next_frame(ws, f, sizeof(f), NULL), 1);
  assert_non_null(strstr(f, " PONG "));
  th_close(irc);
  th_close(ws);
  th_close(bin);
  th_close(plain);
  th_close(plainbin);
  th_close(t);
  th_server_stop(&w.s);
  th_server_free(&w.s);
}

/* ---- wss ----------------------------------------------------------------------------- */

typedef struct label_wait {
  th_server_t* s;
  const char* label;
} label_wait_t;

static int has_label(void* arg) {
  label_wait_t* l = arg;
  return l->s->out_buf.p != NULL &&
         find(l->s->out_buf.p, l->s->out_buf.len, l->label, strlen(l->label)) != NULL;
}

/* The port of the listener whose "listening on ADDR:PORT (label)" line the server printed. */
static int port_of(th_server_t* s, const char* label) {
  label_wait_t l = {s, label};
  const char* p;
  assert_true(th_run_until(has_label, &l, th_ms(TH_WAIT_MS)));
  p = find(s->out_buf.p, s->out_buf.len, label, strlen(label));
  while (p > s->out_buf.p && p[-1] != ':')
    p--;
  return atoi(p);
}

/* An https and wss listener (web+tls) with a throwaway certificate, reached with the openssl
 * tool as the TLS client: HTTP and then IRC over WebSocket through one TLS connection, chat
 * with a text user both ways, server-time on the frames, the close handshake. */
static void wss_over_tls(void** state) {
  char dir[600], cert[700], key[700], addr[64], head[1024], f[2048];
  const char* req[] = {"openssl",
                       "req",
                       "-x509",
                       "-newkey",
                       "ec",
                       "-pkeyopt",
                       "ec_paramgen_curve:prime256v1",
                       "-nodes",
                       "-days",
                       "2",
                       "-keyout",
                       key,
                       "-out",
                       cert,
                       "-subj",
                       "/CN=127.0.0.1",
                       NULL};
  const char* client[] = {"openssl", "s_client", "-connect", addr, "-quiet", NULL};
  const char* extra[8];
  web_srv_t w;
  th_client_t *c, *t;
  const unsigned char* body;
  size_t n;
  int port;
  (void)state;
  tt_mkdtemp("uvchat-wss", dir, sizeof(dir));
  snprintf(cert, sizeof(cert), "%s/cert.pem", dir);
  snprintf(key, sizeof(key), "%s/key.pem", dir);
  if (th_run_program(req, 30000) != 0) fail_msg("openssl req could not make a certificate");
  extra[0] = "--listen";
  extra[1] = "web+tls:127.0.0.1:0";
  extra[2] = "--tls-cert";
  extra[3] = cert;
  extra[4] = "--tls-key";
  extra[5] = key;
  extra[6] = NULL;
  start(&w, extra);
  port = port_of(&w.s, "(web-tls)");
  assert_true(port > 0 && port != w.web);
  snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
  c = th_spawn_client(client);

  /* https first, then the upgrade on the same connection (keep-alive) */
  th_sendf(c, "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
  response_head(c, head, sizeof(head));
  assert_non_null(strstr(head, "HTTP/1.1 200 "));
  n = content_length(head);
  assert_int_equal(n, 3);
  assert_non_null(body = take(c, n));
  assert_memory_equal(body, "ok\n", 3);
  snprintf(f, sizeof(f),
           "GET /ws HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\nConnection: "
           "Upgrade\r\nSec-WebSocket-Version: 13\r\n" KEY
           "Sec-WebSocket-Protocol: text.ircv3.net\r\n\r\n",
           port);
  th_sendf(c, f);
  response_head(c, head, sizeof(head));
  assert_non_null(strstr(head, "HTTP/1.1 101 "));
  assert_non_null(strstr(head, "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"));

  /* IRC over wss, with server-time */
  send_text(c, "CAP LS 302");
  send_text(c, "NICK secure");
  send_text(c, "USER s 0 * :S");
  assert_true(frame_with(c, " LS :"));
  send_text(c, "CAP REQ :server-time");
  assert_true(frame_with(c, " ACK :server-time"));
  send_text(c, "CAP END");
  assert_true(frame_with(c, " 001 secure "));
  send_text(c, "JOIN #lobby");
  assert_true(frame_with(c, " 366 secure #lobby "));
  t = th_text_connect(w.s.port);
  th_sendf(t, "hello over plaintext\n");
  assert_int_equal(frame_into(c, "hello over plaintext", f, sizeof(f)), 1);
  assert_true(strncmp(f, "@time=", 6) == 0);
  assert_non_null(strstr(f, " PRIVMSG #lobby :hello over plaintext"));
  send_text(c, "PRIVMSG #lobby :hello over wss");
  th_expect_eventually(t, "<secure> hello over wss");
  /* the close handshake, through TLS */
  send_frame(c, 1, 8, "\x03\xe8", 2, 1);
  assert_int_equal(next_frame(c, f, sizeof(f), &n), 8);
  assert_true(n >= 2);
  assert_int_equal(((unsigned char)f[0] << 8) | (unsigned char)f[1], 1000);
  assert_non_null(th_skip_to(t, "*** secure ", th_ms(TH_WAIT_MS))); /* its leaving, told */
  th_close(c);
  th_close(t);
  th_server_stop(&w.s);
  th_server_free(&w.s);
  tt_rmdir(dir);
}

/* Sends something that must end the WebSocket with close code `code`. */
static void expect_close(int port, int code, void (*send)(th_client_t*)) {
  th_client_t* c = ws_user(port, "bad");
  char f[2048];
  size_t n;
  int op;
  send(c);
  while ((op = next_frame(c, f, sizeof(f), &n)) >= 0 && op != 8) {
  }
  assert_int_equal(op, 8);
  assert_true(n >= 2);
  assert_int_equal(((unsigned char)f[0] << 8) | (unsigned char)f[1], code);
  assert_true(th_wait_closed(c, th_ms(TH_WAIT_MS)));
  th_drain(c);
  th_close(c);
}

static void send_unmasked(th_client_t* c) {
  send_frame(c, 1, 1, "PRIVMSG #lobby :x", 17, 0);
}
static void send_oversized(th_client_t* c) {
  char* big = malloc(20000);
  memset(big, 'a', 20000);
  memcpy(big, "PRIVMSG #lobby :", 16);
  send_frame(c, 1, 1, big, 20000, 1);
  free(big);
}
static void send_bad_utf8(th_client_t* c) {
  send_frame(c, 1, 1, "PRIVMSG #lobby :\xc3\x28", 18, 1);
}
static void send_unknown_opcode(th_client_t* c) {
  send_frame(c, 1, 3, "x", 1, 1);
}

static void ws_protocol_errors_close(void** state) {
  web_srv_t w;
  (void)state;
  start(&w, NULL);
  expect_close(w.web, 1002, send_unmasked);
  expect_close(w.web, 1009, send_oversized);
  expect_close(w.web, 1007, send_bad_utf8);
  expect_close(w.web, 1002, send_unknown_opcode);
  th_server_stop(&w.s);
  th_server_free(&w.s);
}

static void ws_slow_reader_is_dropped(void** state) {
  web_srv_t w;
  th_client_t *slow, *talker;
  char head[1024], line[400];
  int i;
  (void)state;
  start(&w, (const char* const[]){"--sendq", "64K", NULL});
  slow = ws_user_buf(w.web, 4096, "slowpoke");
  /* It stops reading: a small receive buffer it never empties again. */
  uv_read_stop((uv_stream_t*)&slow->tcp);
  talker = ws_user(w.web, "talker");
  memset(line, 'x', sizeof(line));
  memcpy(line, "PRIVMSG #lobby :", 16);
  line[sizeof(line) - 1] = '\0';
  for (i = 0; i < 12000 && !th_server_logged(&w.s, "disconnect slowpoke"); i++) {
    send_text(talker, line);
    if (i % 100 == 99) th_drain(talker);
  }
  assert_true(th_server_wait_log(&w.s, "disconnect slowpoke", th_ms(TH_WAIT_MS)));
  assert_true(th_server_logged(&w.s, "send queue over its limit"));
  (void)head;
  th_drain(talker);
  th_close(slow);
  th_close(talker);
  th_server_stop(&w.s);
  th_server_free(&w.s);
}

/* The value of a sample line "name value" in a /metrics text, or -1. */
static double sample(const char* text, const char* name) {
  char pat[128];
  const char* p;
  snprintf(pat, sizeof(pat), "\n%s ", name);
  p = strstr(text, pat);
  return p != NULL ? atof(p + strlen(pat)) : -1;
}

static void metrics_move_and_pass_promtool(void** state) {
  web_srv_t w;
  char head[2048], *before = malloc(65536), *after = malloc(65536);
  th_client_t *ws, *t;
  FILE* f;
  (void)state;
  start(&w, NULL);
  request(w.web, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", head, sizeof(head), before, 65536);
  assert_non_null(strstr(head, "Content-Type: text/plain; version=0.0.4"));
  ws = ws_user(w.web, "counted");
  t = th_text_connect(w.s.port);
  th_sendf(t, "one\ntwo\nthree\n");
  assert_true(frame_with(ws, ":three"));
  request(w.web, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", head, sizeof(head), after, 65536);
  assert_true(sample(after, "uvchat_messages_received_total") >=
              sample(before, "uvchat_messages_received_total") + 3);
  assert_true(sample(after, "uvchat_messages_delivered_total") >
              sample(before, "uvchat_messages_delivered_total"));
  assert_true(sample(after, "uvchat_sent_bytes_total") > sample(before, "uvchat_sent_bytes_total"));
  assert_true(sample(after, "uvchat_websocket_upgrades_total") == 1);
  assert_non_null(strstr(after, "uvchat_connections{protocol=\"irc\",transport=\"websocket\"} 1"));
  assert_non_null(strstr(after, "uvchat_connections{protocol=\"text\",transport=\"tcp\"} 1"));
  /* promtool (Debian's prometheus) must accept the text, where it is installed. */
  if (th_run_program((const char* const[]){"promtool", "--version", NULL}, th_ms(TH_WAIT_MS)) ==
      0) {
    char path[1100];
    const char* sh[4];
    char cmd[1200];
    snprintf(path, sizeof(path), "%s/metrics.txt", w.s.data_dir);
    f = fopen(path, "w");
    assert_non_null(f);
    fputs(after, f);
    fclose(f);
    snprintf(cmd, sizeof(cmd), "promtool check metrics < '%s'", path);
    sh[0] = "sh", sh[1] = "-c", sh[2] = cmd, sh[3] = NULL;
    assert_int_equal(th_run_program(sh, th_ms(TH_WAIT_MS)), 0);
  } else {
    printf("# promtool not installed: the format check is skipped\n");
  }
  th_close(ws);
  th_close(t);
  free(before);
  free(after);
  th_server_stop(&w.s);
  th_server_free(&w.s);
}

/* While the server drains (a reader that takes nothing holds it up to --shutdown-timeout), the
 * web listener stays open and /healthz says 503. */
static void healthz_says_503_while_shutting_down(void** state) {
  web_srv_t w;
  char head[2048], body[64];
  th_client_t *stuck, *talker;
  char line[1000];
  int i;
  (void)state;
  start(&w, (const char* const[]){"--sendq", "256M", "--stall-timeout", "60", "--shutdown-timeout",
                                  "4", NULL});
  stuck = th_connect(w.s.port, 4096, 0);
  talker = th_text_connect(w.s.port);
  memset(line, 'y', sizeof(line));
  line[sizeof(line) - 1] = '\n';
  for (i = 0; i < 8000; i++) {
    th_send(talker, line, sizeof(line));
    if (i % 200 == 199) th_drain(talker);
  }
  th_drain(talker);
  request(w.web, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", head, sizeof(head), body,
          sizeof(body));
  assert_non_null(strstr(head, "HTTP/1.1 200 OK"));
  th_server_kill(&w.s, SIGTERM);
  assert_true(th_server_wait_log(&w.s, "shutting down", th_ms(TH_WAIT_MS)));
  request(w.web, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", head, sizeof(head), body,
          sizeof(body));
  assert_non_null(strstr(head, "HTTP/1.1 503 "));
  assert_non_null(strstr(head, "Connection: close"));
  assert_int_equal(th_server_wait(&w.s, th_ms(20000)), 0);
  th_close(stuck);
  th_close(talker);
  th_server_free(&w.s);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(http_serves_the_web_client),
      cmocka_unit_test(http_limits),
      cmocka_unit_test(ws_bad_handshakes),
      cmocka_unit_test(ws_chats_with_a_text_user),
      cmocka_unit_test(ws_capabilities_like_tcp_irc),
      cmocka_unit_test(wss_over_tls),
      cmocka_unit_test(ws_protocol_errors_close),
      cmocka_unit_test(ws_slow_reader_is_dropped),
      cmocka_unit_test(metrics_move_and_pass_promtool),
      cmocka_unit_test(healthz_says_503_while_shutting_down),
  };
  if (getenv("UVCHAT_TEST_FILTER") != NULL) cmocka_set_test_filter(getenv("UVCHAT_TEST_FILTER"));
  return cmocka_run_group_tests(tests, NULL, NULL);
}
