/*
 * histogram.h: a log-linear histogram of durations with bounded memory.
 *
 * Values are nanoseconds. Each power of two from 2^10 ns (~1 us) up to
 * 2^37 ns (~137 s) is split into TS_HIST_SUB linear sub-buckets; smaller
 * values land in bucket 0, larger ones in the last. Memory is fixed
 * (sizeof(struct ts_histogram)); the relative error of a percentile is at
 * most 1/TS_HIST_SUB. The exact maximum and count are kept beside it.
 */
#ifndef TASKSCOPE_HISTOGRAM_H
#define TASKSCOPE_HISTOGRAM_H

#include <stdint.h>

#define TS_HIST_MIN_SHIFT 10
#define TS_HIST_MAX_SHIFT 37
#define TS_HIST_SUB 4
#define TS_HIST_BUCKETS ((TS_HIST_MAX_SHIFT - TS_HIST_MIN_SHIFT) * TS_HIST_SUB + 2)

struct ts_histogram {
	uint64_t count;
	uint64_t sum;
	uint64_t max;
	uint64_t min;
	uint32_t buckets[TS_HIST_BUCKETS];
};

void ts_histogram_init(struct ts_histogram *h);
void ts_histogram_record(struct ts_histogram *h, uint64_t value_ns);
/* The value at quantile q (0..1): the upper bound of the bucket holding it,
 * capped at the exact max. 0 when empty. */
uint64_t ts_histogram_quantile(const struct ts_histogram *h, double q);
/* Bucket index of a value and the [low, high) range of a bucket, for drawing. */
unsigned ts_histogram_bucket_of(uint64_t value_ns);
void ts_histogram_bucket_range(unsigned bucket, uint64_t *low_ns, uint64_t *high_ns);

#endif /* TASKSCOPE_HISTOGRAM_H */
