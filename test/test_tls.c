/* test_tls.c: the TLS engine against an OpenSSL client, entirely in memory: handshake,
 * lines both ways, certificate reload, protocol versions, garbage and plaintext clients.
 *
 * The certificates are made at test time (self-signed EC keys) in a temporary directory. */
// clang-format off
/* uv.h first: on Windows it brings in windows.h, whose wincrypt.h #defines X509_NAME and
 * friends; OpenSSL's headers #undef them only when they come after it. */
#include <uv.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
// clang-format on
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "tmpdir.h"
#include "unit.h"

#include "uvchat/framer.h"
#include "uvchat/tls.h"

#define ROUNDS 64 /* every exchange must settle within this many round trips */

typedef struct cert {
  char cert_path[1100];
  char key_path[1100];
  X509* x509;
} cert_t;

static char g_dir[1024];
static cert_t g_a, g_b;

/* ---- Certificates ----------------------------------------------------------------- */

/* A self-signed certificate for cn with a new key on curve, written as PEM into g_dir. */
static void make_cert(cert_t* c, const char* tag, const char* cn, const char* curve) {
  EVP_PKEY* pk = EVP_EC_gen(curve);
  X509* x = X509_new();
  X509_NAME* name;
  BIO* b;
  assert_non_null(pk);
  assert_non_null(x);
  assert_int_equal(X509_set_version(x, 2), 1);
  assert_int_equal(ASN1_INTEGER_set(X509_get_serialNumber(x), tag[0]), 1);
  assert_non_null(X509_gmtime_adj(X509_getm_notBefore(x), -3600));
  assert_non_null(X509_gmtime_adj(X509_getm_notAfter(x), 24 * 3600));
  assert_int_equal(X509_set_pubkey(x, pk), 1);
  name = X509_get_subject_name(x);
  assert_int_equal(
      X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char*)cn, -1, -1, 0), 1);
  assert_int_equal(X509_set_issuer_name(x, name), 1);
  assert_true(X509_sign(x, pk, EVP_sha256()) > 0);
  snprintf(c->cert_path, sizeof c->cert_path, "%s/cert_%s.pem", g_dir, tag);
  snprintf(c->key_path, sizeof c->key_path, "%s/key_%s.pem", g_dir, tag);
  b = BIO_new_file(c->cert_path, "w");
  assert_non_null(b);
  assert_int_equal(PEM_write_bio_X509(b, x), 1);
  BIO_free(b);
  b = BIO_new_file(c->key_path, "w");
  assert_non_null(b);
  assert_int_equal(PEM_write_bio_PrivateKey(b, pk, NULL, NULL, 0, NULL, NULL), 1);
  BIO_free(b);
  EVP_PKEY_free(pk);
  c->x509 = x;
}

static void remove_file(const char* path) {
  uv_fs_t req;
  uv_fs_unlink(NULL, &req, path, NULL);
  uv_fs_req_cleanup(&req);
}

static int group_setup(void** state) {
  (void)state;
  tt_mkdtemp("uvchat-tls", g_dir, sizeof g_dir);
  make_cert(&g_a, "a", "first.example", "P-256");
  make_cert(&g_b, "b", "second.example", "P-384");
  return 0;
}

static int group_teardown(void** state) {
  uv_fs_t req;
  (void)state;
  remove_file(g_a.cert_path);
  remove_file(g_a.key_path);
  remove_file(g_b.cert_path);
  remove_file(g_b.key_path);
  uv_fs_rmdir(NULL, &req, g_dir, NULL);
  uv_fs_req_cleanup(&req);
  X509_free(g_a.x509);
  X509_free(g_b.x509);
  return 0;
}

/* ---- An in-memory client and the pump between it and the engine ------------------ */

typedef struct client {
  SSL_CTX* ctx;
  SSL* ssl;
  BIO* in;  /* from the server */
  BIO* out; /* to the server */
  int failed;
  int closed;
  char inbox[131072];
  size_t len;
} client_t;

