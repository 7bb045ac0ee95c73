/* hist.c: a log-linear latency histogram (about 0.8% relative error) with quantiles. */
#include "hist.h"

#include <string.h>

/* Returns the index of the highest set bit of v (v > 0). */
static unsigned msb64(uint64_t v) {
#if defined(__GNUC__) || defined(__clang__)
  return 63u - (unsigned)__builtin_clzll(v);
#else
  unsigned r = 0;
  if (v >> 32) v >>= 32, r += 32;
  if (v >> 16) v >>= 16, r += 16;
  if (v >> 8) v >>= 8, r += 8;
  if (v >> 4) v >>= 4, r += 4;
  if (v >> 2) v >>= 2, r += 2;
  if (v >> 1) r += 1;
  return r;
#endif
}

/* Maps a value to its bucket: exact below 2^HIST_LINEAR_BITS, then HIST_HALF buckets per
 * power of two. */
static unsigned bucket_of(uint64_t v) {
  unsigned shift;
  if (v < (1u << HIST_LINEAR_BITS)) return (unsigned)v;
  shift = msb64(v) - (HIST_LINEAR_BITS - 1);
  return shift * HIST_HALF + (unsigned)(v >> shift);
}

/* Returns the middle of the range of values that fall into bucket i. */
static uint64_t bucket_mid(unsigned i) {
  unsigned shift;
  uint64_t sub, lo, hi;
  if (i < (1u << HIST_LINEAR_BITS)) return i;
  shift = i / HIST_HALF - 1;
  sub = i - shift * HIST_HALF;
  lo = sub << shift;
  hi = ((sub + 1) << shift) - 1;
  return lo + (hi - lo) / 2;
}

/* Empties the histogram. */
void hist_init(bench_hist_t* h) {
  memset(h, 0, sizeof(*h));
  h->min = UINT64_MAX;
}

/* Counts one value. */
void hist_add(bench_hist_t* h, uint64_t v) {
  h->counts[bucket_of(v)]++;
  h->n++;
  if (v > h->max) h->max = v;
  if (v < h->min) h->min = v;
}

/* Returns the value below which the fraction q of the values lie (the middle of its bucket,
 * kept within the observed minimum and maximum); 0 for an empty histogram. */
uint64_t hist_quantile(const bench_hist_t* h, double q) {
  uint64_t target, seen = 0, v;
  unsigned i;
  if (h->n == 0) return 0;
  if (q <= 0) return h->min;
  if (q >= 1) return h->max;
  target = (uint64_t)(q * (double)h->n);
  if ((double)target < q * (double)h->n) target++;
  if (target == 0) target = 1;
  for (i = 0; i < HIST_BUCKETS; i++) {
    seen += h->counts[i];
    if (seen >= target) {
      v = bucket_mid(i);
      if (v < h->min) v = h->min;
      if (v > h->max) v = h->max;
      return v;
    }
  }
  return h->max;
}
