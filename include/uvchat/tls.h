/* tls.h: a server-side TLS engine (OpenSSL 3) that works on buffers, not sockets.
 *
 * The connection layer puts it between the socket and the line framer:
 *
 *   socket bytes ─▶ uvc_tls_feed() ─▶ uvc_tls_read() ─▶ framer ─▶ adapter
 *   adapter ─▶ uvc_tls_write() ─▶ uvc_tls_take_out() ─▶ socket
 *
 * After every feed, read or write, ciphertext may be waiting to go to the socket (handshake
 * messages, alerts, encrypted lines): send everything uvc_tls_pending_out() reports. Each
 * TLS connection encrypts its own copy of a broadcast; that is inherent to TLS.
 *
 * Settings: TLS 1.2 and 1.3 only; for TLS 1.2 only ECDHE key exchange with AES-GCM or
 * ChaCha20-Poly1305 (the Mozilla "intermediate" list without DHE); the server's cipher
 * order; no compression, no renegotiation; OpenSSL's buffers are released while a connection
 * is idle (SSL_MODE_RELEASE_BUFFERS). The certificate file may hold a chain (leaf first).
 *
 * Plaintext clients: a TLS connection always starts with a handshake record (first byte
 * 0x16). The engine refuses any other first byte with UVC_TLS_NOT_TLS, so a client typing
 * "NICK x" at the TLS port gets a clear error, and uvc_tls_looks_like_plaintext() lets the
 * caller first send it one plaintext line saying so. uvc_tls_looks_like_tls() is the reverse
 * test for a plaintext port.
 *
 * Threads: a context and its connections belong to one thread (the loop thread).
 */
#ifndef UVCHAT_TLS_H
#define UVCHAT_TLS_H

#include <stddef.h>

#define UVC_TLS_ERROR       (-201) /* a TLS protocol error (see uvc_tls_last_error) */
#define UVC_TLS_NOT_TLS     (-202) /* the client did not start a TLS handshake */
#define UVC_TLS_CLOSED      (-203) /* the client closed the TLS session cleanly (close_notify) */
#define UVC_TLS_NOMEM       (-204) /* out of memory */
#define UVC_TLS_FULL        (-205) /* over UVC_TLS_EARLY_MAX bytes queued before the handshake */
#define UVC_TLS_EARLY_MAX   65536  /* plaintext held back until the handshake is done */
#define UVC_TLS_KEEP_BUFFER 16384  /* a drained buffer larger than this is given back */

typedef struct uvc_tls_ctx uvc_tls_ctx_t;
typedef struct uvc_tls uvc_tls_t;

/* A server context from a PEM certificate (chain) file and a PEM private key file, or NULL
 * with a one-line reason in err (when errlen > 0). */
uvc_tls_ctx_t* uvc_tls_ctx_new(const char* cert_pem_path, const char* key_pem_path, char* err,
                               size_t errlen);

/* Loads a new certificate and key (for example on SIGHUP). On success new connections use
 * them, and connections already open keep theirs until they end. On failure (0 not
 * returned: UVC_TLS_ERROR with the reason in err) the context is unchanged. */
int uvc_tls_ctx_reload(uvc_tls_ctx_t* ctx, const char* cert_pem_path, const char* key_pem_path,
                       char* err, size_t errlen);

/* Frees the context. Connections made from it stay valid (they hold their own reference to
 * the certificate they started with). NULL is ignored. */
void uvc_tls_ctx_free(uvc_tls_ctx_t* ctx);

/* A new server-side connection that waits for a ClientHello, or NULL when out of memory. */
uvc_tls_t* uvc_tls_new(uvc_tls_ctx_t* ctx);

/* Frees a connection (no close_notify is sent: see uvc_tls_close_notify). NULL is ignored. */
void uvc_tls_free(uvc_tls_t* t);

/* Hands over n bytes of ciphertext read from the socket. Returns 0, UVC_TLS_NOT_TLS when the
 * very first byte is not a TLS handshake record, UVC_TLS_NOMEM, or the error that already
 * ended the connection. */
int uvc_tls_feed(uvc_tls_t* t, const char* in, size_t n);

/* Advances the handshake and decrypts: returns the number of plaintext bytes written to
 * out (at most cap; call again until it returns 0), 0 when more ciphertext is needed,
 * UVC_TLS_CLOSED when the client sent close_notify, or a negative error (UVC_TLS_ERROR,
 * UVC_TLS_NOT_TLS). Once an error is returned every later call returns it at once. */
int uvc_tls_read(uvc_tls_t* t, char* out, size_t cap);

/* Queues n bytes of plaintext for the client: encrypted at once once the handshake is done,
 * else held (at most UVC_TLS_EARLY_MAX bytes) and encrypted when it completes. Returns 0,
 * UVC_TLS_FULL, UVC_TLS_NOMEM or the error that ended the connection. */
int uvc_tls_write(uvc_tls_t* t, const char* plain, size_t n);

/* Queues a close_notify alert (a polite end) to go out with the rest of the ciphertext. */
void uvc_tls_close_notify(uvc_tls_t* t);

/* Bytes of ciphertext waiting for the socket. */
size_t uvc_tls_pending_out(const uvc_tls_t* t);

/* Moves up to cap bytes of waiting ciphertext into out; returns how many. */
size_t uvc_tls_take_out(uvc_tls_t* t, char* out, size_t cap);

/* Bytes of buffer memory the connection holds outside OpenSSL's own state (its input and
 * output buffers and the held-back plaintext), for statistics and tests. */
size_t uvc_tls_buffer_bytes(const uvc_tls_t* t);

/* 1 once the handshake has completed. */
int uvc_tls_handshake_done(const uvc_tls_t* t);

/* The negotiated protocol ("TLSv1.3") and cipher, for the log; "" before the handshake. */
const char* uvc_tls_version(const uvc_tls_t* t);
const char* uvc_tls_cipher(const uvc_tls_t* t);

/* A short description of what ended the connection ("" while all is well), for the log:
 * for example "not TLS: the client sent plaintext" or "handshake failed: unsupported
 * protocol". */
const char* uvc_tls_last_error(const uvc_tls_t* t);

/* On a TLS port: 1 when the first bytes a client sent look like a plaintext line (printable
 * ASCII, tab, CR or LF, and not a TLS record), so the caller may answer with one plaintext
 * line such as "this port speaks TLS" before closing. 0 when n is 0. */
int uvc_tls_looks_like_plaintext(const char* first_bytes, size_t n);

/* On a plaintext port: 1 when the first bytes look like the start of a TLS handshake
 * (0x16, then major version 3, then a minor version up to 4, as far as n goes), so the
 * caller may answer "this port is plaintext; use the TLS port". 0 when n is 0. */
int uvc_tls_looks_like_tls(const char* first_bytes, size_t n);

#endif
