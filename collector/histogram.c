/*
 * histogram.c: log-linear duration histograms (see histogram.h).
 *
 * Bucket 0 holds values below 2^TS_HIST_MIN_SHIFT; then each power of two
 * [2^k, 2^(k+1)) for k in [MIN_SHIFT, MAX_SHIFT) is cut into TS_HIST_SUB
 * equal sub-buckets; the last bucket holds everything from 2^MAX_SHIFT up.
 * A sub-bucket is at most 1/TS_HIST_SUB of its lower bound wide, which is
 * the documented relative error of a quantile. Counters saturate instead
 * of wrapping, so a histogram never lies by going backwards.
 */
#include "collector/histogram.h"

#include <string.h>

#define LAST_BUCKET (TS_HIST_BUCKETS - 1)

/* log2 of TS_HIST_SUB, computed once by the compiler */
#define SUB_SHIFT (TS_HIST_SUB == 1 ? 0 : TS_HIST_SUB == 2 ? 1 : TS_HIST_SUB == 4 ? 2 : \
		   TS_HIST_SUB == 8 ? 3 : TS_HIST_SUB == 16 ? 4 : -1)
_Static_assert(SUB_SHIFT >= 0, "TS_HIST_SUB must be a power of two up to 16");
_Static_assert(TS_HIST_MIN_SHIFT >= SUB_SHIFT, "sub-buckets must be at least 1 ns wide");

void ts_histogram_init(struct ts_histogram *h)
{
	memset(h, 0, sizeof(*h));
}

unsigned ts_histogram_bucket_of(uint64_t v)
{
	unsigned k;

	if (v < (1ull << TS_HIST_MIN_SHIFT))
		return 0;
	if (v >= (1ull << TS_HIST_MAX_SHIFT))
		return LAST_BUCKET;
	k = 63u - (unsigned)__builtin_clzll(v);
	return 1u + (k - TS_HIST_MIN_SHIFT) * TS_HIST_SUB +
	       (unsigned)((v >> (k - SUB_SHIFT)) & (TS_HIST_SUB - 1));
}

void ts_histogram_bucket_range(unsigned bucket, uint64_t *low_ns, uint64_t *high_ns)
{
	uint64_t low, high;

	if (bucket == 0) {
		low = 0;
		high = 1ull << TS_HIST_MIN_SHIFT;
	} else if (bucket >= LAST_BUCKET) {
		low = 1ull << TS_HIST_MAX_SHIFT;
		high = UINT64_MAX;
	} else {
		unsigned k = TS_HIST_MIN_SHIFT + (bucket - 1) / TS_HIST_SUB;
		uint64_t width = 1ull << (k - SUB_SHIFT);

		low = (1ull << k) + ((bucket - 1) % TS_HIST_SUB) * width;
		high = low + width;
	}
	if (low_ns)
		*low_ns = low;
	if (high_ns)
		*high_ns = high;
}

void ts_histogram_record(struct ts_histogram *h, uint64_t v)
{
	unsigned b = ts_histogram_bucket_of(v);

	if (h->count == 0 || v < h->min)
		h->min = v;
	if (v > h->max)
		h->max = v;
	h->count++;
	h->sum = h->sum + v < h->sum ? UINT64_MAX : h->sum + v;
	if (h->buckets[b] != UINT32_MAX)
		h->buckets[b]++;
}

uint64_t ts_histogram_quantile(const struct ts_histogram *h, double q)
{
	uint64_t total = 0, rank, seen = 0;

	if (h->count == 0)
		return 0;
	if (!(q > 0.0))       /* also catches NaN */
		return h->min;
	if (q >= 1.0)
		return h->max;
	/* Walk the buckets themselves rather than trusting `count`: a
	 * saturated bucket makes the two disagree, the buckets are what we
	 * can rank in. */
	for (unsigned b = 0; b < TS_HIST_BUCKETS; b++)
		total += h->buckets[b];
	rank = (uint64_t)(q * (double)total);
	if ((double)rank < q * (double)total)
		rank++;
	if (rank == 0)
		rank = 1;
	for (unsigned b = 0; b < TS_HIST_BUCKETS; b++) {
		seen += h->buckets[b];
		if (seen >= rank) {
			uint64_t high;

			ts_histogram_bucket_range(b, NULL, &high);
			if (high > h->max)
				high = h->max;
			if (high < h->min)
				high = h->min;
			return high;
		}
	}
	return h->max;
}