typedef struct server {
  uvc_tls_t* t;
  int err;
  int reads; /* uvc_tls_read calls, to show that nothing spins */
  char inbox[131072];
  size_t len;
} server_t;

/* A client that accepts any certificate (we compare it ourselves), for protocol versions
 * min..max (0: OpenSSL's defaults). */
static void client_init(client_t* c, int min, int max) {
  memset(c, 0, sizeof(*c));
  c->ctx = SSL_CTX_new(TLS_client_method());
  assert_non_null(c->ctx);
  if (min != 0 && min < TLS1_2_VERSION) { /* let this client even offer an old version */
    SSL_CTX_set_security_level(c->ctx, 0);
    assert_int_equal(SSL_CTX_set_cipher_list(c->ctx, "DEFAULT:@SECLEVEL=0"), 1);
  }
  if (min != 0) assert_int_equal(SSL_CTX_set_min_proto_version(c->ctx, min), 1);
  if (max != 0) assert_int_equal(SSL_CTX_set_max_proto_version(c->ctx, max), 1);
  SSL_CTX_set_verify(c->ctx, SSL_VERIFY_NONE, NULL);
  c->ssl = SSL_new(c->ctx);
  c->in = BIO_new(BIO_s_mem());
  c->out = BIO_new(BIO_s_mem());
  assert_non_null(c->ssl);
  BIO_set_mem_eof_return(c->in, -1);
  SSL_set_bio(c->ssl, c->in, c->out);
  SSL_set_connect_state(c->ssl);
}

static void client_free(client_t* c) {
  SSL_free(c->ssl);
  SSL_CTX_free(c->ctx);
}

static void server_init(server_t* s, uvc_tls_ctx_t* ctx) {
  memset(s, 0, sizeof(*s));
  s->t = uvc_tls_new(ctx);
  assert_non_null(s->t);
}

/* Moves bytes both ways until nothing moves (at most ROUNDS round trips): the client's
 * handshake and plaintext go into c->inbox, the engine's plaintext into s->inbox. */
static void pump(client_t* c, server_t* s) {
  char buf[16384];
  int round, r;
  for (round = 0; round < ROUNDS; round++) {
    size_t moved = 0;
    int n;
    while ((n = BIO_read(c->out, buf, sizeof buf)) > 0) { /* client -> server */
      moved += (size_t)n;
      r = uvc_tls_feed(s->t, buf, (size_t)n);
      if (r < 0) s->err = r;
    }
    if (s->err == 0) {
      for (;;) {
        s->reads++;
        r = uvc_tls_read(s->t, s->inbox + s->len, sizeof s->inbox - s->len);
        if (r <= 0) {
          if (r < 0) s->err = r;
          break;
        }
        s->len += (size_t)r;
      }
    }
    for (;;) { /* server -> client */
      size_t k = uvc_tls_take_out(s->t, buf, sizeof buf);
      if (k == 0) break;
      moved += k;
      assert_int_equal(BIO_write(c->in, buf, (int)k), (int)k);
    }
    if (!c->failed && !c->closed) {
      if (!SSL_is_init_finished(c->ssl)) {
        r = SSL_do_handshake(c->ssl);
        if (r <= 0 && SSL_get_error(c->ssl, r) != SSL_ERROR_WANT_READ) c->failed = 1;
      }
      while (!c->failed && SSL_is_init_finished(c->ssl)) {
        r = SSL_read(c->ssl, c->inbox + c->len, (int)(sizeof c->inbox - c->len));
        if (r > 0) {
          c->len += (size_t)r;
          continue;
        }
        r = SSL_get_error(c->ssl, r);
        if (r == SSL_ERROR_ZERO_RETURN)
          c->closed = 1;
        else if (r != SSL_ERROR_WANT_READ)
          c->failed = 1;
        break;
      }
    }
    if (moved == 0 && BIO_ctrl_pending(c->out) == 0) return;
  }
  fail_msg("the exchange did not settle in %d rounds", ROUNDS);
}

