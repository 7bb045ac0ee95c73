/* web.h: the web listener's transport: HTTP/1.1 first (the built-in web client, /healthz,
 * /metrics), and at GET /ws a WebSocket carrying IRC lines (the IRCv3 WebSocket
 * specification: subprotocols text.ircv3.net and binary.ircv3.net, one IRC line per message)
 * into the IRC adapter.
 *
 * HTTP requests are parsed by nodejs' http-parser, WebSocket frames by wslay (frames in:
 * masking, fragments, control frames, the close handshake); frames out are rendered once per
 * event by the IRC-over-WebSocket adapters (wsframe.h) and shared like any message.
 *
 * Limits: a request line of UVC_HTTP_URL_MAX bytes, headers of UVC_HTTP_HEADERS_MAX bytes,
 * each request within --http-timeout, UVC_HTTP_REQUESTS_MAX requests per connection, no
 * request body; a WebSocket message of at most one IRC line (UVC_LINE_FLOOR bytes).
 */
#ifndef UVCHAT_WEB_H
#define UVCHAT_WEB_H

#include "uvchat/metrics.h"
#include "uvchat/transport.h"

#define UVC_HTTP_URL_MAX      2048
#define UVC_HTTP_HEADERS_MAX  8192
#define UVC_HTTP_REQUESTS_MAX 100

/* What the web transport needs from its server. */
typedef struct uvc_web_ctx {
  const uvc_config_t* cfg; /* web_origin, http_ms */
  /* Appends the Prometheus text of the server's metrics to b. */
  void (*metrics)(void* ud, uvc_metrics_buf_t* b);
  /* 1 while the server accepts connections, 0 while it shuts down. */
  int (*healthy)(void* ud);
  void* ud;
} uvc_web_ctx_t;

/* A web transport for c (a uvc_transport_maker_t's make; arg is a uvc_web_ctx_t), or NULL
 * when out of memory. */
uvc_transport_t* uvc_web_transport_new(void* ctx, uvc_client_t* c);

#endif
