/*
 * intern.c: strings in the shared arena, and the ids cached in call sites.
 *
 * A string is written once into the arena as [u16 length][bytes][NUL] at
 * an offset reserved with a CAS on arena_used, and that offset is its id.
 * The CAS (rather than a fetch-add) keeps arena_used within arena_size, so
 * a full arena stays exactly full and every refusal is counted once in
 * arena_full.
 *
 * A struct taskscope_site caches its two ids. Because a process may map
 * more than one region in its life (tests attach and detach; fork() drops
 * the parent's), a cached id carries the region's number in its top 8
 * bits and is re-interned when the region changed. A collector attaching
 * again to the same region reads the same arena, so the ids stay good. Arena offsets are below
 * TS_MAX_ARENA = 2^24, so the low 24 bits always hold the whole id.
 */
#include "agent/shim_internal.h"

#include <stdio.h>
#include <string.h>

#define ID_BITS 24u
#define ID_MASK ((1u << ID_BITS) - 1u)

_Static_assert(TS_MAX_ARENA <= (1u << ID_BITS), "arena offsets must fit the site id field");

uint32_t ts_shim_intern_n(const char *s, size_t n)
{
	struct ts_shm_header *h = ts_shim_header();
	uint64_t need, used;
	uint16_t len16;
	uint8_t *dst;

	if (!h || !s)
		return 0;
	if (n > TS_STRING_MAX)
		n = TS_STRING_MAX;
	need = sizeof(len16) + n + 1;
	used = __atomic_load_n(&h->arena_used, __ATOMIC_RELAXED);
	do {
		/* arena_used sits in memory the collector can write: trust
		 * only values that leave our own sizes intact. */
		if (used < 8 || used > ts_shim.arena_size || ts_shim.arena_size - used < need) {
			__atomic_fetch_add(&h->arena_full, 1, __ATOMIC_RELAXED);
			return 0;
		}
	} while (!__atomic_compare_exchange_n(&h->arena_used, &used, used + need, 1,
					      __ATOMIC_RELAXED, __ATOMIC_RELAXED));
	dst = ts_shim.base + ts_shm_arena_offset() + used;
	len16 = (uint16_t)n;
	memcpy(dst, &len16, sizeof(len16));
	memcpy(dst + sizeof(len16), s, n);
	dst[sizeof(len16) + n] = '\0';
	/* Readers learn the id through a record published with a release
	 * store after this point (or a site id stored with release). */
	return (uint32_t)used;
}

uint32_t taskscope_intern(const char *s)
{
	if (!s)
		return 0;
	return ts_shim_intern_n(s, strnlen(s, TS_STRING_MAX));
}

static uint32_t site_tag(void)
{
	return (__atomic_load_n(&ts_shim.region, __ATOMIC_ACQUIRE) % 255u) + 1u;
}

/* "file:line" into buf (TS_STRING_MAX + 1 bytes). A path too long keeps
 * its end, so the line number and file name survive. */
static size_t format_location(const char *file, uint32_t line, char *buf)
{
	char num[16];
	size_t nlen, flen, room;

	nlen = (size_t)snprintf(num, sizeof(num), ":%u", line);
	if (!file)
		file = "?";
	flen = strnlen(file, 4096);
	room = TS_STRING_MAX - nlen;
	if (flen > room) {
		file += flen - room;
		flen = room;
	}
	memcpy(buf, file, flen);
	memcpy(buf + flen, num, nlen);
	buf[flen + nlen] = '\0';
	return flen + nlen;
}

/* Return the id cached in *field for this region, interning on a miss.
 * When two threads race, the first stored id wins for both. */
static uint32_t site_field(uint32_t *field, uint32_t tag, const char *s, size_t n)
{
	uint32_t cur = __atomic_load_n(field, __ATOMIC_ACQUIRE);
	uint32_t fresh;

	if (cur >> ID_BITS == tag)
		return cur & ID_MASK;
	fresh = tag << ID_BITS | ts_shim_intern_n(s, n);
	if (!__atomic_compare_exchange_n(field, &cur, fresh, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE) &&
	    cur >> ID_BITS == tag)
		return cur & ID_MASK;
	return fresh & ID_MASK;
}

void ts_shim_site_ids(struct taskscope_site *site, uint32_t *name_id, uint32_t *loc_id)
{
	uint32_t tag, cur;

	*name_id = 0;
	*loc_id = 0;
	if (!site || !ts_shim.base)
		return;
	tag = site_tag();
	cur = __atomic_load_n(&site->name_id, __ATOMIC_ACQUIRE);
	if (cur >> ID_BITS == tag) {
		*name_id = cur & ID_MASK;
	} else {
		const char *name = site->name ? site->name : "";

		*name_id = site_field(&site->name_id, tag, name, strnlen(name, TS_STRING_MAX));
	}
	cur = __atomic_load_n(&site->loc_id, __ATOMIC_ACQUIRE);
	if (cur >> ID_BITS == tag) {
		*loc_id = cur & ID_MASK;
	} else {
		/* Formatting happens here, once per site per region. */
		char buf[TS_STRING_MAX + 1];
		size_t n = format_location(site->file, site->line, buf);

		*loc_id = site_field(&site->loc_id, tag, buf, n);
	}
}
