/* log.h: one line per event on stderr: a UTC timestamp, a level, and the message. */
#ifndef UVCHAT_LOG_H
#define UVCHAT_LOG_H

#include <stddef.h>

typedef enum {
  UVC_LOG_DEBUG = 0,
  UVC_LOG_INFO,
  UVC_LOG_WARN,
  UVC_LOG_ERROR,
  UVC_LOG_OFF
} uvc_log_level_t;

void uvc_log_set_level(int level);
int uvc_log_get_level(void);
/* "debug", "info", "warn", "error" or "off" to a level; -1 when unknown. */
int uvc_log_level_parse(const char* s);

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
void uvc_log(int level, const char* fmt, ...);

/* Writes a formatted one-line reason into err for a caller to show (nothing when err is
 * NULL or errlen 0). Not a log line: the caller decides what to do with it. */
#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
void uvc_errf(char* err, size_t errlen, const char* fmt, ...);

#define UVC_DEBUG(...) uvc_log(UVC_LOG_DEBUG, __VA_ARGS__)
#define UVC_INFO(...)  uvc_log(UVC_LOG_INFO, __VA_ARGS__)
#define UVC_WARN(...)  uvc_log(UVC_LOG_WARN, __VA_ARGS__)
#define UVC_ERROR(...) uvc_log(UVC_LOG_ERROR, __VA_ARGS__)

#endif
