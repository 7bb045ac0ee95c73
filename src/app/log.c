/* log.c: timestamped, levelled log lines on stderr. */
#include "uvchat/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <uv.h>

static int g_level = UVC_LOG_INFO;
static const char* const kNames[] = {"debug", "info", "warn", "error", "off"};

void uvc_log_set_level(int level) {
  g_level = level;
}
int uvc_log_get_level(void) {
  return g_level;
}

int uvc_log_level_parse(const char* s) {
  int i;
  for (i = 0; i <= UVC_LOG_OFF; i++)
    if (strcmp(s, kNames[i]) == 0) return i;
  if (strcmp(s, "warning") == 0) return UVC_LOG_WARN;
  return -1;
}

void uvc_errf(char* err, size_t errlen, const char* fmt, ...) {
  va_list ap;
  if (err == NULL || errlen == 0) return;
  va_start(ap, fmt);
  vsnprintf(err, errlen, fmt, ap);
  va_end(ap);
}

static void vlog(int level, const char* fmt, va_list ap) {
  char line[1024];
  uv_timeval64_t tv;
  time_t secs;
  struct tm* tm;
  size_t n = 0;
  int k;
  if (uv_gettimeofday(&tv) == 0) {
    secs = (time_t)tv.tv_sec;
    tm = gmtime(&secs); /* the loop thread is the only one that logs */
    if (tm != NULL) {
      n = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", tm);
      k = snprintf(line + n, sizeof(line) - n, ".%03dZ ", (int)(tv.tv_usec / 1000));
      if (k > 0) n += (size_t)k;
    }
  }
  k = snprintf(line + n, sizeof(line) - n, "%-5s ", kNames[level]);
  if (k > 0) n += (size_t)k;
  k = vsnprintf(line + n, sizeof(line) - n - 1, fmt, ap);
  if (k > 0) n += (size_t)k;
  if (n > sizeof(line) - 2) n = sizeof(line) - 2;
  line[n++] = '\n';
  fwrite(line, 1, n, stderr);
  fflush(stderr);
}

void uvc_log(int level, const char* fmt, ...) {
  va_list ap;
  if (level < g_level || level >= UVC_LOG_OFF) return;
  va_start(ap, fmt);
  vlog(level, fmt, ap);
  va_end(ap);
}

int uvc_log_budget(uvc_log_limit_t* lim, uint64_t now, uint32_t* report, uint64_t* report_ms) {
  *report = 0;
  *report_ms = 0;
  if (lim->used == 0 || now - lim->window >= UVC_LOG_LIMIT_MS) {
    *report = lim->held;
    *report_ms = now - lim->window;
    lim->window = now;
    lim->used = 0;
    lim->held = 0;
  }
  if (lim->used >= UVC_LOG_LIMIT_LINES) {
    lim->held++;
    return 0;
  }
  lim->used++;
  return 1;
}

void uvc_log_limited(uvc_log_limit_t* lim, uint64_t now, int level, const char* fmt, ...) {
  va_list ap;
  uint32_t held;
  uint64_t held_ms;
  int ok;
  if (level < g_level || level >= UVC_LOG_OFF) return;
  ok = uvc_log_budget(lim, now, &held, &held_ms);
  if (held > 0)
    uvc_log(UVC_LOG_WARN, "left out %u %s in %u seconds (at most %u are logged every %u seconds)",
            (unsigned)held, lim->what ? lim->what : "log lines", (unsigned)(held_ms / 1000),
            (unsigned)UVC_LOG_LIMIT_LINES, (unsigned)(UVC_LOG_LIMIT_MS / 1000));
  if (!ok) return;
  va_start(ap, fmt);
  vlog(level, fmt, ap);
  va_end(ap);
}
