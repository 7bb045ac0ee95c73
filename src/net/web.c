/* web.c: the web listener's transport: HTTP/1.1 (http-parser) until GET /ws upgrades the
 * connection, then WebSocket frames (wslay) carrying one IRC line each.
 *
 * HTTP: GET and HEAD only, no request body; the built-in web client's files (webfiles.h)
 * with ETags and a strict Content-Security-Policy, /healthz and /metrics. Every response is a
 * message on the client's send queue, like any line; a request that breaks a limit gets its
 * status (400, 404, 405, 408, 413, 414, 426, 431) and the connection is closed after it.
 *
 * WebSocket: the upgrade checks the key, the version, the Origin and the subprotocol; then the
 * session becomes an IRC session whose adapter frames what it sends (one frame per line, text
 * or binary as negotiated). Frames from the client go through wslay, which insists on masked
 * frames, joins fragments, answers pings and the close handshake, and refuses messages over
 * one IRC line; each message is handed to the line framer as one line.
 */
#include "uvchat/web.h"

#include <http_parser.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wslay/wslay.h>

#include "uvchat/clean.h"
#include "uvchat/irc.h"
#include "uvchat/log.h"
#include "uvchat/version.h"
#include "uvchat/webfiles.h"

#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
#define HV_MAX  256 /* bytes kept of one header's value */

/* The headers the server looks at. */
enum {
  H_HOST,
  H_ORIGIN,
  H_KEY,
  H_PROTOCOL,
  H_UPGRADE,
  H_CONNECTION,
  H_VERSION,
  H_INM,
  H_N,
  H_NONE
};
static const char* const kHeaders[H_N] = {
    "host",    "origin",     "sec-websocket-key",     "sec-websocket-protocol",
    "upgrade", "connection", "sec-websocket-version", "if-none-match"};

static const char kSecurity[] =
    "Content-Security-Policy: default-src 'none'; script-src 'self'; style-src 'self'; "
    "img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'\r\n"
    "X-Content-Type-Options: nosniff\r\n"
    "Referrer-Policy: no-referrer\r\n"
    "X-Frame-Options: DENY\r\n";

typedef struct web {
  uvc_transport_t t;
  const uvc_web_ctx_t* ctx;
  http_parser hp;
  wslay_event_context_ptr ws; /* NULL while the connection speaks HTTP */
  const uint8_t* in;          /* what wslay reads next */
  size_t in_len;
  uint32_t started;    /* loop time the request in progress began (0: none) */
  uint32_t idle_since; /* loop time the last response went (keep-alive) */
  uint32_t header_bytes;
  uint16_t requests;
  uint8_t done;  /* a response that ends the connection was queued: read nothing more */
  uint8_t field; /* the header whose value comes next (H_*) */
  uint8_t in_value;
  uint8_t too_long; /* a header value we look at was over HV_MAX */
  /* wslay's own frames as ws_send sees them go by (pongs, close): the frame header being
   * read, the payload bytes still to come, and a close frame being put together */
  uint8_t out_hdr_got, out_close;
  uint8_t out_hdr[10];
  uint8_t close_got;
  uint8_t close_buf[2 + 125];
  size_t out_left;
  char fname[24];
  size_t fname_len;
  size_t url_len;
  uint16_t hl[H_N];
  char hv[H_N][HV_MAX];
  char url[UVC_HTTP_URL_MAX];
} web_t;

/* ------------------------------------------------------------------------------------------
 * Responses
 * ---------------------------------------------------------------------------------------- */

