/*
 * symbolize_maps.c: /proc/PID/maps, read once per refresh and used twice:
 * parsed into the address ranges the unwinder checks (which mapping holds
 * a stack), and handed to libdwfl as the list of modules.
 *
 * What libdwfl is given differs from the raw file in three ways:
 *  - paths are prefixed with /proc/PID/root, so a target in another mount
 *    namespace (a container) has its own files opened, not ours;
 *  - consecutive mappings of one file are split where a mapping starts
 *    over at file offset 0, and only the run with executable code is
 *    kept: libdwfl would otherwise merge a private mmap of the file (a
 *    program reading an ELF file, libelf in the target itself) with the
 *    loaded image and compute a wrong load address for the whole module;
 *  - a file deleted since it was mapped is opened through
 *    /proc/PID/map_files (root only), and shown as "<path> (deleted)";
 *  - the vDSO is reported as "[vdso: PID]", which libdwfl reads from
 *    /proc/PID/mem.
 * The file is from the kernel, but its paths are names the target chose:
 * lines are parsed with bounds and anything odd is skipped.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "collector/strpool.h"
#include "collector/symbolize_internal.h"

#define MAPS_MAX (16u << 20) /* a larger /proc/PID/maps is refused */
#define DELETED " (deleted)"
#define DELETED_LEN (sizeof(DELETED) - 1)

int ts_symbolizer_maps_read(uint32_t pid, char **out, size_t *len)
{
	char path[64], *buf = NULL;
	size_t cap = 0, n = 0;
	int fd, rc = 0;

	snprintf(path, sizeof(path), "/proc/%" PRIu32 "/maps", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	for (;;) {
		ssize_t r;
		if (cap - n < 4096) {
			char *nb;
			if (cap >= MAPS_MAX) {
				rc = -EFBIG;
				goto cleanup;
			}
			cap = cap ? cap * 2 : 16384;
			nb = realloc(buf, cap + 1);
			if (!nb) {
				rc = -ENOMEM;
				goto cleanup;
			}
			buf = nb;
		}
		r = read(fd, buf + n, cap - n);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			rc = -errno;
			goto cleanup;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	buf[n] = '\0';
	*out = buf;
	*len = n;
	buf = NULL;
cleanup:
	free(buf);
	close(fd);
	return rc;
}

/* One parsed line; `path` points into the text (up to the newline). */
struct line {
	uint64_t start, end, offset, ino;
	unsigned dmaj, dmin;
	char perms[5];
	const char *text, *path;
	size_t len, path_len;
	bool keep;
};

static bool parse_line(const char *p, size_t len, struct line *l)
{
	unsigned long long a, b, off, ino;
	char tmp[512];
	int path_at = -1;

	if (len >= sizeof(tmp))
		len = sizeof(tmp) - 1; /* the fields we parse come first */
	memcpy(tmp, p, len);
	tmp[len] = '\0';
	if (sscanf(tmp, "%llx-%llx %4s %llx %x:%x %llu %n", &a, &b, l->perms, &off, &l->dmaj, &l->dmin, &ino,
		   &path_at) < 7 || a >= b)
		return false;
	l->start = a;
	l->end = b;
	l->offset = off;
	l->ino = ino;
	l->path = path_at > 0 && (size_t)path_at < len ? p + path_at : NULL;
	return true;
}

int ts_symbolizer_maps_parse(const char *text, size_t text_len, struct ts_sym_map **out, size_t *count)
{
	struct ts_sym_map *v = NULL;
	size_t n = 0, cap = 0;
	const char *p = text, *end = text + text_len;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
		struct line l;
		if (parse_line(p, len, &l)) {
			if (n == cap) {
				struct ts_sym_map *nv;
				cap = cap ? cap * 2 : 64;
				nv = realloc(v, cap * sizeof(*v));
				if (!nv) {
					free(v);
					return -ENOMEM;
				}
				v = nv;
			}
			v[n++] = (struct ts_sym_map){
				.start = l.start, .end = l.end, .readable = l.perms[0] == 'r',
				.path_off = l.path ? (size_t)(l.path - text) : 0,
				.path_len = l.path ? len - (size_t)(l.path - p) : 0,
			};
		}
		p += len + 1;
	}
	*out = v;
	*count = n;
	return 0;
}

static bool same_file(const struct line *a, const struct line *b)
{
	return a->path && b->path && a->ino && a->ino == b->ino && a->dmaj == b->dmaj && a->dmin == b->dmin &&
	       a->path_len == b->path_len && memcmp(a->path, b->path, a->path_len) == 0;
}

/* Within each group of consecutive mappings of one file, keep only the
 * runs (split at offset 0) that hold executable code, when there is one. */
static void choose_runs(struct line *v, size_t n)
{
	for (size_t g = 0; g < n;) {
		size_t ge = g + 1;
		bool split = false, any_exec = false;
		while (ge < n && same_file(&v[g], &v[ge])) {
			if (v[ge].offset == 0)
				split = true;
			ge++;
		}
		for (size_t i = g; i < ge; i++) {
			v[i].keep = true;
			any_exec |= v[i].perms[2] == 'x';
		}
		if (split && any_exec) {
			for (size_t r = g; r < ge;) {
				size_t re = r + 1;
				bool exec = v[r].perms[2] == 'x';
				while (re < ge && v[re].offset != 0)
					exec |= v[re++].perms[2] == 'x';
				for (size_t i = r; i < re; i++)
					v[i].keep = exec;
				r = re;
			}
		}
		g = ge;
	}
}

static int append(char **buf, size_t *len, size_t *cap, const char *s, size_t n)
{
	if (*len + n + 1 > *cap) {
		size_t nc = (*cap ? *cap * 2 : 16384);
		char *nb;
		while (nc < *len + n + 1)
			nc *= 2;
		nb = realloc(*buf, nc);
		if (!nb)
			return -ENOMEM;
		*buf = nb;
		*cap = nc;
	}
	memcpy(*buf + *len, s, n);
	*len += n;
	(*buf)[*len] = '\0';
	return 0;
}

int ts_symbolizer_maps_report(Dwfl *dwfl, uint32_t pid, const char *text, size_t text_len)
{
	struct line *v = NULL;
	size_t n = 0, cap = 0, olen = 0, ocap = 0;
	const char *p = text, *end = text + text_len;
	uint64_t vdso_start = 0, vdso_end = 0;
	char *outbuf = NULL, prefix[48], vdso_name[48];
	FILE *f = NULL;
	int rc = 0;

	snprintf(prefix, sizeof(prefix), "/proc/%" PRIu32 "/root", pid);
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
		struct line l = { 0 };
		if (parse_line(p, len, &l)) {
			l.text = p;
			l.len = len;
			l.path_len = l.path ? len - (size_t)(l.path - p) : 0;
			if (l.path && l.path_len == 6 && memcmp(l.path, "[vdso]", 6) == 0) {
				vdso_start = l.start;
				vdso_end = l.end;
			}
			if (n == cap) {
				struct line *nv;
				cap = cap ? cap * 2 : 64;
				nv = realloc(v, cap * sizeof(*v));
				if (!nv) {
					rc = -ENOMEM;
					goto cleanup;
				}
				v = nv;
			}
			v[n++] = l;
		}
		p += len + 1;
	}
	choose_runs(v, n);
	for (size_t i = 0, first = 0; i < n; i++) {
		size_t head;
		char name[80];
		bool deleted;

		if (!v[i].keep || !v[i].path || v[i].path[0] != '/')
			continue;
		if (i == 0 || !v[i - 1].keep || !same_file(&v[i - 1], &v[i]))
			first = i; /* the module's first mapping */
		head = (size_t)(v[i].path - v[i].text);
		deleted = v[i].path_len > DELETED_LEN &&
			  memcmp(v[i].path + v[i].path_len - DELETED_LEN, DELETED, DELETED_LEN) == 0;
		/* a file deleted since it was mapped (an upgraded package) is
		 * still reachable through the mapping: /proc/PID/map_files; every
		 * line of the module must carry the same name */
		if (deleted)
			snprintf(name, sizeof(name), "/proc/%" PRIu32 "/map_files/%" PRIx64 "-%" PRIx64, pid,
				 v[first].start, v[first].end);
		if (append(&outbuf, &olen, &ocap, v[i].text, head) < 0 ||
		    (deleted ? append(&outbuf, &olen, &ocap, name, strlen(name))
			     : append(&outbuf, &olen, &ocap, prefix, strlen(prefix)) < 0 ||
				       append(&outbuf, &olen, &ocap, v[i].path, v[i].path_len)) < 0 ||
		    append(&outbuf, &olen, &ocap, "\n", 1) < 0) {
			rc = -ENOMEM;
			goto cleanup;
		}
	}
	if (!outbuf && append(&outbuf, &olen, &ocap, "", 0) < 0) {
		rc = -ENOMEM;
		goto cleanup;
	}
	f = fmemopen(outbuf, olen ? olen : 1, "r");
	if (!f) {
		rc = -errno;
		goto cleanup;
	}
	if (olen) {
		rc = dwfl_linux_proc_maps_report(dwfl, f);
		if (rc != 0) {
			rc = rc > 0 ? -rc : -EIO;
			goto cleanup;
		}
	}
	if (vdso_start) {
		snprintf(vdso_name, sizeof(vdso_name), "[vdso: %" PRIu32 "]", pid);
		if (!dwfl_report_module(dwfl, vdso_name, vdso_start, vdso_end))
			rc = -EIO;
	}
cleanup:
	if (f)
		fclose(f);
	free(outbuf);
	free(v);
	return rc;
}

