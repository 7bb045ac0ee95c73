/* transport.h: a layer between the socket and the line framer that turns bytes into bytes
 * (TLS; HTTP that becomes WebSocket) and knows nothing of lines.
 *
 *   socket ─▶ bottom.input ─▶ ... ─▶ top.input ─▶ uvc_conn_input (framer, adapter)
 *   adapter ─▶ send queue (shared messages) ─▶ bottom.flush (or the socket itself) ─▶ socket
 *
 * A client without transports (plain TCP) is the empty chain: its reads go straight to the
 * framer and its queue straight to writev, and it pays nothing for this (no pointer, no
 * test on the fan-out path). A client with transports is a uvc_xclient_t, a larger struct that
 * starts with the plain client (flag UVC_CONN_XPORT). Transports stack: chain[0] is nearest
 * the socket (TLS), the next one sits on it (HTTP/WebSocket), so wss is WebSocket over TLS.
 *
 * Output: whatever a transport or the adapter wants to send is a message on the client's one
 * send queue, where the send-queue limits see it; only the bottom transport may take bytes out
 * of the queue and transform them (TLS encrypts per client); every other layer puts
 * ready-made bytes on the queue (a WebSocket frame, an HTTP response).
 */
#ifndef UVCHAT_TRANSPORT_H
#define UVCHAT_TRANSPORT_H

#include <stddef.h>
#include <stdint.h>

#include "uvchat/conn.h"

typedef struct uvc_transport uvc_transport_t;

typedef struct uvc_transport_ops {
  const char* name; /* for the log: "TLS", "HTTP", "WebSocket" */
  /* Bytes from the layer below (or the socket). What it decodes goes up with
   * uvc_transport_up; a fatal error closes the client (uvc_conn_close). */
  void (*input)(uvc_transport_t* t, char* data, size_t n);
  /* The layer below is established (TLS: the handshake is done). Optional. */
  void (*ready)(uvc_transport_t* t);
  /* The client's input was resumed: hand up what was held back. Optional. */
  void (*resume)(uvc_transport_t* t);
  /* Bottom layer only, optional: writes the client's queue (else writev takes it as it is). */
  void (*flush)(uvc_transport_t* t);
  /* Whether output the transport holds below the queue is all gone (NULL: nothing held). */
  int (*drained)(const uvc_transport_t* t);
  /* The client leaves gracefully for why: a polite word in the layer's own terms (a WebSocket
   * close frame), queued before the rest drains. Optional. */
  void (*leaving)(uvc_transport_t* t, uvc_leave_t why, const char* text, size_t len);
  /* Everything is written: the last word before the FIN (TLS close_notify). Optional. */
  void (*goodbye)(uvc_transport_t* t);
  /* A once-a-second look at the clock (limits on time: an HTTP request). Optional. */
  void (*tick)(uvc_transport_t* t, uint32_t now);
  void (*free)(uvc_transport_t* t);
} uvc_transport_ops_t;

struct uvc_transport {
  const uvc_transport_ops_t* ops;
  uvc_transport_t* above; /* the next layer toward the framer, or NULL (the top) */
  uvc_transport_t* below; /* toward the socket, or NULL (the bottom) */
  uvc_client_t* c;
};

/* Makes a transport for client c (not linked yet), or NULL when out of memory. */
typedef struct uvc_transport_maker {
  uvc_transport_t* (*make)(void* arg, uvc_client_t* c);
  void* arg;
} uvc_transport_maker_t;

#define UVC_MAX_CHAIN 2

typedef struct uvc_xclient {
  uvc_client_t c;
  uvc_transport_t* bottom;
  uvc_transport_t* top;
} uvc_xclient_t;

static inline uvc_xclient_t* uvc_xclient_of(uvc_client_t* c) {
  return (uvc_xclient_t*)c;
}

/* Hands decoded bytes to the layer above t, or to the framer from the top layer. */
void uvc_transport_up(uvc_transport_t* t, char* data, size_t n);
/* t is established: the layer above learns it, or from the top layer the session opens (the
 * adapter greets the client). */
void uvc_transport_ready(uvc_transport_t* t);
/* Replaces t (the top layer) by n, which takes its place in the chain; t is freed. */
void uvc_transport_replace(uvc_transport_t* t, uvc_transport_t* n);

#endif