/* Queues a response. body may be NULL (no body); head_only sends the headers alone (HEAD). */
static void respond(web_t* w, int status, const char* reason, const char* extra, const char* type,
                    const void* body, size_t len, int head_only) {
  uvc_client_t* c = w->t.c;
  char head[1536];
  int keep = !w->done && http_should_keep_alive(&w->hp) && w->requests < UVC_HTTP_REQUESTS_MAX &&
             w->ctx->healthy(w->ctx->ud);
  int n = snprintf(
      head, sizeof(head),
      "HTTP/1.1 %d %s\r\nServer: uvchat/" UVCHAT_VERSION "\r\nContent-Length: %zu\r\n%s%s%s%s%s%s",
      status, reason, len, type ? "Content-Type: " : "", type ? type : "", type ? "\r\n" : "",
      extra ? extra : "", keep ? "" : "Connection: close\r\n", "\r\n");
  uvc_part_t parts[2];
  uvc_msg_t* m;
  if (n < 0 || (size_t)n >= sizeof(head)) return;
  parts[0].p = head, parts[0].n = (size_t)n;
  parts[1].p = body, parts[1].n = (body != NULL && !head_only) ? len : 0;
  if ((m = uvc_msg_concat(parts, 2)) != NULL) {
    uvc_conn_queue(c, m);
    uvc_msg_release(m);
  }
  UVC_CONN_FLOW(c)->metrics.http_requests++;
  w->idle_since = (uint32_t)uv_now(c->tcp.loop);
  if (!keep) {
    w->done = 1;
    uvc_conn_close(c, UVC_LEAVE_CLOSED, NULL, 0, 1); /* after the response has gone out */
  }
}

/* An error response with a one-line text body; the connection ends after it. */
static void fail(web_t* w, int status, const char* reason, const char* extra) {
  char body[128];
  int n = snprintf(body, sizeof(body), "%d %s\n", status, reason);
  w->done = 1;
  respond(w, status, reason, extra, "text/plain; charset=utf-8", body, (size_t)n, 0);
}

/* ------------------------------------------------------------------------------------------
 * The WebSocket
 * ---------------------------------------------------------------------------------------- */

static ssize_t ws_recv(wslay_event_context_ptr ctx, uint8_t* buf, size_t len, int flags, void* ud) {
  web_t* w = ud;
  (void)flags;
  if (w->in_len == 0) {
    wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
    return -1;
  }
  if (len > w->in_len) len = w->in_len;
  memcpy(buf, w->in, len);
  w->in += len;
  w->in_len -= len;
  return (ssize_t)len;
}

/* Bytes on the client's send queue. Returns 0, or -1 when out of memory. */
static int queue_bytes(web_t* w, const uint8_t* p, size_t n) {
  uvc_msg_t* m = uvc_msg_from((const char*)p, n);
  if (m == NULL) return -1;
  uvc_conn_queue(w->t.c, m);
  uvc_msg_release(m);
  return 0;
}

/* A close frame of ours, put together in w->close_buf, on the send queue: with its reason
 * when that is UTF-8, else with its code alone. */
static int queue_close_frame(web_t* w) {
  size_t n = w->close_got;
  w->close_got = 0;
  w->out_close = 0;
  if (n > 4 && !uvc_utf8_valid((const char*)w->close_buf + 4, n - 4)) {
    w->close_buf[1] = 2;
    n = 4;
  }
  return queue_bytes(w, w->close_buf, n);
}

/* wslay's own frames (pong, close) go on the send queue like everything else. wslay answers
 * a client's close frame with the client's code and reason, which need not be UTF-8 (fuzz_web
 * found one), while a close frame's reason must be: so the frames are followed as they go by
 * (wslay may hand over a header and its payload apart), a close frame is put together, and
 * a reason that is not UTF-8 is left out, the code kept. Server frames are unmasked. */
static ssize_t ws_send(wslay_event_context_ptr ctx, const uint8_t* data, size_t len, int flags,
                       void* ud) {
  web_t* w = ud;
  size_t i = 0;
  (void)flags;
  while (i < len) {
    if (w->out_left > 0) { /* payload */
      size_t take = len - i < w->out_left ? len - i : (size_t)w->out_left;
      if (w->out_close) {
        memcpy(w->close_buf + w->close_got, data + i, take); /* a control frame: <= 125 */
        w->close_got = (uint8_t)(w->close_got + take);
      } else if (queue_bytes(w, data + i, take) != 0) {
        goto failed;
      }
      w->out_left -= take;
      i += take;
      if (w->out_left == 0 && w->out_close && queue_close_frame(w) != 0) goto failed;
      continue;
    }
    w->out_hdr[w->out_hdr_got++] = data[i++]; /* a header, byte by byte */
    {
      size_t need = 2, plen, k;
      if (w->out_hdr_got >= 2) {
        plen = w->out_hdr[1] & 0x7F;
        need = plen == 126 ? 4 : plen == 127 ? 10 : 2;
      }
      if (w->out_hdr_got < need) continue;
      plen = w->out_hdr[1] & 0x7F;
      if (need > 2)
        for (plen = 0, k = 2; k < need; k++)
          plen = (plen << 8) | w->out_hdr[k];
      if ((w->out_hdr[0] & 0x0F) == 0x8 && plen <= 125) { /* a close frame */
        memcpy(w->close_buf, w->out_hdr, 2);
        w->close_got = 2;
        w->out_close = 1;
      } else if (queue_bytes(w, w->out_hdr, need) != 0) {
        goto failed;
      }
      w->out_hdr_got = 0;
      w->out_left = plen;
      if (plen == 0 && w->out_close && queue_close_frame(w) != 0) goto failed;
    }
  }
  return (ssize_t)len;
failed:
  wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
  return -1;
}

