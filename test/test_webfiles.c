/* test_webfiles.c: the web client's files embedded at build time (cmake/EmbedFiles.cmake):
 * the table holds web/ byte for byte, with the right types and content-hash ETags, and
 * uvc_webfile_find() maps URL paths to it. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "unit.h"

#include "uvchat/webfiles.h"

#ifndef UVCHAT_WEB_DIR
#error "UVCHAT_WEB_DIR (the source tree's web/) must be defined"
#endif

/* ---- SHA-256 (FIPS 180-4), to check the ETags independently of CMake's ---------------- */

static const uint32_t K[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};

#define ROR(x, n) (((x) >> (n)) | ((x) << (32 - (n))))

static void sha256_block(uint32_t h[8], const unsigned char* p) {
  uint32_t w[64], a, b, c, d, e, f, g, k, t1, t2;
  int i;
  for (i = 0; i < 16; i++)
    w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 | (uint32_t)p[4 * i + 2] << 8 |
           (uint32_t)p[4 * i + 3];
  for (i = 16; i < 64; i++) {
    uint32_t s0 = ROR(w[i - 15], 7) ^ ROR(w[i - 15], 18) ^ (w[i - 15] >> 3);
    uint32_t s1 = ROR(w[i - 2], 17) ^ ROR(w[i - 2], 19) ^ (w[i - 2] >> 10);
    w[i] = w[i - 16] + s0 + w[i - 7] + s1;
  }
  a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], k = h[7];
  for (i = 0; i < 64; i++) {
    t1 = k + (ROR(e, 6) ^ ROR(e, 11) ^ ROR(e, 25)) + ((e & f) ^ (~e & g)) + K[i] + w[i];
    t2 = (ROR(a, 2) ^ ROR(a, 13) ^ ROR(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
    k = g, g = f, f = e, e = d + t1, d = c, c = b, b = a, a = t1 + t2;
  }
  h[0] += a, h[1] += b, h[2] += c, h[3] += d, h[4] += e, h[5] += f, h[6] += g, h[7] += k;
}

/* The lowercase hex SHA-256 of data[0..len) into hex[65]. */
static void sha256_hex(const unsigned char* data, size_t len, char hex[65]) {
  uint32_t h[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                   0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
  unsigned char tail[128];
  size_t full = len / 64 * 64, rest = len - full, tlen, i;
  uint64_t bits = (uint64_t)len * 8;
  for (i = 0; i < full; i += 64)
    sha256_block(h, data + i);
  memset(tail, 0, sizeof tail);
  if (rest > 0) memcpy(tail, data + full, rest);
  tail[rest] = 0x80;
  tlen = rest + 1 + 8 <= 64 ? 64 : 128;
  for (i = 0; i < 8; i++)
    tail[tlen - 1 - i] = (unsigned char)(bits >> (8 * i));
  for (i = 0; i < tlen; i += 64)
    sha256_block(h, tail + i);
  for (i = 0; i < 8; i++)
    sprintf(hex + 8 * i, "%08x", (unsigned)h[i]);
  hex[64] = '\0';
}

/* ---- helpers ---------------------------------------------------------------------------- */

static const uvc_webfile_t* find(const char* path) {
  return uvc_webfile_find(path, strlen(path));
}

/* The bytes of web/<name> from the source tree, or NULL; *len gets their number. */
static unsigned char* read_source(const char* name, size_t* len) {
  char path[1024];
  FILE* f;
  unsigned char* buf;
  long n;
  snprintf(path, sizeof path, "%s/%s", UVCHAT_WEB_DIR, name);
  f = fopen(path, "rb");
  if (f == NULL) return NULL;
  fseek(f, 0, SEEK_END);
  n = ftell(f);
  fseek(f, 0, SEEK_SET);
  buf = malloc((size_t)n + 1);
  if (buf != NULL && fread(buf, 1, (size_t)n, f) != (size_t)n) {
    free(buf);
    buf = NULL;
  }
  fclose(f);
  *len = (size_t)n;
  return buf;
}

/* ---- tests ------------------------------------------------------------------------------ */

static void index_html_is_there_as_html(void** state) {
  const uvc_webfile_t* f = find("/index.html");
  (void)state;
  assert_non_null(f);
  assert_string_equal(f->path, "/index.html");
  assert_string_equal(f->type, "text/html; charset=utf-8");
  assert_true(f->len > 100);
  assert_non_null(strstr((const char*)f->data, "<!doctype html>"));
}

static void slash_is_index_html(void** state) {
  (void)state;
  assert_ptr_equal(find("/"), find("/index.html"));
  assert_ptr_equal(find("/?nick=ann"), find("/index.html"));
  assert_ptr_equal(find("/index.html#x"), find("/index.html"));
  /* The length counts, not a NUL: "/index.htmlXYZ" cut to its first 11 bytes. */
  assert_ptr_equal(uvc_webfile_find("/index.htmlXYZ", 11), find("/index.html"));
}

static void unknown_paths_find_nothing(void** state) {
  (void)state;
  assert_null(find("/nope"));
  assert_null(find(""));
  assert_null(find("index.html")); /* not a URL path */
  assert_null(find("/INDEX.HTML"));
  assert_null(find("/index.html/"));
  assert_null(find("//index.html"));
  assert_null(find("/../index.html"));
  assert_null(find("/index.htm"));
  assert_null(uvc_webfile_find(NULL, 0));
  assert_null(uvc_webfile_find("/index.html", 10)); /* "/index.htm" */
}

static void every_file_matches_its_source(void** state) {
  size_t i;
  (void)state;
  assert_true(uvc_webfiles_count >= 1);
  for (i = 0; i < uvc_webfiles_count; i++) {
    const uvc_webfile_t* f = &uvc_webfiles[i];
    char hex[65], want[19];
    size_t len = 0;
    unsigned char* src = read_source(f->path + 1, &len);
    assert_non_null(src);
    assert_int_equal(f->len, len);
    assert_memory_equal(f->data, src, len);
    /* The ETag: the first 16 hex digits of the content's SHA-256, quoted. */
    sha256_hex(f->data, f->len, hex);
    snprintf(want, sizeof want, "\"%.16s\"", hex);
    assert_string_equal(f->etag, want);
    assert_ptr_equal(find(f->path), f);
    if (i > 0) assert_true(strcmp(uvc_webfiles[i - 1].path, f->path) < 0);
    free(src);
  }
}

static void types_follow_extensions(void** state) {
  size_t i;
  (void)state;
  for (i = 0; i < uvc_webfiles_count; i++) {
    const uvc_webfile_t* f = &uvc_webfiles[i];
    const char* dot = strrchr(f->path, '.');
    assert_non_null(dot);
    if (strcmp(dot, ".html") == 0)
      assert_string_equal(f->type, "text/html; charset=utf-8");
    else if (strcmp(dot, ".js") == 0)
      assert_string_equal(f->type, "text/javascript; charset=utf-8");
    else if (strcmp(dot, ".css") == 0)
      assert_string_equal(f->type, "text/css; charset=utf-8");
    else if (strcmp(dot, ".png") == 0)
      assert_string_equal(f->type, "image/png");
    else if (strcmp(dot, ".svg") == 0)
      assert_string_equal(f->type, "image/svg+xml");
    else
      fail_msg("%s: an extension this test does not know", f->path);
  }
}

static void sha256_is_right(void** state) {
  char hex[65];
  (void)state;
  sha256_hex((const unsigned char*)"", 0, hex);
  assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  sha256_hex((const unsigned char*)"abc", 3, hex);
  assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  /* 56 bytes: the padding needs a second block. */
  sha256_hex((const unsigned char*)"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 56,
             hex);
  assert_string_equal(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(sha256_is_right),
      cmocka_unit_test(index_html_is_there_as_html),
      cmocka_unit_test(slash_is_index_html),
      cmocka_unit_test(unknown_paths_find_nothing),
      cmocka_unit_test(every_file_matches_its_source),
      cmocka_unit_test(types_follow_extensions),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
