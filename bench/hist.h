/* hist.h: a log-linear latency histogram (about 0.8% relative error) with quantiles. */
#ifndef UVCHAT_BENCH_HIST_H
#define UVCHAT_BENCH_HIST_H

#include <stdint.h>

/* Values below 2^HIST_LINEAR_BITS get a bucket each; above, every power of two is split into
 * 2^(HIST_LINEAR_BITS - 1) buckets. */
#define HIST_LINEAR_BITS 8
#define HIST_HALF        (1u << (HIST_LINEAR_BITS - 1))
#define HIST_BUCKETS     ((64 - HIST_LINEAR_BITS) * HIST_HALF + (1u << HIST_LINEAR_BITS))

typedef struct bench_hist {
  uint64_t n;
  uint64_t min;
  uint64_t max;
  uint64_t counts[HIST_BUCKETS];
} bench_hist_t;

void hist_init(bench_hist_t* h);
void hist_add(bench_hist_t* h, uint64_t v);
uint64_t hist_quantile(const bench_hist_t* h, double q);

#endif