/* One whole message from the client: one IRC line (a trailing CR LF is allowed). */
static void ws_message(wslay_event_context_ptr ctx, const struct wslay_event_on_msg_recv_arg* arg,
                       void* ud) {
  web_t* w = ud;
  char line[UVC_LINE_FLOOR + 2];
  size_t n = arg->msg_length;
  if (arg->opcode != WSLAY_TEXT_FRAME && arg->opcode != WSLAY_BINARY_FRAME) return;
  if (arg->opcode == WSLAY_TEXT_FRAME && !uvc_utf8_valid((const char*)arg->msg, n)) {
    static const char kWhy[] = "a text message that is not UTF-8";
    (void)wslay_event_queue_close(ctx, WSLAY_CODE_INVALID_FRAME_PAYLOAD_DATA, (const uint8_t*)kWhy,
                                  sizeof(kWhy) - 1);
    wslay_event_shutdown_read(ctx);
    return;
  }
  while (n > 0 && (arg->msg[n - 1] == '\n' || arg->msg[n - 1] == '\r'))
    n--;
  if (n > UVC_LINE_FLOOR) n = UVC_LINE_FLOOR; /* wslay refuses longer messages already */
  if (n > 0) memcpy(line, arg->msg, n);       /* an empty message has no buffer (msg NULL) */
  line[n] = '\n';
  uvc_conn_input(w->t.c, line, n + 1);
  uvc_wipe(line, n + 1); /* it may have been a password */
}

static void web_input(uvc_transport_t* t, char* data, size_t n);
static void web_tick(uvc_transport_t* t, uint32_t now);
static void web_leaving(uvc_transport_t* t, uvc_leave_t why, const char* text, size_t len);
static void web_free(uvc_transport_t* t);

/* The same transport under its two names: HTTP, then WebSocket once upgraded. */
static const uvc_transport_ops_t kWebOps = {"HTTP",      web_input, NULL, /* ready */
                                            NULL,        NULL,      NULL, /* drained */
                                            web_leaving, NULL,            /* goodbye */
                                            web_tick,    web_free};
static const uvc_transport_ops_t kWsOps = {"WebSocket", web_input, NULL, /* ready */
                                           NULL,        NULL,      NULL, /* drained */
                                           web_leaving, NULL,            /* goodbye */
                                           web_tick,    web_free};

/* Frames from the client: messages go to the framer, control frames are answered. */
static void ws_input(web_t* w, const char* data, size_t n) {
  uvc_client_t* c = w->t.c;
  int r;
  w->in = (const uint8_t*)data;
  w->in_len = n;
  r = wslay_event_recv(w->ws);
  w->in_len = 0;
  if (c->state == UVC_CONN_CLOSING) return;
  (void)wslay_event_send(w->ws); /* pongs, a close frame */
  if (r != 0) {
    uvc_conn_close(c, UVC_LEAVE_LOST, "WebSocket: out of memory", 24, 0);
  } else if (wslay_event_get_close_received(w->ws)) {
    uvc_conn_close(c, UVC_LEAVE_CLOSED, NULL, 0, 1);
  } else if (!wslay_event_get_read_enabled(w->ws)) {
    uint16_t code = wslay_event_get_status_code_sent(w->ws);
    char why[64];
    int k = snprintf(why, sizeof(why), "WebSocket: %s (close code %u)",
                     code == WSLAY_CODE_MESSAGE_TOO_BIG              ? "a message over one IRC line"
                     : code == WSLAY_CODE_INVALID_FRAME_PAYLOAD_DATA ? "not UTF-8"
                                                                     : "protocol error",
                     (unsigned)code);
    uvc_conn_close(c, UVC_LEAVE_LOST, why, (size_t)k, 1); /* no farewell after the close frame */
  }
}