static void client_send(client_t* c, const char* text) {
  assert_int_equal(SSL_write(c->ssl, text, (int)strlen(text)), (int)strlen(text));
}

/* Asserts that the server's certificate, as the client saw it, is want. */
static void assert_peer_cert(client_t* c, X509* want) {
  X509* got = SSL_get1_peer_certificate(c->ssl);
  assert_non_null(got);
  assert_int_equal(X509_cmp(got, want), 0);
  X509_free(got);
}

/* A full handshake between a new client and a new engine connection. */
static void connect_pair(client_t* c, server_t* s, uvc_tls_ctx_t* ctx) {
  client_init(c, 0, 0);
  server_init(s, ctx);
  pump(c, s);
  assert_false(c->failed);
  assert_int_equal(s->err, 0);
  assert_true(uvc_tls_handshake_done(s->t));
  assert_true(SSL_is_init_finished(c->ssl));
}

static uvc_tls_ctx_t* ctx_from(const cert_t* cert) {
  char err[256];
  uvc_tls_ctx_t* ctx = uvc_tls_ctx_new(cert->cert_path, cert->key_path, err, sizeof err);
  if (ctx == NULL) fail_msg("uvc_tls_ctx_new: %s", err);
  return ctx;
}

/* ---- Tests ------------------------------------------------------------------------ */

static void handshake_and_lines_both_ways(void** state) {
  uvc_tls_ctx_t* ctx = ctx_from(&g_a);
  client_t c;
  server_t s;
  uvc_framer_t f;
  uvc_framer_src_t src;
  const char* line;
  size_t len;
  (void)state;
  client_init(&c, 0, 0);
  server_init(&s, ctx);
  /* the server greets before the handshake is done: held, then sent encrypted */
  assert_int_equal(uvc_tls_write(s.t, "welcome\r\n", 9), 0);
  assert_false(uvc_tls_handshake_done(s.t));
  assert_string_equal(uvc_tls_version(s.t), "");
  pump(&c, &s);
  assert_true(uvc_tls_handshake_done(s.t));
  assert_string_equal(uvc_tls_version(s.t), "TLSv1.3");
  assert_true(strlen(uvc_tls_cipher(s.t)) > 0);
  assert_string_equal(uvc_tls_last_error(s.t), "");
  assert_peer_cert(&c, g_a.x509);
  assert_int_equal(c.len, 9);
  assert_memory_equal(c.inbox, "welcome\r\n", 9);

  /* a line split across two TLS records reaches the framer whole */
  uvc_framer_init(&f);
  client_send(&c, "NICK al");
  pump(&c, &s);
  assert_int_equal(s.len, 7);
  src.p = s.inbox;
  src.len = s.len;
  assert_int_equal(uvc_framer_next(&f, &src, 512, &line, &len), UVC_FRAME_NONE);
  s.len = 0;
  client_send(&c, "ice\r\nPRIVMSG #x :hi\r\n");
  pump(&c, &s);
  src.p = s.inbox;
  src.len = s.len;
  assert_int_equal(uvc_framer_next(&f, &src, 512, &line, &len), UVC_FRAME_LINE);
  assert_int_equal(len, 10);
  assert_memory_equal(line, "NICK alice", 10);
  assert_int_equal(uvc_framer_next(&f, &src, 512, &line, &len), UVC_FRAME_LINE);
  assert_int_equal(len, 14);
  assert_memory_equal(line, "PRIVMSG #x :hi", 14);
  assert_int_equal(uvc_framer_next(&f, &src, 512, &line, &len), UVC_FRAME_NONE);
  uvc_framer_free(&f);

  /* server to client, and more than one record's worth each way */
  c.len = 0;
  s.len = 0;
  {
    static char big[50000];
    memset(big, 'z', sizeof big);
    big[sizeof big - 1] = '\n';
    assert_int_equal(uvc_tls_write(s.t, ":srv 001 alice :hi\r\n", 20), 0);
    assert_int_equal(uvc_tls_write(s.t, big, sizeof big), 0);
    assert_true(uvc_tls_pending_out(s.t) > sizeof big);
    assert_true(uvc_tls_buffer_bytes(s.t) > sizeof big);
    client_send(&c, "PING :x\r\n");
    assert_int_equal(SSL_write(c.ssl, big, (int)sizeof big), (int)sizeof big);
    pump(&c, &s);
    assert_int_equal(c.len, 20 + sizeof big);
    assert_memory_equal(c.inbox, ":srv 001 alice :hi\r\n", 20);
    assert_memory_equal(c.inbox + 20, big, sizeof big);
    assert_int_equal(s.len, 9 + sizeof big);
    assert_memory_equal(s.inbox + 9, big, sizeof big);
  }
  assert_int_equal(uvc_tls_pending_out(s.t), 0);
  /* drained: the big buffers were given back, an idle connection stays small */
  assert_true(uvc_tls_buffer_bytes(s.t) <= 2 * UVC_TLS_KEEP_BUFFER);
  client_send(&c, "after\n");
  assert_int_equal(uvc_tls_write(s.t, "ok\n", 3), 0);
  c.len = s.len = 0;
  pump(&c, &s);
  assert_int_equal(s.len, 6);
  assert_int_equal(c.len, 3);
  uvc_tls_free(s.t);
  client_free(&c);
  uvc_tls_ctx_free(ctx);
}

