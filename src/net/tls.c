/* tls.c: server-side TLS over memory BIOs (OpenSSL 3), between the socket and the framer.
 *
 * Each connection's SSL reads ciphertext from one memory BIO (filled by uvc_tls_feed) and
 * writes ciphertext to another (drained by uvc_tls_take_out); the engine never sees a
 * socket. The empty input BIO reports "retry" rather than end of file, so OpenSSL asks for
 * more input instead of failing. Any error is sticky: once a connection failed, every call
 * returns that error at once, so a caller that loops on uvc_tls_read cannot spin.
 *
 * A context wraps one SSL_CTX. Every SSL holds a reference to the SSL_CTX it was made from,
 * so a reload builds a new SSL_CTX, swaps it in and drops the context's reference to the old
 * one: connections that are open keep the old certificate alive until they end.
 */
#include "uvchat/tls.h"

#include <limits.h>
#include <openssl/buffer.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "uvchat/log.h"

#if OPENSSL_VERSION_NUMBER < 0x30000000L
#error "uvchat's TLS needs OpenSSL 3"
#endif

/* TLS 1.2 suites: forward secrecy and AEAD only (Mozilla "intermediate", without DHE). TLS
 * 1.3 keeps OpenSSL's default suites. */
static const char kCiphers12[] =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

struct uvc_tls_ctx {
  SSL_CTX* ssl_ctx;
};

struct uvc_tls {
  SSL* ssl;
  BIO* in;         /* ciphertext from the client (owned by ssl) */
  BIO* out;        /* ciphertext for the client (owned by ssl) */
  int err;         /* the error that ended the connection, or 0 */
  uint8_t started; /* the first byte has been seen */
  uint8_t done;    /* the handshake has completed */
  uint8_t fatal;   /* OpenSSL reported a fatal error: no more SSL calls but free */
  char* early;     /* plaintext written before the handshake completed */
  size_t early_len;
  char why[160];
};

/* OpenSSL's reason for the first error in its queue (the cause; later ones wrap it), short
 * and lower-case, or fallback. */
static const char* ssl_reason(const char* fallback) {
  unsigned long e = ERR_peek_error();
  const char* r;
  if (e == 0) return fallback;
  if (ERR_SYSTEM_ERROR(e)) return strerror(ERR_GET_REASON(e)); /* "No such file or directory" */
  r = ERR_reason_error_string(e);
  return r != NULL ? r : fallback;
}

/* hint, unless the error is the system's (a missing file needs no lesson on formats). */
static const char* file_hint(const char* hint) {
  return ERR_SYSTEM_ERROR(ERR_peek_error()) ? "" : hint;
}

/* The passphrase callback: there is none, so an encrypted key fails to load instead of
 * prompting on the server's terminal. */
static int no_passphrase(char* buf, int size, int rwflag, void* u) {
  (void)buf;
  (void)size;
  (void)rwflag;
  (void)u;
  return 0;
}