/* The target's own path for a module name we gave libdwfl. */
const char *ts_symbolizer_module_name(struct ts_symbolizer *s, const char *name)
{
	char prefix[48];
	int n;
	unsigned long long start;
	size_t m;

	if (!name)
		return NULL;
	if (strncmp(name, "[vdso: ", 7) == 0)
		return "[vdso]";
	n = snprintf(prefix, sizeof(prefix), "/proc/%" PRIu32 "/root/", s->pid);
	if (n > 0 && strncmp(name, prefix, (size_t)n) == 0)
		return ts_strpool_intern(s->strings, name + n - 1, strlen(name + n - 1));
	n = snprintf(prefix, sizeof(prefix), "/proc/%" PRIu32 "/map_files/", s->pid);
	if (n > 0 && strncmp(name, prefix, (size_t)n) == 0 && sscanf(name + n, "%llx-", &start) == 1 &&
	    (m = ts_symbolizer_find_map(s, start)) != SIZE_MAX && s->maps[m].path_len &&
	    s->maps[m].path_off + s->maps[m].path_len <= s->maps_len)
		return ts_strpool_intern(s->strings, s->maps_text + s->maps[m].path_off, s->maps[m].path_len);
	return ts_strpool_intern(s->strings, name, strlen(name));
}

size_t ts_symbolizer_find_map(const struct ts_symbolizer *s, uint64_t addr)
{
	size_t lo = 0, hi = s->nmaps;

	/* /proc/PID/maps is sorted by address */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (addr < s->maps[mid].start)
			hi = mid;
		else if (addr >= s->maps[mid].end)
			lo = mid + 1;
		else
			return mid;
	}
	return SIZE_MAX;
}