static void tls12_client_gets_a_modern_cipher(void** state) {
  uvc_tls_ctx_t* ctx = ctx_from(&g_a);
  client_t c;
  server_t s;
  (void)state;
  client_init(&c, TLS1_2_VERSION, TLS1_2_VERSION);
  server_init(&s, ctx);
  pump(&c, &s);
  assert_int_equal(s.err, 0);
  assert_string_equal(uvc_tls_version(s.t), "TLSv1.2");
  assert_non_null(strstr(uvc_tls_cipher(s.t), "ECDHE-"));
  assert_true(strstr(uvc_tls_cipher(s.t), "GCM") != NULL ||
              strstr(uvc_tls_cipher(s.t), "CHACHA20") != NULL);
  assert_null(SSL_get_current_compression(c.ssl));
  client_send(&c, "hello\n");
  pump(&c, &s);
  assert_int_equal(s.len, 6);
  uvc_tls_free(s.t);
  client_free(&c);
  uvc_tls_ctx_free(ctx);
}

static void tls11_client_is_refused(void** state) {
  uvc_tls_ctx_t* ctx = ctx_from(&g_a);
  client_t c;
  server_t s;
  char buf[64];
  (void)state;
  client_init(&c, TLS1_1_VERSION, TLS1_1_VERSION);
  server_init(&s, ctx);
  pump(&c, &s);
  assert_int_equal(s.err, UVC_TLS_ERROR);
  assert_true(c.failed); /* the engine's alert reached the client */
  assert_false(uvc_tls_handshake_done(s.t));
  assert_non_null(strstr(uvc_tls_last_error(s.t), "TLS handshake failed"));
  assert_non_null(strstr(uvc_tls_last_error(s.t), "protocol"));
  /* sticky: no more work, no spin */
  assert_int_equal(uvc_tls_read(s.t, buf, sizeof buf), UVC_TLS_ERROR);
  assert_int_equal(uvc_tls_feed(s.t, "\x16\x03\x01", 3), UVC_TLS_ERROR);
  assert_int_equal(uvc_tls_write(s.t, "x", 1), UVC_TLS_ERROR);
  uvc_tls_close_notify(s.t); /* ignored after a fatal error */
  uvc_tls_free(s.t);
  client_free(&c);
  uvc_tls_ctx_free(ctx);
}

