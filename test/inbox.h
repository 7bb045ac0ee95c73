/* inbox.h: a fake user's terminal, for the tests that drive the core without sockets. */
#ifndef UVCHAT_TEST_INBOX_H
#define UVCHAT_TEST_INBOX_H

#include <string.h>

#include "unit.h"
#include "uvchat/msg.h"

/* Appends what the core delivered to inbox (cap bytes, *len used), kept NUL-terminated;
 * fails the test if it would not fit. */
static inline void tt_inbox_append(char* inbox, size_t cap, size_t* len, const uvc_msg_t* m) {
  assert_true(*len + m->len < cap);
  memcpy(inbox + *len, m->data, m->len);
  *len += m->len;
  inbox[*len] = '\0';
}

#endif
