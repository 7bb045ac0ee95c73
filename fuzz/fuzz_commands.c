/* fuzz_commands.c: arbitrary lines from three text users through the command parser and
 * the core; everything delivered must be clean CRLF-terminated lines. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_check.h"
#include "uvchat/core.h"
#include "uvchat/list.h"
#include "uvchat/text.h"

typedef struct user {
  uvc_session_t s;
  int closing;
} user_t;

static void deliver(void* ud, uvc_session_t* s, uvc_msg_t* m) {
  const unsigned char* p = (const unsigned char*)m->data;
  (void)ud;
  (void)s;
  if (m->len < 2 || p[m->len - 2] != '\r' || p[m->len - 1] != '\n') abort();
  if (memchr(p, '\n', m->len - 1) != NULL || memchr(p, '\r', m->len - 2) != NULL) abort();
  fuzz_check_clean(p, m->len - 2, 0);
}

static void request_close(void* ud, uvc_session_t* s, uvc_leave_t why, const char* text,
                          size_t len) {
  (void)ud;
  (void)why;
  (void)text;
  (void)len;
  UVC_CONTAINER_OF(s, user_t, s)->closing = 1;
}

/* Input: lines separated by LF; the first byte of each line picks who types it. */
int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  uvc_core_config_t cfg = {.default_room = "#lobby", .max_line = 512, .server_name = "uvchat"};
  uvc_core_hooks_t hooks = {.deliver = deliver, .request_close = request_close};
  uvc_core_t core;
  user_t users[3];
  size_t i = 0;
  int u;
  if (uvc_core_init(&core, &cfg, &hooks, NULL) != 0) abort();
  for (u = 0; u < 3; u++) {
    uvc_session_init(&users[u].s, &uvc_text_adapter);
    users[u].closing = 0;
    uvc_text_adapter.on_open(&core, &users[u].s);
  }
  while (i < size) {
    const uint8_t* lf = memchr(data + i, '\n', size - i);
    size_t end = lf ? (size_t)(lf - data) : size;
    if (end > i) {
      user_t* who = &users[data[i] % 3];
      size_t len = end - i - 1;
      if (len > 512) len = 512; /* the framer's limit */
      if (!who->closing) uvc_text_adapter.on_line(&core, &who->s, (const char*)data + i + 1, len);
    }
    i = end + 1;
  }
  for (u = 0; u < 3; u++)
    uvc_core_leave(&core, &users[u].s, UVC_LEAVE_CLOSED, NULL, 0);
  uvc_core_free(&core);
  return 0;
}