/* ------------------------------------------------------------------------------------------
 * HTTP
 * ---------------------------------------------------------------------------------------- */

static web_t* web_of(http_parser* p) {
  return (web_t*)((char*)p - offsetof(web_t, hp));
}

static int lower_eq(const char* a, size_t n, const char* b) {
  size_t i;
  if (strlen(b) != n) return 0;
  for (i = 0; i < n; i++) {
    char x = a[i];
    if (x >= 'A' && x <= 'Z') x = (char)(x - 'A' + 'a');
    if (x != b[i]) return 0;
  }
  return 1;
}

/* Whether the comma-separated list v[0..n) holds token (any case). */
static int has_token(const char* v, size_t n, const char* token) {
  size_t i = 0;
  while (i < n) {
    size_t j = i, a, b;
    while (j < n && v[j] != ',')
      j++;
    a = i, b = j;
    while (a < b && (v[a] == ' ' || v[a] == '\t'))
      a++;
    while (b > a && (v[b - 1] == ' ' || v[b - 1] == '\t'))
      b--;
    if (lower_eq(v + a, b - a, token)) return 1;
    i = j + 1;
  }
  return 0;
}

static int on_begin(http_parser* p) {
  web_t* w = web_of(p);
  if (w->done) return -1;
  w->started = (uint32_t)uv_now(w->t.c->tcp.loop) | 1u;
  w->header_bytes = 0;
  w->url_len = w->fname_len = 0;
  w->field = H_NONE;
  w->in_value = 0;
  w->too_long = 0;
  memset(w->hl, 0, sizeof(w->hl));
  return 0;
}

static int on_url(http_parser* p, const char* at, size_t n) {
  web_t* w = web_of(p);
  if (w->url_len + n > sizeof(w->url)) {
    fail(w, 414, "URI Too Long", NULL);
    return -1;
  }
  memcpy(w->url + w->url_len, at, n);
  w->url_len += n;
  return 0;
}

static int count_header(web_t* w, size_t n) {
  w->header_bytes += (uint32_t)n;
  if (w->header_bytes > UVC_HTTP_HEADERS_MAX) {
    fail(w, 431, "Request Header Fields Too Large", NULL);
    return -1;
  }
  return 0;
}

static int on_field(http_parser* p, const char* at, size_t n) {
  web_t* w = web_of(p);
  if (count_header(w, n) != 0) return -1;
  if (w->in_value) { /* a new field */
    w->in_value = 0;
    w->fname_len = 0;
  }
  if (w->fname_len + n < sizeof(w->fname)) memcpy(w->fname + w->fname_len, at, n);
  w->fname_len += n;
  return 0;
}

static int on_value(http_parser* p, const char* at, size_t n) {
  web_t* w = web_of(p);
  int h;
  if (count_header(w, n) != 0) return -1;
  if (!w->in_value) { /* the field's name is complete */
    w->in_value = 1;
    w->field = H_NONE;
    for (h = 0; h < H_N && w->fname_len < sizeof(w->fname); h++)
      if (lower_eq(w->fname, w->fname_len, kHeaders[h])) w->field = (uint8_t)h;
  }
  if (w->field == H_NONE) return 0;
  if (w->hl[w->field] + n > HV_MAX) {
    w->too_long = 1;
    return 0;
  }
  memcpy(w->hv[w->field] + w->hl[w->field], at, n);
  w->hl[w->field] = (uint16_t)(w->hl[w->field] + n);
  return 0;
}

static int on_headers_done(http_parser* p) {
  web_t* w = web_of(p);
  if ((p->flags & F_CHUNKED) || (p->content_length > 0 && p->content_length != ULLONG_MAX)) {
    fail(w, 413, "Content Too Large", NULL); /* nothing here takes a body */
    return -1;
  }
  return 0;
}

