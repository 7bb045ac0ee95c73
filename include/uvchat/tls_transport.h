/* tls_transport.h: TLS (tls.h's engine) as a transport (transport.h), the bottom of a chain. */
#ifndef UVCHAT_TLS_TRANSPORT_H
#define UVCHAT_TLS_TRANSPORT_H

#include "uvchat/transport.h"

/* A TLS transport for c from a uvc_tls_ctx_t (a uvc_transport_maker_t's make), or NULL when
 * out of memory. */
uvc_transport_t* uvc_tls_transport_new(void* ctx, uvc_client_t* c);

#endif