/* A configured SSL_CTX with the certificate and key loaded, or NULL with the reason. */
static SSL_CTX* build(const char* cert, const char* key, char* err, size_t errlen) {
  SSL_CTX* c;
  BIO* b = NULL;
  EVP_PKEY* pkey = NULL;
  ERR_clear_error();
  c = SSL_CTX_new(TLS_server_method());
  if (c == NULL) {
    uvc_errf(err, errlen, "cannot create a TLS context: %s", ssl_reason("out of memory"));
    return NULL;
  }
  SSL_CTX_set_options(
      c, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  SSL_CTX_set_mode(c, SSL_MODE_RELEASE_BUFFERS);
  SSL_CTX_set_default_passwd_cb(c, no_passphrase); /* never prompt on the terminal */
  if (SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION) != 1 ||
      SSL_CTX_set_cipher_list(c, kCiphers12) != 1) {
    uvc_errf(err, errlen, "cannot configure TLS: %s", ssl_reason("unknown error"));
    SSL_CTX_free(c);
    return NULL;
  }
  if (cert == NULL || SSL_CTX_use_certificate_chain_file(c, cert) != 1) {
    uvc_errf(err, errlen, "cannot load the TLS certificate %s: %s%s", cert ? cert : "(none)",
             ssl_reason("no certificate"), file_hint(" (it must be PEM, leaf first)"));
    SSL_CTX_free(c);
    return NULL;
  }
  if (key == NULL || (b = BIO_new_file(key, "r")) == NULL ||
      (pkey = PEM_read_bio_PrivateKey(b, NULL, no_passphrase, NULL)) == NULL) {
    uvc_errf(err, errlen, "cannot load the TLS key %s: %s%s", key ? key : "(none)",
             ssl_reason("no key"), file_hint(" (it must be an unencrypted PEM key)"));
    BIO_free(b);
    SSL_CTX_free(c);
    return NULL;
  }
  BIO_free(b);
  if (SSL_CTX_use_PrivateKey(c, pkey) != 1 || SSL_CTX_check_private_key(c) != 1) {
    uvc_errf(err, errlen, "the TLS key %s does not match the certificate %s", key, cert);
    EVP_PKEY_free(pkey);
    SSL_CTX_free(c);
    return NULL;
  }
  EVP_PKEY_free(pkey);
  ERR_clear_error();
  return c;
}

uvc_tls_ctx_t* uvc_tls_ctx_new(const char* cert_pem_path, const char* key_pem_path, char* err,
                               size_t errlen) {
  uvc_tls_ctx_t* ctx = calloc(1, sizeof(*ctx));
  uvc_errf(err, errlen, "%s", "");
  if (ctx == NULL) {
    uvc_errf(err, errlen, "out of memory");
    return NULL;
  }
  ctx->ssl_ctx = build(cert_pem_path, key_pem_path, err, errlen);
  if (ctx->ssl_ctx == NULL) {
    free(ctx);
    return NULL;
  }
  return ctx;
}

int uvc_tls_ctx_reload(uvc_tls_ctx_t* ctx, const char* cert_pem_path, const char* key_pem_path,
                       char* err, size_t errlen) {
  SSL_CTX* c;
  uvc_errf(err, errlen, "%s", "");
  c = build(cert_pem_path, key_pem_path, err, errlen);
  if (c == NULL) return UVC_TLS_ERROR;
  SSL_CTX_free(ctx->ssl_ctx); /* open connections hold their own references */
  ctx->ssl_ctx = c;
  return 0;
}

void uvc_tls_ctx_free(uvc_tls_ctx_t* ctx) {
  if (ctx == NULL) return;
  SSL_CTX_free(ctx->ssl_ctx);
  free(ctx);
}

uvc_tls_t* uvc_tls_new(uvc_tls_ctx_t* ctx) {
  uvc_tls_t* t = calloc(1, sizeof(*t));
  if (t == NULL) return NULL;
  t->ssl = SSL_new(ctx->ssl_ctx);
  t->in = BIO_new(BIO_s_mem());
  t->out = BIO_new(BIO_s_mem());
  if (t->ssl == NULL || t->in == NULL || t->out == NULL) {
    BIO_free(t->in);
    BIO_free(t->out);
    SSL_free(t->ssl);
    free(t);
    ERR_clear_error();
    return NULL;
  }
  BIO_set_mem_eof_return(t->in, -1); /* empty: "try again", not end of file */
  SSL_set_bio(t->ssl, t->in, t->out);
  SSL_set_accept_state(t->ssl);
  return t;
}

void uvc_tls_free(uvc_tls_t* t) {
  if (t == NULL) return;
  SSL_free(t->ssl); /* frees both BIOs */
  free(t->early);
  free(t);
  ERR_clear_error();
}