static void reload_serves_new_connections_and_keeps_old_ones(void** state) {
  uvc_tls_ctx_t* ctx = ctx_from(&g_a);
  client_t c1, c2, c3;
  server_t s1, s2, s3;
  char err[512];
  (void)state;
  connect_pair(&c1, &s1, ctx);
  assert_peer_cert(&c1, g_a.x509);

  assert_int_equal(uvc_tls_ctx_reload(ctx, g_b.cert_path, g_b.key_path, err, sizeof err), 0);
  connect_pair(&c2, &s2, ctx);
  assert_peer_cert(&c2, g_b.x509);

  /* a failed reload leaves the context as it was */
  assert_int_equal(uvc_tls_ctx_reload(ctx, g_a.cert_path, g_b.key_path, err, sizeof err),
                   UVC_TLS_ERROR);
  assert_non_null(strstr(err, "does not match"));
  assert_int_equal(uvc_tls_ctx_reload(ctx, "/nonexistent/cert.pem", g_b.key_path, err, sizeof err),
                   UVC_TLS_ERROR);
  assert_non_null(strstr(err, "/nonexistent/cert.pem"));
  connect_pair(&c3, &s3, ctx);
  assert_peer_cert(&c3, g_b.x509);

  /* the context goes away; the connections it made keep working, old certificate or new */
  uvc_tls_ctx_free(ctx);
  client_send(&c1, "still here\n");
  assert_int_equal(uvc_tls_write(s1.t, "so am I\n", 8), 0);
  pump(&c1, &s1);
  assert_int_equal(s1.len, 11);
  assert_memory_equal(s1.inbox, "still here\n", 11);
  assert_int_equal(c1.len, 8);
  assert_memory_equal(c1.inbox, "so am I\n", 8);
  client_send(&c2, "new\n");
  pump(&c2, &s2);
  assert_int_equal(s2.len, 4);

  uvc_tls_free(s1.t);
  uvc_tls_free(s2.t);
  uvc_tls_free(s3.t);
  client_free(&c1);
  client_free(&c2);
  client_free(&c3);
}

static void bad_certificate_files(void** state) {
  char err[512];
  (void)state;
  assert_null(uvc_tls_ctx_new("/nonexistent/cert.pem", g_a.key_path, err, sizeof err));
  assert_non_null(strstr(err, "cannot load the TLS certificate /nonexistent/cert.pem"));
  assert_null(uvc_tls_ctx_new(g_a.cert_path, g_a.cert_path, err, sizeof err));
  assert_non_null(strstr(err, "cannot load the TLS key"));
  assert_null(uvc_tls_ctx_new(g_a.cert_path, g_b.key_path, err, sizeof err));
  assert_non_null(strstr(err, "does not match"));
  assert_null(uvc_tls_ctx_new(g_a.key_path, g_a.key_path, NULL, 0)); /* no err buffer */
}

/* Feeds bytes into a fresh connection and reads at most a few times: the result of the
 * last read, which must be an error (no spinning on garbage). */
static int feed_garbage(uvc_tls_ctx_t* ctx, const char* bytes, size_t n, char* why, size_t whylen) {
  uvc_tls_t* t = uvc_tls_new(ctx);
  char out[256];
  int r = uvc_tls_feed(t, bytes, n), i;
  for (i = 0; i < 4 && r == 0; i++)
    r = uvc_tls_read(t, out, sizeof out);
  snprintf(why, whylen, "%s", uvc_tls_last_error(t));
  if (r < 0) {
    assert_int_equal(uvc_tls_read(t, out, sizeof out), r); /* sticky */
    assert_int_equal(uvc_tls_feed(t, "x", 1), r);
  }
  uvc_tls_free(t);
  return r;
}

