/*
 * test-histogram.c: the log-linear histogram keeps exact count/min/max/sum,
 * maps every value to the bucket whose range holds it, and answers
 * quantiles of known distributions within the documented relative error
 * (1/TS_HIST_SUB), never below the true value and never above the max.
 */
#include "model-test.h"

#include "collector/histogram.h"

static void test_buckets(void)
{
	uint64_t prev_high = 0;

	/* ranges tile [0, UINT64_MAX] without gaps or overlaps */
	for (unsigned b = 0; b < TS_HIST_BUCKETS; b++) {
		uint64_t low, high;

		ts_histogram_bucket_range(b, &low, &high);
		CHECK_EQ(low, prev_high);
		CHECK(high > low);
		CHECK_EQ(ts_histogram_bucket_of(low), b);
		if (b + 1 < TS_HIST_BUCKETS) {
			CHECK_EQ(ts_histogram_bucket_of(high - 1), b);
			CHECK_EQ(ts_histogram_bucket_of(high), b + 1);
			/* width bound that makes the quantile error <= 1/SUB */
			if (b > 0)
				CHECK((high - low) * TS_HIST_SUB <= low);
		}
		prev_high = high;
	}
	CHECK_EQ(prev_high, UINT64_MAX);
	CHECK_EQ(ts_histogram_bucket_of(0), 0);
	CHECK_EQ(ts_histogram_bucket_of(1023), 0);
	CHECK_EQ(ts_histogram_bucket_of(1024), 1);
	CHECK_EQ(ts_histogram_bucket_of(UINT64_MAX), TS_HIST_BUCKETS - 1);
	CHECK_EQ(ts_histogram_bucket_of(1ull << TS_HIST_MAX_SHIFT), TS_HIST_BUCKETS - 1);
	CHECK_EQ(ts_histogram_bucket_of((1ull << TS_HIST_MAX_SHIFT) - 1), TS_HIST_BUCKETS - 2);
}

static void test_empty_and_single(void)
{
	struct ts_histogram h;

	ts_histogram_init(&h);
	CHECK_EQ(h.count, 0);
	CHECK_EQ(ts_histogram_quantile(&h, 0.5), 0);
	CHECK_EQ(ts_histogram_quantile(&h, 1.0), 0);

	ts_histogram_record(&h, 5 * MS);
	CHECK_EQ(h.count, 1);
	CHECK_EQ(h.min, 5 * MS);
	CHECK_EQ(h.max, 5 * MS);
	CHECK_EQ(h.sum, 5 * MS);
	/* one value: every quantile is it (upper bound capped at the max) */
	CHECK_EQ(ts_histogram_quantile(&h, 0.0), 5 * MS);
	CHECK_EQ(ts_histogram_quantile(&h, 0.5), 5 * MS);
	CHECK_EQ(ts_histogram_quantile(&h, 0.99), 5 * MS);
	CHECK_EQ(ts_histogram_quantile(&h, 1.0), 5 * MS);
}

/* Check a quantile against the exact value of a sorted sample. */
static void check_quantile(const struct ts_histogram *h, const uint64_t *sorted, size_t n, double q)
{
	size_t rank = (size_t)(q * (double)n + 0.999999999);
	uint64_t exact = sorted[(rank ? rank : 1) - 1];
	uint64_t got = ts_histogram_quantile(h, q);

	if (got < exact || (double)got > (double)exact * (1.0 + 1.0 / TS_HIST_SUB) + 1024.0) {
		fprintf(stderr, "q=%.3f: got %" PRIu64 ", exact %" PRIu64 "\n", q, got, exact);
		test_failures++;
	}
	CHECK(got <= h->max);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static void test_distributions(void)
{
	static uint64_t v[100000];
	struct ts_histogram h;
	uint64_t sum = 0, seed = 12345;
	const double qs[] = { 0.01, 0.25, 0.5, 0.75, 0.9, 0.99, 0.999 };

	/* uniform 1 us .. 100 ms */
	ts_histogram_init(&h);
	for (size_t i = 0; i < 100000; i++) {
		v[i] = US + i * (100 * MS - US) / 99999;
		ts_histogram_record(&h, v[i]);
		sum += v[i];
	}
	CHECK_EQ(h.count, 100000);
	CHECK_EQ(h.sum, sum);
	CHECK_EQ(h.min, US);
	CHECK_EQ(h.max, 100 * MS);
	for (size_t i = 0; i < sizeof(qs) / sizeof(qs[0]); i++)
		check_quantile(&h, v, 100000, qs[i]);
	CHECK_EQ(ts_histogram_quantile(&h, 1.0), 100 * MS);

	/* heavy-tailed: 99% around 50 us, 1% around 200 ms (pseudo-random) */
	ts_histogram_init(&h);
	for (size_t i = 0; i < 100000; i++) {
		seed = seed * 6364136223846793005ull + 1442695040888963407ull;
		v[i] = (i % 100 == 0) ? 200 * MS + (seed >> 40) % (10 * MS) : 50 * US + (seed >> 40) % (5 * US);
		ts_histogram_record(&h, v[i]);
	}
	qsort(v, 100000, sizeof(v[0]), cmp_u64);
	for (size_t i = 0; i < sizeof(qs) / sizeof(qs[0]); i++)
		check_quantile(&h, v, 100000, qs[i]);
	CHECK(ts_histogram_quantile(&h, 0.5) < 70 * US);
	CHECK(ts_histogram_quantile(&h, 0.995) >= 200 * MS);
	CHECK_EQ(ts_histogram_quantile(&h, 1.0), v[99999]);
	CHECK_EQ(h.min, v[0]);
}

static void test_extremes(void)
{
	struct ts_histogram h;

	ts_histogram_init(&h);
	ts_histogram_record(&h, 0);
	ts_histogram_record(&h, UINT64_MAX);
	ts_histogram_record(&h, UINT64_MAX);
	CHECK_EQ(h.count, 3);
	CHECK_EQ(h.min, 0);
	CHECK_EQ(h.max, UINT64_MAX);
	CHECK_EQ(h.sum, UINT64_MAX); /* saturates, never wraps */
	CHECK_EQ(h.buckets[0], 1);
	CHECK_EQ(h.buckets[TS_HIST_BUCKETS - 1], 2);
	CHECK_EQ(ts_histogram_quantile(&h, 0.2), 1024); /* bucket 0's upper bound */
	CHECK_EQ(ts_histogram_quantile(&h, 0.9), UINT64_MAX);

	/* a saturated bucket keeps ranking sane */
	ts_histogram_init(&h);
	h.buckets[ts_histogram_bucket_of(2 * MS)] = UINT32_MAX;
	h.count = UINT32_MAX;
	h.min = 2 * MS;
	h.max = 2 * MS;
	ts_histogram_record(&h, 2 * MS);
	CHECK_EQ(h.buckets[ts_histogram_bucket_of(2 * MS)], UINT32_MAX);
	CHECK_EQ(ts_histogram_quantile(&h, 0.5), 2 * MS);
}

int main(void)
{
	test_buckets();
	test_empty_and_single();
	test_distributions();
	test_extremes();
	return test_result("test-histogram");
}
