/* tls_transport.c: TLS as a transport: ciphertext from the socket into the engine, plaintext
 * up the chain; the client's queue encrypted on its way out.
 *
 * Shared broadcast messages are encrypted per client as they leave its queue (that is
 * inherent to TLS); at most TLS_INFLIGHT_MAX bytes of ciphertext are in flight, the rest waits
 * in the queue where the send-queue limits see it. Ciphertext writes own their buffers.
 */
#include "uvchat/tls_transport.h"

#include <stdlib.h>
#include <string.h>

#include "uvchat/clean.h"
#include "uvchat/log.h"
#include "uvchat/tls.h"

#define TLS_INFLIGHT_MAX (64 * 1024)

typedef struct tls_transport {
  uvc_transport_t t;
  uvc_tls_t* tls;
  uint32_t cipher_inflight; /* ciphertext bytes handed to uv_write and not yet written */
  uint8_t opened;           /* the handshake is done and the layer above learnt it */
} tls_transport_t;

typedef struct tls_write {
  uv_write_t req;
  tls_transport_t* x;
  uint32_t n;
  char data[];
} tls_write_t;

static void tls_send(tls_transport_t* x);

static void on_tls_write(uv_write_t* req, int status) {
  tls_write_t* w = (tls_write_t*)req;
  tls_transport_t* x = w->x;
  uvc_client_t* c = x->t.c;
  x->cipher_inflight -= w->n;
  if (status == 0) UVC_CONN_FLOW(c)->metrics.bytes_out += w->n;
  free(w);
  if (c->state == UVC_CONN_CLOSING) return; /* runs inside the close */
  if (status < 0) {
    uvc_conn_write_failed(c, status);
    return;
  }
  if (c->outq.count > 0)
    uvc_flow_mark_dirty(UVC_CONN_FLOW(c), c);
  else
    uvc_conn_drained(c);
}

/* Sends the ciphertext the engine has ready (handshake messages, alerts, records). */
static void tls_send(tls_transport_t* x) {
  uvc_client_t* c = x->t.c;
  size_t n = uvc_tls_pending_out(x->tls);
  tls_write_t* w;
  uv_buf_t b;
  int r;
  if (n == 0 || c->state == UVC_CONN_CLOSING) return;
  if ((w = malloc(sizeof(*w) + n)) == NULL) {
    uvc_conn_write_failed(c, UV_ENOMEM);
    return;
  }
  w->x = x;
  w->n = (uint32_t)uvc_tls_take_out(x->tls, w->data, n);
  b = uv_buf_init(w->data, w->n);
  if ((r = uv_write(&w->req, (uv_stream_t*)&c->tcp, &b, 1, on_tls_write)) != 0) {
    free(w);
    uvc_conn_write_failed(c, r);
    return;
  }
  x->cipher_inflight += w->n;
}

/* Moves queued messages into the engine while little ciphertext is in flight, then sends. */
static void tls_flush(uvc_transport_t* t) {
  tls_transport_t* x = (tls_transport_t*)t;
  uvc_client_t* c = t->c;
  while (c->outq.count > 0 && x->cipher_inflight + uvc_tls_pending_out(x->tls) < TLS_INFLIGHT_MAX) {
    uvc_msg_t* m = c->outq.ring[c->outq.head];
    uint32_t off = c->outq.head_off;
    int r = uvc_tls_write(x->tls, m->data + off, m->len - off);
    if (r == UVC_TLS_FULL) break; /* held until the handshake is done */
    if (r < 0) {
      UVC_DEBUG("TLS: %s", uvc_tls_last_error(x->tls));
      uvc_conn_write_failed(c, UV_EPROTO);
      return;
    }
    uvc_outq_consume(&c->outq, m->len - off);
  }
  tls_send(x);
  if (c->state == UVC_CONN_CLOSING) return;
  if (c->outq.count == 0) {
    uvc_outq_trim_small(&c->outq);
    uvc_conn_drained(c);
  }
}

