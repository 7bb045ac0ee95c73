/* irc_parse.c: cuts one IRC line into tags, prefix, command and parameters. */
#include <string.h>

#include "uvchat/irc.h"
#include "uvchat/names.h"

/* The index of the first byte at or after i that is not a space. */
static size_t skip_spaces(const char* s, size_t len, size_t i) {
  while (i < len && s[i] == ' ')
    i++;
  return i;
}

/* The index of the first space at or after i, or len. */
static size_t to_space(const char* s, size_t len, size_t i) {
  const char* sp = i < len ? memchr(s + i, ' ', len - i) : NULL;
  return sp != NULL ? (size_t)(sp - s) : len;
}

/* Parses one line: the tag section is measured and kept aside (m->tags), the rest must fit
 * in 510 bytes (512 with the CRLF the framer removed). */
uvc_irc_parse_t uvc_irc_parse(const char* line, size_t len, uvc_irc_msg_t* m) {
  size_t i = 0, end;
  memset(m, 0, sizeof(*m));
  if (len > 0 && line[0] == '@') {
    end = to_space(line, len, 0);
    if (end + 1 > UVC_IRC_TAGS_MAX) return UVC_IRC_TOOLONG;
    m->tags.p = line + 1;
    m->tags.n = end - 1;
    i = skip_spaces(line, len, end);
  }
  if (len - i > UVC_IRC_LINE - 2) return UVC_IRC_TOOLONG;
  line += i;
  len -= i;
  i = skip_spaces(line, len, 0);
  if (i < len && line[i] == ':') {
    end = to_space(line, len, i);
    m->prefix.p = line + i + 1;
    m->prefix.n = end - i - 1;
    i = skip_spaces(line, len, end);
  }
  if (i == len) return UVC_IRC_EMPTY;
  end = to_space(line, len, i);
  m->cmd.p = line + i;
  m->cmd.n = end - i;
  i = skip_spaces(line, len, end);
  while (i < len) {
    uvc_irc_str_t* p = &m->params[m->n++];
    if (line[i] == ':' || m->n == UVC_IRC_MAX_PARAMS) {
      /* The trailing parameter: the rest of the line, spaces and all. */
      if (line[i] == ':') i++;
      p->p = line + i;
      p->n = len - i;
      break;
    }
    end = to_space(line, len, i);
    p->p = line + i;
    p->n = end - i;
    i = skip_spaces(line, len, end);
  }
  return UVC_IRC_OK;
}

/* Compares a command to an upper-case name without regard to case. */
int uvc_irc_is(const uvc_irc_str_t* cmd, const char* name) {
  return uvc_name_eq(cmd->p, cmd->n, name, strlen(name));
}
