/* log.h: one line per event on stderr: a UTC timestamp, a level, and the message. */
#ifndef UVCHAT_LOG_H
#define UVCHAT_LOG_H

#include <stddef.h>
#include <stdint.h>

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

/* A budget for one kind of log line that a client can cause at will (connections coming
 * and going): at most UVC_LOG_LIMIT_LINES per UVC_LOG_LIMIT_MS window; what a window
 * could not take is counted and reported in one line when the next window opens. */
#define UVC_LOG_LIMIT_LINES 100
#define UVC_LOG_LIMIT_MS    10000
typedef struct uvc_log_limit {
  uint64_t window;  /* when the current window opened (loop ms) */
  uint32_t used;    /* lines written in it */
  uint32_t held;    /* lines left out since the last report */
  const char* what; /* what the lines are, for the report ("connection log lines") */
} uvc_log_limit_t;

/* Whether one more line fits in lim's budget at now (the loop's time in ms). When a new
 * window opens after lines were left out, *report gets their number (else 0), and the
 * window they were left out of lasted *report_ms. */
int uvc_log_budget(uvc_log_limit_t* lim, uint64_t now, uint32_t* report, uint64_t* report_ms);
/* uvc_log() within lim's budget (now: the loop's time in ms). */
#if defined(__GNUC__)
__attribute__((format(printf, 4, 5)))
#endif
void uvc_log_limited(uvc_log_limit_t* lim, uint64_t now, int level, const char* fmt, ...);

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