/* The path of the URL, without its query. */
static size_t path_len(const web_t* w) {
  const char* q = memchr(w->url, '?', w->url_len);
  return q != NULL ? (size_t)(q - w->url) : w->url_len;
}

/* Whether the request's Origin may open a WebSocket: none (not a browser), the configured one,
 * any, or by default the page's own (Origin's host[:port] is the Host header). */
static int origin_ok(const web_t* w) {
  const char* want = w->ctx->cfg->web_origin;
  const char* o = w->hv[H_ORIGIN];
  size_t n = w->hl[H_ORIGIN];
  const char* sep;
  size_t i;
  if (n == 0) return 1;
  if (want != NULL) {
    if (strcmp(want, "*") == 0) return 1;
    if (strlen(want) != n) return 0;
    for (i = 0; i < n; i++) {
      char a = o[i], b = want[i];
      if (a >= 'A' && a <= 'Z') a = (char)(a - 'A' + 'a');
      if (b >= 'A' && b <= 'Z') b = (char)(b - 'A' + 'a');
      if (a != b) return 0;
    }
    return 1;
  }
  /* o is not NUL-terminated (and may hold an earlier request's bytes past n): never strstr */
  for (sep = NULL, i = 0; sep == NULL && i + 3 <= n; i++)
    if (memcmp(o + i, "://", 3) == 0) sep = o + i;
  if (sep == NULL) return 0;
  sep += 3;
  n -= (size_t)(sep - o);
  if (w->hl[H_HOST] != n) return 0;
  {
    char host[HV_MAX + 1];
    memcpy(host, w->hv[H_HOST], n);
    host[n] = '\0';
    for (i = 0; i < n; i++)
      if (host[i] >= 'A' && host[i] <= 'Z') host[i] = (char)(host[i] - 'A' + 'a');
    return lower_eq(sep, n, host);
  }
}

/* GET /ws: checks the handshake and switches the connection to WebSocket. */
static void upgrade(web_t* w) {
  static const struct wslay_event_callbacks kCallbacks = {ws_recv, ws_send, NULL,      NULL,
                                                          NULL,    NULL,    ws_message};
  uvc_client_t* c = w->t.c;
  unsigned char digest[SHA_DIGEST_LENGTH], decoded[32];
  char keyguid[HV_MAX + sizeof(WS_GUID)], accept[64], extra[256];
  const uvc_adapter_t* adapter = &uvc_irc_ws_text_adapter;
  const char* proto = NULL;
  size_t i = 0, n = w->hl[H_PROTOCOL];
  int k;
  if (w->hp.method != HTTP_GET) {
    fail(w, 405, "Method Not Allowed", "Allow: GET\r\n");
    return;
  }
  if (!w->ctx->healthy(w->ctx->ud)) {
    fail(w, 503, "Service Unavailable", NULL); /* shutting down */
    return;
  }
  if (!has_token(w->hv[H_UPGRADE], w->hl[H_UPGRADE], "websocket") ||
      !has_token(w->hv[H_CONNECTION], w->hl[H_CONNECTION], "upgrade")) {
    fail(w, 426, "Upgrade Required", "Upgrade: websocket\r\nConnection: Upgrade\r\n");
    return;
  }
  if (w->hl[H_VERSION] != 2 || memcmp(w->hv[H_VERSION], "13", 2) != 0) {
    fail(w, 426, "Upgrade Required", "Sec-WebSocket-Version: 13\r\n");
    return;
  }
  if (w->hl[H_KEY] != 24 ||
      EVP_DecodeBlock(decoded, (const unsigned char*)w->hv[H_KEY], 24) != 18 ||
      w->hv[H_KEY][22] != '=' || w->hv[H_KEY][23] != '=') {
    fail(w, 400, "Bad Request", NULL); /* the key is 16 bytes in base64 */
    return;
  }
  if (!origin_ok(w)) {
    UVC_INFO("web: refused a WebSocket from origin %.*s", (int)w->hl[H_ORIGIN], w->hv[H_ORIGIN]);
    fail(w, 403, "Forbidden", NULL);
    return;
  }
  /* The first subprotocol the client lists that is ours; none listed: text frames. */
  while (i < n && proto == NULL) {
    size_t j = i, a, b;
    while (j < n && w->hv[H_PROTOCOL][j] != ',')
      j++;
    for (a = i; a < j && w->hv[H_PROTOCOL][a] == ' '; a++) {
    }
    for (b = j; b > a && w->hv[H_PROTOCOL][b - 1] == ' '; b--) {
    }
    if (lower_eq(w->hv[H_PROTOCOL] + a, b - a, "text.ircv3.net")) {
      proto = "text.ircv3.net";
    } else if (lower_eq(w->hv[H_PROTOCOL] + a, b - a, "binary.ircv3.net")) {
      proto = "binary.ircv3.net";
      adapter = &uvc_irc_ws_binary_adapter;
    }
    i = j + 1;
  }
  if (n > 0 && proto == NULL) {
    fail(w, 400, "Bad Request", NULL); /* it asked for subprotocols, none of them IRC */
    return;
  }
  memcpy(keyguid, w->hv[H_KEY], 24);
  memcpy(keyguid + 24, WS_GUID, sizeof(WS_GUID) - 1);
  SHA1((const unsigned char*)keyguid, 24 + sizeof(WS_GUID) - 1, digest);
  EVP_EncodeBlock((unsigned char*)accept, digest, SHA_DIGEST_LENGTH);
  if (wslay_event_context_server_init(&w->ws, &kCallbacks, w) != 0) {
    uvc_conn_close(c, UVC_LEAVE_LOST, "WebSocket: out of memory", 24, 0);
    return;
  }
  wslay_event_config_set_max_recv_msg_length(w->ws, UVC_LINE_FLOOR + 2);
  k = snprintf(extra, sizeof(extra),
               "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               "Sec-WebSocket-Accept: %s\r\n%s%s%s\r\n",
               accept, proto ? "Sec-WebSocket-Protocol: " : "", proto ? proto : "",
               proto ? "\r\n" : "");
  {
    uvc_msg_t* m = uvc_msg_from(extra, (size_t)k);
    if (m != NULL) {
      uvc_conn_queue(c, m);
      uvc_msg_release(m);
    }
  }
  UVC_CONN_FLOW(c)->metrics.ws_upgrades++;
  w->started = 0;
  c->sess.adapter = adapter;               /* an IRC session from now on, its lines framed */
  c->sess.slot = (uint8_t)adapter->format; /* its subprotocol's slot, variant 0 until CAP REQ */
  w->t.ops = &kWsOps;
  uvc_transport_ready(&w->t);
}