/* Ends the connection with err and a reason for the log; returns err. */
#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
static int
fail(uvc_tls_t* t, int err, const char* fmt, ...) {
  va_list ap;
  t->err = err;
  va_start(ap, fmt);
  vsnprintf(t->why, sizeof(t->why), fmt, ap);
  va_end(ap);
  free(t->early);
  t->early = NULL;
  t->early_len = 0;
  ERR_clear_error();
  return err;
}

/* Interprets a failed SSL call's result r: 0 when OpenSSL only needs more input, else the
 * error that now ends the connection. */
static int ssl_failed(uvc_tls_t* t, int r) {
  int e = SSL_get_error(t->ssl, r);
  switch (e) {
    case SSL_ERROR_WANT_READ:
    case SSL_ERROR_WANT_WRITE: /* a memory BIO never refuses a write; kept for safety */
      ERR_clear_error();
      return 0;
    case SSL_ERROR_ZERO_RETURN:
      return fail(t, UVC_TLS_CLOSED, "the client closed the TLS session");
    default:
      t->fatal = 1;
      return fail(t, UVC_TLS_ERROR, "%s: %s", t->done ? "TLS error" : "TLS handshake failed",
                  ssl_reason("unexpected end of data"));
  }
}

int uvc_tls_feed(uvc_tls_t* t, const char* in, size_t n) {
  if (t->err != 0) return t->err;
  if (n == 0) return 0;
  if (!t->started) {
    t->started = 1;
    if ((unsigned char)in[0] != 0x16) {
      if (uvc_tls_looks_like_plaintext(in, n))
        return fail(t, UVC_TLS_NOT_TLS, "not TLS: the client spoke plaintext to the TLS port");
      return fail(t, UVC_TLS_NOT_TLS, "not TLS: the first bytes are not a TLS handshake");
    }
  }
  while (n > 0) {
    int chunk = n > INT_MAX ? INT_MAX : (int)n;
    int w = BIO_write(t->in, in, chunk);
    if (w <= 0) return fail(t, UVC_TLS_NOMEM, "out of memory");
    in += w;
    n -= (size_t)w;
  }
  return 0;
}

/* Replaces a drained memory BIO whose buffer grew past UVC_TLS_KEEP_BUFFER by a fresh one
 * (OpenSSL never shrinks it), so that an idle connection does not hold on to the buffer of
 * its largest burst. out selects the output BIO, else the input one. */
static void shrink(uvc_tls_t* t, int out) {
  BIO* b = out ? t->out : t->in;
  BUF_MEM* bm = NULL;
  BIO* nb;
  if (!t->done || t->fatal || BIO_ctrl_pending(b) != 0) return;
  if (BIO_get_mem_ptr(b, &bm) != 1 || bm == NULL || bm->max <= UVC_TLS_KEEP_BUFFER) return;
  nb = BIO_new(BIO_s_mem());
  if (nb == NULL) return; /* keep the big one */
  if (out) {
    SSL_set0_wbio(t->ssl, nb); /* frees the old one */
    t->out = nb;
  } else {
    BIO_set_mem_eof_return(nb, -1);
    SSL_set0_rbio(t->ssl, nb);
    t->in = nb;
  }
}

/* Encrypts n bytes of plaintext into the output BIO. Returns 0 or the error. */
static int seal(uvc_tls_t* t, const char* p, size_t n) {
  size_t written = 0;
  if (n == 0) return 0;
  ERR_clear_error();
  if (SSL_write_ex(t->ssl, p, n, &written) == 1 && written == n) return 0;
  t->fatal = 1;
  return fail(t, UVC_TLS_ERROR, "TLS error: %s", ssl_reason("cannot encrypt"));
}

