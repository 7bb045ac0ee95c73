/* fuzz_web.c: the web listener's transport (src/net/web.c, unchanged) on arbitrary bytes from
 * one client: HTTP requests, and WebSocket frames once a request upgraded.
 *
 * web.c is welded to the connection (it queues on the client, closes it, hands lines to the
 * framer), so this target stands in for the four entry points of conn.c it calls, keeping
 * their contract: uvc_conn_close moves an open client to PENDING once (graceful or not) and
 * nothing more is read; uvc_conn_queue takes output while the client may write;
 * uvc_conn_input takes lines; uvc_transport_ready opens the session. What the connection
 * layer itself does with the bytes (the framer, the IRC session) is not exercised here.
 *
 * Checked: every response before the upgrade is one HTTP/1.1 response with printable header
 * lines, a blank line and a body no longer than its Content-Length; the 101 comes once; after
 * it, output is server frames (final, unmasked, of a known opcode, control frames under 126
 * bytes, close reasons and text frames UTF-8); what is handed up to the framer is at most
 * UVC_LINE_FLOOR bytes and an LF, and comes only after the upgrade.
 *
 * Input: byte 0 is the read size (0: everything in one read), byte 1 bit 0 the server's health
 * (1: shutting down), bit 1 a configured Origin ("*" or "http://a"); the rest is the stream. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "fuzz_check.h"
#include "uvchat/config.h"
#include "uvchat/conn.h"
#include "uvchat/flow.h"
#include "uvchat/irc.h"
#include "uvchat/log.h"
#include "uvchat/transport.h"
#include "uvchat/web.h"

static uvc_client_t client;
static int upgraded; /* the 101 was queued */
static int ready;    /* uvc_transport_ready was called */
static int graceful;
static int sick;
static int trace = -1;             /* FUZZ_TRACE=1: the output and the lines, on stderr */
static unsigned char out[1 << 16]; /* what went out after the 101 */
static size_t out_len;

/* One HTTP response: status line, header lines of printable ASCII, a blank line, a body. */
static void check_response(const unsigned char* p, size_t n) {
  size_t i = 0, clen = (size_t)-1;
  int first = 1;
  if (n < 17 || memcmp(p, "HTTP/1.1 ", 9) != 0) abort();
  if (p[9] < '1' || p[9] > '5' || p[10] < '0' || p[10] > '9' || p[11] < '0' || p[11] > '9' ||
      p[12] != ' ')
    abort();
  for (;;) {
    const unsigned char* lf = memchr(p + i, '\n', n - i);
    size_t len, k;
    if (lf == NULL) abort(); /* the header section ends */
    len = (size_t)(lf - (p + i));
    if (len == 0 || p[i + len - 1] != '\r') abort();
    len--;
    if (len == 0) { /* the blank line */
      i += 2;
      break;
    }
    for (k = 0; k < len; k++)
      if (p[i + k] < 0x20 || p[i + k] > 0x7E) abort();
    if (!first && memchr(p + i, ':', len) == NULL) abort();
    if (len > 16 && memcmp(p + i, "Content-Length: ", 16) == 0) {
      clen = 0;
      for (k = 16; k < len; k++) {
        if (p[i + k] < '0' || p[i + k] > '9') abort();
        clen = clen * 10 + (size_t)(p[i + k] - '0');
      }
    }
    first = 0;
    i += len + 2;
  }
  if (memcmp(p + 9, "101", 3) == 0) {
    if (n != i || upgraded) abort();
    upgraded = 1;
    return;
  }
  if (clen == (size_t)-1) abort();
  if (n - i != clen && n != i) abort(); /* the whole body, or none (HEAD, 304) */
}

/* Server frames: final, unmasked, of a known opcode. */
static void check_frames(const unsigned char* p, size_t n) {
  size_t i = 0;
  while (i < n) {
    unsigned op;
    uint64_t len;
    if (n - i < 2) abort();
    if ((p[i] & 0xF0) != 0x80 || (p[i + 1] & 0x80)) abort(); /* FIN, no RSV, no mask */
    op = p[i] & 0x0F;
    len = p[i + 1] & 0x7F;
    i += 2;
    if (len == 126) {
      if (n - i < 2) abort();
      len = ((uint64_t)p[i] << 8) | p[i + 1];
      i += 2;
    } else if (len == 127) {
      if (n - i < 8) abort();
      len = 0;
      for (int k = 0; k < 8; k++)
        len = (len << 8) | p[i + k];
      i += 8;
    }
    if (len > n - i) abort();
    switch (op) {
      case 0x1:
        if (!fuzz_utf8_ok(p + i, (size_t)len)) abort();
        break;
      case 0x2:
        break;
      case 0x8: /* close: nothing, or a code and a UTF-8 reason */
        if (len > 125 || len == 1 || (len > 2 && !fuzz_utf8_ok(p + i + 2, (size_t)len - 2)))
          abort();
        break;
      case 0x9:
      case 0xA:
        if (len > 125) abort();
        break;
      default:
        abort();
    }
    i += (size_t)len;
  }
}

