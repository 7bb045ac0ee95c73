/* metrics.c: histograms and the Prometheus text exposition format (version 0.0.4). */
#include "uvchat/metrics.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

const double uvc_hist_bounds[UVC_HIST_BUCKETS] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                                  0.05,   0.1,   0.25,   0.5,   1.0,  2.5};

void uvc_hist_observe(uvc_hist_t* h, double seconds) {
  int i = 0;
  while (i < UVC_HIST_BUCKETS && seconds > uvc_hist_bounds[i])
    i++;
  h->counts[i]++;
  h->n++;
  h->sum += seconds;
}

void uvc_metrics_printf(uvc_metrics_buf_t* b, const char* fmt, ...) {
  va_list ap;
  int n;
  if (b->failed) return;
  for (;;) {
    size_t room = b->cap - b->len;
    va_start(ap, fmt);
    n = vsnprintf(b->p != NULL ? b->p + b->len : NULL, room, fmt, ap);
    va_end(ap);
    if (n < 0) {
      b->failed = 1;
      return;
    }
    if ((size_t)n < room) {
      b->len += (size_t)n;
      return;
    }
    {
      size_t cap = b->cap ? b->cap * 2 : 4096;
      char* p;
      while (cap - b->len <= (size_t)n)
        cap *= 2;
      if ((p = realloc(b->p, cap)) == NULL) {
        b->failed = 1;
        return;
      }
      b->p = p;
      b->cap = cap;
    }
  }
}

void uvc_metrics_head(uvc_metrics_buf_t* b, const char* name, const char* type, const char* help) {
  uvc_metrics_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

void uvc_metrics_hist(uvc_metrics_buf_t* b, const char* name, const char* help,
                      const uvc_hist_t* h) {
  uint64_t cum = 0;
  int i;
  uvc_metrics_head(b, name, "histogram", help);
  for (i = 0; i < UVC_HIST_BUCKETS; i++) {
    cum += h->counts[i];
    uvc_metrics_printf(b, "%s_bucket{le=\"%g\"} %llu\n", name, uvc_hist_bounds[i],
                       (unsigned long long)cum);
  }
  cum += h->counts[UVC_HIST_BUCKETS];
  uvc_metrics_printf(b, "%s_bucket{le=\"+Inf\"} %llu\n", name, (unsigned long long)cum);
  uvc_metrics_printf(b, "%s_sum %.6f\n%s_count %llu\n", name, h->sum, name,
                     (unsigned long long)h->n);
}
