/* msg.c: reference-counted immutable buffers for rendered lines. */
#include "uvchat/msg.h"

#include <stdlib.h>
#include <string.h>

uvc_msg_t* uvc_msg_new(size_t len) {
  uvc_msg_t* m;
  if (len > UINT32_MAX - sizeof(*m)) return NULL;
  m = malloc(sizeof(*m) + len);
  if (m == NULL) return NULL;
  m->refs = 1;
  m->len = (uint32_t)len;
  return m;
}

uvc_msg_t* uvc_msg_from(const char* data, size_t len) {
  uvc_msg_t* m = uvc_msg_new(len);
  if (m != NULL && len > 0) memcpy(m->data, data, len);
  return m;
}

uvc_msg_t* uvc_msg_concat(const uvc_part_t* parts, size_t n) {
  size_t total = 0, i;
  uvc_msg_t* m;
  char* p;
  for (i = 0; i < n; i++)
    total += parts[i].n;
  m = uvc_msg_new(total);
  if (m == NULL) return NULL;
  p = m->data;
  for (i = 0; i < n; i++) {
    if (parts[i].n > 0) memcpy(p, parts[i].p, parts[i].n);
    p += parts[i].n;
  }
  return m;
}

void uvc_msg_free_(uvc_msg_t* m) {
  free(m);
}
