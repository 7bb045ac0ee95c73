/* fuzz_clean.c: the text cleaner on arbitrary bytes (the telnet filter: fuzz_telnet.c). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_check.h"
#include "uvchat/clean.h"

int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  char* out = malloc(UVC_CLEAN_MAX(size) + 1);
  char* again = malloc(UVC_CLEAN_MAX(size) + 1);
  size_t n, k;
  if (out == NULL || again == NULL) abort();
  /* cleaning: safe output, no growth beyond the bound, and cleaning is idempotent */
  n = uvc_clean_text((const char*)data, size, out, 0);
  if (n > UVC_CLEAN_MAX(size)) abort();
  fuzz_check_clean((const unsigned char*)out, n, 0);
  k = uvc_clean_text(out, n, again, 0);
  if (k != n || memcmp(out, again, n) != 0) abort();
  n = uvc_clean_text((const char*)data, size, out, UVC_CLEAN_KEEP_IRC_FORMAT);
  fuzz_check_clean((const unsigned char*)out, n, 1);
  /* cutting never splits a character */
  k = uvc_utf8_cut(out, n, n / 2);
  if (k > n / 2 || (k < n && ((unsigned char)out[k] & 0xC0) == 0x80)) abort();
  free(out);
  free(again);
  return 0;
}