/* Answers one complete request. */
static int on_complete(http_parser* p) {
  web_t* w = web_of(p);
  int head = p->method == HTTP_HEAD;
  size_t plen = path_len(w);
  uvc_client_t* c = w->t.c;
  w->started = 0;
  w->requests++;
  if (w->too_long) {
    fail(w, 431, "Request Header Fields Too Large", NULL);
    return -1;
  }
  if (p->upgrade || (plen == 3 && memcmp(w->url, "/ws", 3) == 0)) {
    if (plen == 3 && memcmp(w->url, "/ws", 3) == 0)
      upgrade(w);
    else
      fail(w, 404, "Not Found", NULL);
    return -1; /* the rest of the bytes are frames (or nothing more is read) */
  }
  if (p->method != HTTP_GET && !head) {
    fail(w, 405, "Method Not Allowed", "Allow: GET, HEAD\r\n");
    return -1;
  }
  if (plen == 8 && memcmp(w->url, "/healthz", 8) == 0) {
    int ok = w->ctx->healthy(w->ctx->ud);
    respond(w, ok ? 200 : 503, ok ? "OK" : "Service Unavailable", "Cache-Control: no-store\r\n",
            "text/plain; charset=utf-8", ok ? "ok\n" : "shutting down\n", ok ? 3 : 14, head);
  } else if (plen == 8 && memcmp(w->url, "/metrics", 8) == 0) {
    uvc_metrics_buf_t b;
    memset(&b, 0, sizeof(b));
    w->ctx->metrics(w->ctx->ud, &b);
    if (b.failed)
      fail(w, 500, "Internal Server Error", NULL);
    else
      respond(w, 200, "OK", "Cache-Control: no-store\r\n", "text/plain; version=0.0.4", b.p, b.len,
              head);
    free(b.p);
  } else {
    const uvc_webfile_t* f = uvc_webfile_find(w->url, w->url_len);
    char extra[sizeof(kSecurity) + 160];
    if (f == NULL) {
      fail(w, 404, "Not Found", NULL);
      return -1;
    }
    snprintf(extra, sizeof(extra), "ETag: %s\r\nCache-Control: no-cache\r\n%s", f->etag, kSecurity);
    if (w->hl[H_INM] == strlen(f->etag) && memcmp(w->hv[H_INM], f->etag, w->hl[H_INM]) == 0)
      respond(w, 304, "Not Modified", extra, NULL, NULL, 0, 1);
    else
      respond(w, 200, "OK", extra, f->type, f->data, f->len, head);
  }
  return c->state == UVC_CONN_OPEN && !w->done ? 0 : -1;
}

