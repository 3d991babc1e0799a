/*
 * test-intern.c: string interning. A site is interned once however often
 * it is used; its strings read back from the arena as written ("file:line"
 * for the location, the end of a too-long path kept); strings longer than
 * TS_STRING_MAX are cut; a full arena returns 0 and counts each refusal
 * while never growing past its size; after detaching and attaching a new
 * region, a site's cached ids are re-interned for the new region.
 */
#include "agent/shim_internal.h"
#include "ring-reader.h"

static void check_loc(struct rr *r, uint32_t id, const char *file_end, unsigned line)
{
	const char *s = rr_string(r, id);
	char want[64];
	size_t n, w;

	CHECK(s);
	snprintf(want, sizeof(want), "%s:%u", file_end, line);
	n = strlen(s);
	w = strlen(want);
	CHECK(n >= w && strcmp(s + n - w, want) == 0);
	CHECK(n <= TS_STRING_MAX);
}

int main(void)
{
	TASKSCOPE_SITE(site, "job");
	const unsigned site_line = __LINE__ - 1;
	static char long_file[600];
	struct taskscope_site far = { "far", long_file, 4242, 0, 0 };
	struct ts_ring_record got[16];
	char big[400];
	struct rr r;
	uint64_t used0, used1;
	int fd = -1;
	uint32_t id;

	CHECK(ts_shim_attach_memfd(1, 16, 2048, &fd) == 0);
	rr_open(&r, fd);
	CHECK_EQ(rr_header(&r)->arena_used, 8);

	taskscope_thread_name("interner", TASKSCOPE_ROLE_OTHER);
	CHECK_EQ(rr_drain(&r, 0, got, 16), 1);
	used0 = rr_header(&r)->arena_used;
	CHECK_EQ(used0, 8 + 2 + strlen("interner") + 1);

	/* The same site, used three times: interned once. */
	for (int i = 0; i < 3; i++)
		taskscope_task_spawn(100 + i, 7, TASKSCOPE_KIND_LOCAL, &site);
	used1 = rr_header(&r)->arena_used;
	CHECK_EQ(rr_drain(&r, 0, got, 16), 3);
	CHECK(got[0].a != 0 && got[0].c != 0);
	for (int i = 0; i < 3; i++) {
		CHECK_EQ(got[i].type, TS_REC_SPAWN);
		CHECK_EQ(got[i].task, 100 + i);
		CHECK_EQ(got[i].b, 7);
		CHECK_EQ(got[i].flags, TASKSCOPE_KIND_LOCAL);
		CHECK_EQ(got[i].a, got[0].a);
		CHECK_EQ(got[i].c, got[0].c);
	}
	CHECK(strcmp(rr_string(&r, got[0].a), "job") == 0);
	check_loc(&r, (uint32_t)got[0].c, "test-intern.c", site_line);
	CHECK_EQ(used1 - used0, (2 + 3 + 1) + (2 + strlen(rr_string(&r, (uint32_t)got[0].c)) + 1));

	/* A resource site shares the mechanism. */
	taskscope_resource_new(0xabc, TASKSCOPE_RES_CHANNEL, &site);
	CHECK_EQ(rr_header(&r)->arena_used, used1);
	CHECK_EQ(rr_drain(&r, 0, got, 16), 1);
	CHECK_EQ(got[0].type, TS_REC_RESOURCE_NEW);
	CHECK_EQ(got[0].flags, TASKSCOPE_RES_CHANNEL);
	CHECK(strcmp(rr_string(&r, got[0].a), "job") == 0);

	/* A path longer than a string may be keeps its end and the line. */
	memset(long_file, 'd', sizeof(long_file) - 1);
	memcpy(long_file + sizeof(long_file) - 8, "/tail.c", 8);
	taskscope_task_spawn(200, 0, 0, &far);
	CHECK_EQ(rr_drain(&r, 0, got, 16), 1);
	check_loc(&r, (uint32_t)got[0].c, "ddd/tail.c", 4242);
	CHECK_EQ(strlen(rr_string(&r, (uint32_t)got[0].c)), TS_STRING_MAX);

	/* taskscope_intern: copies, cuts at TS_STRING_MAX, NULL is 0. */
	CHECK_EQ(taskscope_intern(NULL), 0);
	id = taskscope_intern("");
	CHECK(id != 0 && strcmp(rr_string(&r, id), "") == 0);
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	id = taskscope_intern(big);
	CHECK(id != 0);
	CHECK_EQ(strlen(rr_string(&r, id)), TS_STRING_MAX);
	CHECK_EQ(rr_header(&r)->arena_full, 0);

	/* Fill the arena: refusals return 0, are counted, never overflow. */
	uint32_t last = 0;
	int stored = 0;

	while ((id = taskscope_intern("0123456789abcdef")) != 0) {
		CHECK(id > last);
		CHECK(strcmp(rr_string(&r, id), "0123456789abcdef") == 0);
		last = id;
		stored++;
	}
	CHECK(stored > 0);
	CHECK_EQ(rr_header(&r)->arena_full, 1);
	CHECK(rr_header(&r)->arena_used <= r.arena);
	CHECK(r.arena - rr_header(&r)->arena_used < 2 + 16 + 1);
	CHECK_EQ(taskscope_intern("0123456789abcdef"), 0);
	CHECK_EQ(rr_header(&r)->arena_full, 2);
	/* A shorter string may still fit in what is left. */
	if (r.arena - rr_header(&r)->arena_used >= 3)
		CHECK(taskscope_intern("") != 0);
	/* A new site in a full arena: the event still goes out, with id 0
	 * for strings that do not fit, and the site is not retried. */
	{
		TASKSCOPE_SITE(late, "late-site-name-that-does-not-fit");
		uint64_t full_before;

		taskscope_task_spawn(300, 0, 0, &late);
		full_before = rr_header(&r)->arena_full;
		taskscope_task_spawn(301, 0, 0, &late);
		CHECK_EQ(rr_header(&r)->arena_full, full_before);
		CHECK_EQ(rr_drain(&r, 0, got, 16), 2);
		CHECK_EQ(got[0].a, 0);
		CHECK_EQ(got[1].a, 0);
		CHECK_EQ(got[1].task, 301);
	}
	rr_close(&r);
	close(fd);
	ts_shim_detach();

	/* Detached: interning is refused without touching anything. */
	CHECK_EQ(taskscope_intern("nothing"), 0);

	/* A new region: the same site gets ids valid in the new arena. */
	CHECK(ts_shim_attach_memfd(1, 16, 4096, &fd) == 0);
	rr_open(&r, fd);
	taskscope_task_spawn(400, 0, 0, &site);
	CHECK_EQ(rr_drain(&r, 0, got, 16), 2);
	CHECK_EQ(got[0].type, TS_REC_THREAD);
	CHECK(strcmp(rr_string(&r, got[0].a), "interner") == 0);
	CHECK_EQ(got[1].type, TS_REC_SPAWN);
	CHECK(strcmp(rr_string(&r, got[1].a), "job") == 0);
	check_loc(&r, (uint32_t)got[1].c, "test-intern.c", site_line);
	rr_close(&r);
	close(fd);
	ts_shim_detach();
	printf("ok: interning once, truncation, full arena, re-attach\n");
	return 0;
}
