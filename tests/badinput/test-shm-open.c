/*
 * test-shm-open.c: ts_shm_source_open() against memfds and Hellos that
 * must be refused: a truncated memfd, an unsealed one, a file that is not
 * a memfd, Hellos with absurd geometry or sizes that disagree with the
 * memfd, and regions whose header disagrees with the Hello. Each refusal
 * must leave the memfd open for the caller and give one clear line; a
 * good region must open.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/source_shm.h"
#include "tests/check.h"
#include "region.h"

static struct ts_strpool *pool;

/* Refused with rc < 0, a one-line message containing `want`, fd intact. */
static void expect_refused(int fd, const Taskscope__Hello *h, const char *want, int line)
{
	struct ts_shm_source *src = NULL;
	char err[256];
	int rc;

	memset(err, 'Z', sizeof(err));
	rc = ts_shm_source_open(fd, h, pool, &src, err, sizeof(err));
	CHECK_MSG(rc < 0 && !src, "line %d: rc %d", line, rc);
	CHECK_MSG(memchr(err, '\0', sizeof(err)) && strlen(err) > 10 && !strchr(err, '\n'),
		  "line %d: error is not one line", line);
	CHECK_MSG(strstr(err, want), "line %d: \"%s\" does not say \"%s\"", line, err, want);
	CHECK_MSG(fcntl(fd, F_GETFD) >= 0, "line %d: fd closed on failure", line);
	printf("refused as expected: %s\n", err);
}

static void test_good(void)
{
	struct ts_shm_source *src = NULL;
	struct region r;
	Taskscope__Hello h;
	char err[256] = "";

	CHECK(region_create(&r, 4, 64, 4096, true) == 0);
	region_hello(&r, &h);
	CHECK_MSG(ts_shm_source_open(r.fd, &h, pool, &src, err, sizeof(err)) == 0, "%s", err);
	CHECK(src && ts_shm_source_pid(src) == (uint32_t)getpid());
	ts_shm_source_free(src);
	/* The source owned the fd and closed it. */
	CHECK(fcntl(r.fd, F_GETFD) < 0 && errno == EBADF);
	region_destroy(&r, false);
}

static void test_truncated(void)
{
	struct region r;
	Taskscope__Hello h;
	char want[128];
	int fd;

	/* A region with the default geometry, but the memfd is 4096 bytes. */
	CHECK(region_create(&r, TS_DEFAULT_SLOTS, 64, TS_DEFAULT_ARENA, false) == 0);
	region_hello(&r, &h);
	fd = memfd_create("short", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	CHECK(fd >= 0 && ftruncate(fd, 4096) == 0);
	CHECK(fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW) == 0);
	snprintf(want, sizeof(want), "shared memory is 4096 bytes, Hello says %zu", r.size);
	expect_refused(fd, &h, want, __LINE__);
	close(fd);
	region_destroy(&r, true);
}

static void test_unsealed(void)
{
	struct region r;
	Taskscope__Hello h;
	FILE *tmp;

	CHECK(region_create(&r, 2, 64, 4096, false) == 0);
	region_hello(&r, &h);
	expect_refused(r.fd, &h, "not sealed", __LINE__);
	/* Only one of the two seals. */
	CHECK(fcntl(r.fd, F_ADD_SEALS, F_SEAL_SHRINK) == 0);
	expect_refused(r.fd, &h, "not sealed", __LINE__);
	region_destroy(&r, true);

	/* A regular file of the right size cannot be sealed at all. */
	CHECK(region_create(&r, 2, 64, 4096, true) == 0);
	region_hello(&r, &h);
	tmp = tmpfile();
	CHECK(tmp && ftruncate(fileno(tmp), (off_t)r.size) == 0);
	expect_refused(fileno(tmp), &h, "not sealed", __LINE__);
	fclose(tmp);
	region_destroy(&r, true);
}

static void test_bad_hello(void)
{
	struct region r;
	Taskscope__Hello h;

	CHECK(region_create(&r, 2, 64, 4096, true) == 0);

	region_hello(&r, &h);
	h.shm_size += 64; /* disagrees with its own geometry */
	expect_refused(r.fd, &h, "geometry needs", __LINE__);

	region_hello(&r, &h);
	h.slots = 0;
	expect_refused(r.fd, &h, "ring slots", __LINE__);
	h.slots = TS_MAX_SLOTS + 1;
	expect_refused(r.fd, &h, "ring slots", __LINE__);

	region_hello(&r, &h);
	h.capacity = 48;
	expect_refused(r.fd, &h, "power of two", __LINE__);
	h.capacity = 0;
	expect_refused(r.fd, &h, "power of two", __LINE__);
	h.capacity = TS_MAX_CAPACITY * 2;
	expect_refused(r.fd, &h, "power of two", __LINE__);

	region_hello(&r, &h);
	h.record_size = 40;
	expect_refused(r.fd, &h, "records are 40 bytes", __LINE__);

	region_hello(&r, &h);
	h.arena_size = 4000;
	expect_refused(r.fd, &h, "multiple of 64", __LINE__);
	h.arena_size = TS_MAX_ARENA + 64;
	expect_refused(r.fd, &h, "multiple of 64", __LINE__);

	/* Within every per-field limit but too big in total. */
	region_hello(&r, &h);
	h.slots = TS_MAX_SLOTS;
	h.capacity = TS_MAX_CAPACITY;
	h.shm_size = ts_shm_total_size(h.slots, h.arena_size, h.capacity);
	expect_refused(r.fd, &h, "the limit is", __LINE__);

	/* Self-consistent Hello that describes another memfd: the size
	 * check catches it before anything is mapped. */
	region_hello(&r, &h);
	h.capacity = 128;
	h.shm_size = ts_shm_total_size(h.slots, h.arena_size, h.capacity);
	expect_refused(r.fd, &h, "truncated or wrong memfd", __LINE__);

	region_destroy(&r, true);
}

static void test_bad_header(void)
{
	struct region r;
	Taskscope__Hello h;
	struct ts_shm_header *hdr;

	CHECK(region_create(&r, 2, 64, 4096, true) == 0);
	hdr = region_header(&r);
	region_hello(&r, &h);

	hdr->magic ^= 1;
	expect_refused(r.fd, &h, "bad magic", __LINE__);
	hdr->magic ^= 1;

	hdr->version = 2;
	expect_refused(r.fd, &h, "format 2", __LINE__);
	hdr->version = TS_SHM_VERSION;

	/* The memfd's size matches the Hello, but its header says
	 * something else: refused after mapping, before any ring is read. */
	hdr->capacity = 32;
	expect_refused(r.fd, &h, "disagrees with its Hello", __LINE__);
	hdr->capacity = 64;

	hdr->pid = 1;
	expect_refused(r.fd, &h, "disagrees with its Hello", __LINE__);
	hdr->pid = (uint32_t)getpid();

	/* Restored: it opens again. */
	{
		struct ts_shm_source *src = NULL;
		char err[256];

		CHECK_MSG(ts_shm_source_open(r.fd, &h, pool, &src, err, sizeof(err)) == 0, "%s", err);
		ts_shm_source_free(src);
	}
	region_destroy(&r, false);
}

int main(void)
{
	if (ts_strpool_new(1 << 20, &pool) < 0)
		return 1;
	test_good();
	test_truncated();
	test_unsealed();
	test_bad_hello();
	test_bad_header();
	ts_strpool_free(pool);
	return check_result("test-shm-open");
}