static void garbage_is_an_error_not_a_spin(void** state) {
  uvc_tls_ctx_t* ctx = ctx_from(&g_a);
  char why[200];
  char junk[300];
  (void)state;
  /* a handshake record header with an impossible length */
  assert_int_equal(feed_garbage(ctx, "\x16\x03\x01\xff\xff", 5, why, sizeof why), UVC_TLS_ERROR);
  assert_non_null(strstr(why, "TLS handshake failed: "));
  /* a well-framed record full of nonsense */
  memset(junk, 0xAB, sizeof junk);
  memcpy(junk, "\x16\x03\x01\x01\x00", 5); /* 256 bytes follow */
  assert_int_equal(feed_garbage(ctx, junk, 5 + 256, why, sizeof why), UVC_TLS_ERROR);
  assert_non_null(strstr(why, "TLS handshake failed: "));
  /* binary junk that is not even a handshake record */
  assert_int_equal(feed_garbage(ctx, junk + 5, 64, why, sizeof why), UVC_TLS_NOT_TLS);
  assert_string_equal(why, "not TLS: the first bytes are not a TLS handshake");
  /* half a record header: waits for more, without looping */
  {
    uvc_tls_t* t = uvc_tls_new(ctx);
    char out[64];
    assert_int_equal(uvc_tls_feed(t, "\x16\x03", 2), 0);
    assert_int_equal(uvc_tls_read(t, out, sizeof out), 0);
    assert_int_equal(uvc_tls_read(t, out, sizeof out), 0);
    assert_int_equal(uvc_tls_pending_out(t), 0);
    uvc_tls_free(t);
  }
  uvc_tls_ctx_free(ctx);
}

static void plaintext_client_on_the_tls_port(void** state) {
  uvc_tls_ctx_t* ctx = ctx_from(&g_a);
  char why[200];
  (void)state;
  assert_true(uvc_tls_looks_like_plaintext("NICK x\r\n", 8));
  assert_true(uvc_tls_looks_like_plaintext("hello\n", 6));
  assert_true(uvc_tls_looks_like_plaintext("h", 1));
  assert_true(uvc_tls_looks_like_plaintext("caf\xC3\xA9\n", 6));
  assert_false(uvc_tls_looks_like_plaintext("", 0));
  assert_false(uvc_tls_looks_like_plaintext("\x16\x03\x01\x02\x00", 5));
  assert_false(uvc_tls_looks_like_plaintext("\xff\xfd\x18", 3)); /* telnet negotiation */
  assert_int_equal(feed_garbage(ctx, "NICK x\r\n", 8, why, sizeof why), UVC_TLS_NOT_TLS);
  assert_string_equal(why, "not TLS: the client spoke plaintext to the TLS port");
  assert_int_equal(feed_garbage(ctx, "hello\n", 6, why, sizeof why), UVC_TLS_NOT_TLS);
  uvc_tls_ctx_free(ctx);
}

static void tls_client_on_a_plaintext_port(void** state) {
  client_t c;
  char hello[512];
  int n, i;
  (void)state;
  client_init(&c, 0, 0);
  assert_true(SSL_do_handshake(c.ssl) <= 0); /* writes its ClientHello, waits */
  n = BIO_read(c.out, hello, sizeof hello);
  assert_true(n > 5);
  for (i = 1; i <= n; i++) /* however little of it has arrived */
    assert_true(uvc_tls_looks_like_tls(hello, (size_t)i));
  assert_false(uvc_tls_looks_like_plaintext(hello, (size_t)n));
  assert_false(uvc_tls_looks_like_tls("", 0));
  assert_false(uvc_tls_looks_like_tls("NICK x\r\n", 8));
  assert_false(uvc_tls_looks_like_tls("\x16\x05", 2));
  assert_false(uvc_tls_looks_like_tls("\x16\x03\x09", 3));
  client_free(&c);
}