static int tls_drained(const uvc_transport_t* t) {
  return ((const tls_transport_t*)t)->cipher_inflight == 0;
}

/* Decrypts what the engine holds and hands it up while the client is open and not paused;
 * tells the layer above once the handshake is done. */
static void tls_pump(uvc_transport_t* t) {
  tls_transport_t* x = (tls_transport_t*)t;
  uvc_client_t* c = t->c;
  char* tbuf = uvc_flow_tbuf(UVC_CONN_FLOW(c));
  if (tbuf == NULL) {
    uvc_conn_close(c, UVC_LEAVE_LOST, "out of memory for TLS", 21, 0);
    return;
  }
  while (c->state == UVC_CONN_OPEN && c->pause == 0) {
    int k = uvc_tls_read(x->tls, tbuf, UVC_READ_BUF);
    if (!x->opened && uvc_tls_handshake_done(x->tls)) {
      x->opened = 1;
      uvc_transport_ready(t);
      if (c->state != UVC_CONN_OPEN) break;
    }
    if (k > 0) {
      uvc_transport_up(t, tbuf, (size_t)k);
      uvc_wipe(tbuf, (size_t)k);
    } else if (k == 0) {
      break;
    } else if (k == UVC_TLS_CLOSED) {
      uvc_conn_close(c, UVC_LEAVE_CLOSED, NULL, 0, 1);
      break;
    } else {
      const char* e = uvc_tls_last_error(x->tls);
      uvc_conn_close(c, UVC_LEAVE_LOST, e, strlen(e), 0);
      break;
    }
  }
  tls_send(x); /* handshake replies, alerts, and what the lines above produced */
}

/* Ciphertext from the socket. A client that speaks plaintext to the TLS port gets one plain
 * line saying so, and is closed. */
static void tls_input(uvc_transport_t* t, char* data, size_t n) {
  tls_transport_t* x = (tls_transport_t*)t;
  uvc_client_t* c = t->c;
  int r = uvc_tls_feed(x->tls, data, n);
  if (r == UVC_TLS_NOT_TLS) {
    static char kPlain[] =
        "This port speaks TLS: connect with a TLS client (openssl s_client, an IRC client "
        "with TLS on), or use the plaintext port.\r\n";
    uv_buf_t b = uv_buf_init(kPlain, sizeof(kPlain) - 1);
    (void)uv_try_write((uv_stream_t*)&c->tcp, &b, 1);
    uvc_conn_close(c, UVC_LEAVE_LOST, "plaintext on the TLS port", 25, 0);
    return;
  }
  if (r < 0) {
    const char* e = uvc_tls_last_error(x->tls);
    uvc_conn_close(c, UVC_LEAVE_LOST, e, strlen(e), 0);
    return;
  }
  tls_pump(t);
}

/* A polite TLS end before the TCP one. */
static void tls_goodbye(uvc_transport_t* t) {
  tls_transport_t* x = (tls_transport_t*)t;
  uvc_tls_close_notify(x->tls);
  tls_send(x);
}

static void tls_free(uvc_transport_t* t) {
  tls_transport_t* x = (tls_transport_t*)t;
  uvc_tls_free(x->tls);
  free(x);
}

static const uvc_transport_ops_t kTlsOps = {
    "TLS",       tls_input, NULL,              /* ready: TLS is the bottom */
    tls_pump,    tls_flush, tls_drained, NULL, /* leaving */
    tls_goodbye, NULL,                         /* tick */
    tls_free};

uvc_transport_t* uvc_tls_transport_new(void* ctx, uvc_client_t* c) {
  tls_transport_t* x = calloc(1, sizeof(*x));
  if (x == NULL) return NULL;
  if ((x->tls = uvc_tls_new((uvc_tls_ctx_t*)ctx)) == NULL) {
    free(x);
    return NULL;
  }
  x->t.ops = &kTlsOps;
  x->t.c = c;
  return &x->t;
}