static const http_parser_settings kSettings = {
    on_begin, on_url, NULL, on_field, on_value, on_headers_done, NULL, on_complete, NULL, NULL};

static void web_input(uvc_transport_t* t, char* data, size_t n) {
  web_t* w = (web_t*)t;
  size_t used;
  if (w->ws != NULL) {
    ws_input(w, data, n);
    return;
  }
  if (w->done) return; /* closing after its last response */
  used = http_parser_execute(&w->hp, &kSettings, data, n);
  if (w->ws != NULL) { /* upgraded: what follows the request is frames */
    if (used < n) ws_input(w, data + used, n - used);
    return;
  }
  if (!w->done && HTTP_PARSER_ERRNO(&w->hp) != HPE_OK) {
    enum http_errno e = HTTP_PARSER_ERRNO(&w->hp);
    if (e == HPE_HEADER_OVERFLOW)
      fail(w, 431, "Request Header Fields Too Large", NULL);
    else
      fail(w, 400, "Bad Request", NULL);
  }
}

/* The time limits: a request must be complete within --http-timeout, and a connection that
 * sends no request for as long is closed. */
static void web_tick(uvc_transport_t* t, uint32_t now) {
  web_t* w = (web_t*)t;
  uint32_t limit = (uint32_t)w->ctx->cfg->http_ms;
  if (w->ws != NULL || w->done) return;
  if (w->started != 0 && now - w->started >= limit)
    fail(w, 408, "Request Timeout", NULL);
  else if (w->started == 0 && now - w->idle_since >= limit)
    uvc_conn_close(t->c, UVC_LEAVE_IDLE, "HTTP keep-alive timeout", 23, 0);
}

/* The server ends the WebSocket: a close frame with a code and the reason. */
static void web_leaving(uvc_transport_t* t, uvc_leave_t why, const char* text, size_t len) {
  web_t* w = (web_t*)t;
  uint16_t code;
  if (w->ws == NULL || wslay_event_get_close_sent(w->ws)) return;
  switch (why) {
    case UVC_LEAVE_SHUTDOWN:
      code = WSLAY_CODE_GOING_AWAY;
      break;
    case UVC_LEAVE_INPUT:
    case UVC_LEAVE_SENDQ:
    case UVC_LEAVE_IDLE:
      code = WSLAY_CODE_POLICY_VIOLATION;
      break;
    default:
      code = WSLAY_CODE_NORMAL_CLOSURE;
  }
  if (text == NULL || !uvc_utf8_valid(text, len)) len = 0; /* a close reason is UTF-8 or none */
  len = uvc_utf8_cut(text != NULL ? text : "", len, 123);  /* a control frame's payload */
  (void)wslay_event_queue_close(w->ws, code, (const uint8_t*)text, len);
  (void)wslay_event_send(w->ws);
}

static void web_free(uvc_transport_t* t) {
  web_t* w = (web_t*)t;
  if (w->ws != NULL) wslay_event_context_free(w->ws);
  free(w);
}

uvc_transport_t* uvc_web_transport_new(void* ctx, uvc_client_t* c) {
  web_t* w = calloc(1, sizeof(*w));
  if (w == NULL) return NULL;
  w->t.ops = &kWebOps;
  w->t.c = c;
  w->ctx = ctx;
  http_parser_init(&w->hp, HTTP_REQUEST);
  w->idle_since = (uint32_t)uv_now(c->tcp.loop);
  return &w->t;
}