int uvc_tls_read(uvc_tls_t* t, char* out, size_t cap) {
  int r;
  if (t->err != 0) return t->err;
  ERR_clear_error();
  if (!t->done) {
    r = SSL_do_handshake(t->ssl);
    if (r != 1) return ssl_failed(t, r);
    t->done = 1;
    if (t->early != NULL) {
      r = seal(t, t->early, t->early_len);
      free(t->early);
      t->early = NULL;
      t->early_len = 0;
      if (r != 0) return r;
    }
  }
  if (cap == 0) return 0;
  r = SSL_read(t->ssl, out, cap > INT_MAX ? INT_MAX : (int)cap);
  if (r > 0) return r;
  r = ssl_failed(t, r);
  if (r == 0) shrink(t, 0);
  return r;
}

int uvc_tls_write(uvc_tls_t* t, const char* plain, size_t n) {
  if (t->err != 0) return t->err;
  if (n == 0) return 0;
  if (t->done) return seal(t, plain, n);
  if (n > UVC_TLS_EARLY_MAX - t->early_len) return UVC_TLS_FULL;
  {
    char* nb = realloc(t->early, t->early_len + n);
    if (nb == NULL) return UVC_TLS_NOMEM;
    t->early = nb;
  }
  memcpy(t->early + t->early_len, plain, n);
  t->early_len += n;
  return 0;
}

void uvc_tls_close_notify(uvc_tls_t* t) {
  if (t->fatal || !t->done) return;
  ERR_clear_error();
  if (!(SSL_get_shutdown(t->ssl) & SSL_SENT_SHUTDOWN)) SSL_shutdown(t->ssl);
  ERR_clear_error();
}

size_t uvc_tls_pending_out(const uvc_tls_t* t) {
  return BIO_ctrl_pending(t->out);
}

size_t uvc_tls_take_out(uvc_tls_t* t, char* out, size_t cap) {
  int r;
  if (cap == 0) return 0;
  r = BIO_read(t->out, out, cap > INT_MAX ? INT_MAX : (int)cap);
  if (r <= 0) return 0;
  shrink(t, 1);
  return (size_t)r;
}

size_t uvc_tls_buffer_bytes(const uvc_tls_t* t) {
  BUF_MEM* in = NULL;
  BUF_MEM* out = NULL;
  BIO_get_mem_ptr(t->in, &in);
  BIO_get_mem_ptr(t->out, &out);
  return (in != NULL ? in->max : 0) + (out != NULL ? out->max : 0) + t->early_len;
}

int uvc_tls_handshake_done(const uvc_tls_t* t) {
  return t->done;
}

const char* uvc_tls_version(const uvc_tls_t* t) {
  return t->done ? SSL_get_version(t->ssl) : "";
}

const char* uvc_tls_cipher(const uvc_tls_t* t) {
  const SSL_CIPHER* c = t->done ? SSL_get_current_cipher(t->ssl) : NULL;
  return c != NULL ? SSL_CIPHER_get_name(c) : "";
}

const char* uvc_tls_last_error(const uvc_tls_t* t) {
  return t->why;
}

int uvc_tls_looks_like_plaintext(const char* first_bytes, size_t n) {
  size_t i;
  unsigned char c;
  if (n == 0) return 0;
  c = (unsigned char)first_bytes[0];
  if (!((c >= 0x20 && c < 0x7F) || c == '\t' || c == '\r' || c == '\n')) return 0;
  for (i = 1; i < n && i < 64; i++) { /* UTF-8 text may follow; controls may not */
    c = (unsigned char)first_bytes[i];
    if ((c < 0x20 && c != '\t' && c != '\r' && c != '\n') || c == 0x7F) return 0;
  }
  return 1;
}

int uvc_tls_looks_like_tls(const char* first_bytes, size_t n) {
  const unsigned char* b = (const unsigned char*)first_bytes;
  if (n == 0 || b[0] != 0x16) return 0; /* a handshake record */
  if (n >= 2 && b[1] != 0x03) return 0; /* SSL 3 / TLS 1.x record version */
  if (n >= 3 && b[2] > 0x04) return 0;
  return 1;
}