/* ---- What web.c calls of the connection layer ------------------------------------------- */

void uvc_conn_queue(uvc_client_t* c, uvc_msg_t* m) {
  const unsigned char* p = (const unsigned char*)m->data;
  if (trace) fprintf(stderr, "<- %u bytes: %.*s\n", (unsigned)m->len, (int)m->len, m->data);
  if (c->state == UVC_CONN_CLOSING || (c->state == UVC_CONN_PENDING && !graceful)) return;
  if (upgraded) { /* wslay writes a frame in pieces: they are checked whole, at the end */
    if (out_len + m->len > sizeof(out)) return; /* never: only pongs and a close go out */
    memcpy(out + out_len, p, m->len);
    out_len += m->len;
  } else
    check_response(p, m->len);
}

void uvc_conn_close(uvc_client_t* c, uvc_leave_t why, const char* text, size_t len, int grace) {
  (void)why;
  if (text != NULL && !fuzz_utf8_ok((const unsigned char*)text, len)) abort(); /* it is logged */
  if (c->state != UVC_CONN_OPEN) {
    if (!grace) graceful = 0;
    return;
  }
  c->state = UVC_CONN_PENDING;
  graceful = grace;
}

void uvc_conn_input(uvc_client_t* c, char* data, size_t n) {
  (void)c;
  if (trace) fprintf(stderr, "-> line: %.*s", (int)n, data);
  if (!ready) abort();
  /* (a message holding several lines is passed on whole: the framer splits it, as on TCP) */
  if (n == 0 || n > UVC_LINE_FLOOR + 1 || data[n - 1] != '\n') abort();
}

void uvc_transport_ready(uvc_transport_t* t) {
  if (!upgraded || ready || !uvc_irc_adapter_is(t->c->sess.adapter)) abort();
  ready = 1;
}

/* ---- The server around it ---------------------------------------------------------------- */

static void metrics(void* ud, uvc_metrics_buf_t* b) {
  static const char kText[] = "# TYPE uvchat_up gauge\nuvchat_up 1\n";
  (void)ud;
  b->p = malloc(sizeof(kText));
  if (b->p == NULL) {
    b->failed = 1;
    return;
  }
  memcpy(b->p, kText, sizeof(kText));
  b->len = b->cap = sizeof(kText) - 1;
}

static int healthy(void* ud) {
  (void)ud;
  return !sick;
}

int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static uv_loop_t loop; /* only its clock is read */
  static uvc_flow_t flow;
  static uvc_config_t cfg;
  static const char kWhy[] = "server shutting down: \xc3\xa9t\xc3\xa9 \xe2\x80\x94 until later";
  uvc_web_ctx_t ctx = {&cfg, metrics, healthy, NULL};
  uvc_transport_t* t;
  size_t chunk, i;
  if (size < 2) return 0;
  if (trace < 0) {
    trace = getenv("FUZZ_TRACE") != NULL;
    uvc_log_set_level(trace ? UVC_LOG_DEBUG : UVC_LOG_OFF); /* a refused Origin is logged */
  }
  loop.data = &flow;
  loop.time = 1000000;
  cfg.http_ms = 10000;
  cfg.web_origin = (data[1] & 2) ? ((data[1] & 4) ? "*" : "http://a") : NULL;
  sick = data[1] & 1;
  memset(&client, 0, sizeof(client));
  client.tcp.loop = &loop;
  client.state = UVC_CONN_OPEN;
  client.sess.adapter = &uvc_irc_ws_text_adapter; /* the web listener's (until the upgrade) */
  upgraded = ready = graceful = 0;
  out_len = 0;
  t = uvc_web_transport_new(&ctx, &client);
  if (t == NULL) abort();
  chunk = data[0] != 0 ? data[0] : size;
  data += 2;
  size -= 2;
  for (i = 0; i < size && client.state == UVC_CONN_OPEN; i += chunk) {
    size_t n = size - i < chunk ? size - i : chunk;
    char* copy = malloc(n); /* its own buffer, so that a read past it is seen */
    if (copy == NULL) abort();
    memcpy(copy, data + i, n);
    t->ops->input(t, copy, n);
    free(copy);
  }
  if (client.state == UVC_CONN_OPEN) {
    loop.time += cfg.http_ms; /* a request still unfinished times out */
    t->ops->tick(t, (uint32_t)loop.time);
  }
  if (client.state == UVC_CONN_OPEN) t->ops->leaving(t, UVC_LEAVE_SHUTDOWN, kWhy, sizeof(kWhy) - 1);
  check_frames(out, out_len);
  t->ops->free(t);
  return 0;
}