static void clean_close_both_ways(void** state) {
  uvc_tls_ctx_t* ctx = ctx_from(&g_a);
  client_t c;
  server_t s;
  char buf[64];
  (void)state;
  connect_pair(&c, &s, ctx);
  client_send(&c, "QUIT\r\n");
  assert_true(SSL_shutdown(c.ssl) >= 0); /* close_notify after the line */
  pump(&c, &s);
  assert_int_equal(s.len, 6);
  assert_int_equal(s.err, UVC_TLS_CLOSED);
  assert_non_null(strstr(uvc_tls_last_error(s.t), "closed"));
  assert_int_equal(uvc_tls_read(s.t, buf, sizeof buf), UVC_TLS_CLOSED);
  uvc_tls_close_notify(s.t); /* answer with ours */
  assert_true(uvc_tls_pending_out(s.t) > 0);
  pump(&c, &s);
  assert_true(SSL_get_shutdown(c.ssl) & SSL_RECEIVED_SHUTDOWN);
  uvc_tls_free(s.t);
  client_free(&c);

  /* and the server closing first */
  connect_pair(&c, &s, ctx);
  uvc_tls_close_notify(s.t);
  pump(&c, &s);
  assert_true(c.closed);
  uvc_tls_free(s.t);
  client_free(&c);
  uvc_tls_ctx_free(ctx);
}

static void output_held_before_the_handshake_is_bounded(void** state) {
  uvc_tls_ctx_t* ctx = ctx_from(&g_a);
  uvc_tls_t* t = uvc_tls_new(ctx);
  static char big[UVC_TLS_EARLY_MAX];
  (void)state;
  assert_int_equal(uvc_tls_write(t, big, sizeof big - 1), 0);
  assert_int_equal(uvc_tls_write(t, big, 1), 0);
  assert_int_equal(uvc_tls_write(t, big, 1), UVC_TLS_FULL);
  assert_int_equal(uvc_tls_pending_out(t), 0); /* nothing leaves before the handshake */
  uvc_tls_free(t);
  uvc_tls_ctx_free(ctx);
}

/* A TLS 1.2 client that asks to renegotiate is refused (SSL_OP_NO_RENEGOTIATION). */
static void renegotiation_is_refused(void** state) {
  uvc_tls_ctx_t* ctx = ctx_from(&g_a);
  client_t c;
  server_t s;
  (void)state;
  client_init(&c, TLS1_2_VERSION, TLS1_2_VERSION);
  server_init(&s, ctx);
  pump(&c, &s);
  assert_int_equal(s.err, 0);
  assert_int_equal(SSL_renegotiate(c.ssl), 1);
  assert_true(SSL_do_handshake(c.ssl) <= 0); /* sends a new ClientHello */
  pump(&c, &s);
  /* the engine answers no_renegotiation; OpenSSL's client gives up with a fatal alert */
  assert_true(c.failed);
  assert_true(SSL_renegotiate_pending(c.ssl)); /* it never completed */
  assert_int_equal(s.err, UVC_TLS_ERROR);
  assert_non_null(strstr(uvc_tls_last_error(s.t), "alert"));
  uvc_tls_free(s.t);
  client_free(&c);
  uvc_tls_ctx_free(ctx);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(handshake_and_lines_both_ways),
      cmocka_unit_test(tls12_client_gets_a_modern_cipher),
      cmocka_unit_test(tls11_client_is_refused),
      cmocka_unit_test(reload_serves_new_connections_and_keeps_old_ones),
      cmocka_unit_test(bad_certificate_files),
      cmocka_unit_test(garbage_is_an_error_not_a_spin),
      cmocka_unit_test(plaintext_client_on_the_tls_port),
      cmocka_unit_test(tls_client_on_a_plaintext_port),
      cmocka_unit_test(clean_close_both_ways),
      cmocka_unit_test(output_held_before_the_handshake_is_bounded),
      cmocka_unit_test(renegotiation_is_refused),
  };
  return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
