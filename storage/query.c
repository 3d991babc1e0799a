/*
 * query.c: run SQL on a recording and print the rows.
 *
 * Text output is aligned columns; to align without holding a huge result in
 * memory, the widths come from the first PREVIEW_ROWS rows and later rows
 * stream out with the same widths (a longer value just pushes its row
 * wider). JSON output is one array of objects per statement, streamed.
 * Strings in a recording came from untrusted targets: text output replaces
 * control bytes and invalid UTF-8 with '?', so a task name cannot move the
 * terminal's cursor; JSON output escapes them and stays valid UTF-8.
 */
#include "storage/query.h"
#include "storage/internal.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define PREVIEW_ROWS 1000

/* Length of the valid UTF-8 sequence at s (at most n bytes), 0 if invalid. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	size_t len;
	uint32_t cp;

	if (s[0] < 0x80)
		return 1;
	if ((s[0] & 0xe0) == 0xc0)
		len = 2, cp = s[0] & 0x1f;
	else if ((s[0] & 0xf0) == 0xe0)
		len = 3, cp = s[0] & 0x0f;
	else if ((s[0] & 0xf8) == 0xf0)
		len = 4, cp = s[0] & 0x07;
	else
		return 0;
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
	    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

/* One cell as printable text (malloc'd), and its width in code points. */
static char *cell_text(sqlite3_stmt *st, int col, size_t *width)
{
	const unsigned char *s;
	char *out = NULL;
	size_t n, w = 0, k;
	double d;

	switch (sqlite3_column_type(st, col)) {
	case SQLITE_NULL:
		out = strdup("NULL");
		break;
	case SQLITE_INTEGER:
		if (asprintf(&out, "%lld", (long long)sqlite3_column_int64(st, col)) < 0)
			out = NULL;
		break;
	case SQLITE_FLOAT:
		d = sqlite3_column_double(st, col);
		if (asprintf(&out, "%.15g", d) < 0)
			out = NULL;
		break;
	case SQLITE_BLOB:
		s = sqlite3_column_blob(st, col);
		n = (size_t)sqlite3_column_bytes(st, col);
		out = malloc(n * 2 + 4);
		if (!out)
			break;
		k = (size_t)sprintf(out, "x'");
		for (size_t i = 0; i < n; i++)
			k += (size_t)sprintf(out + k, "%02x", s[i]);
		sprintf(out + k, "'");
		break;
	default:
		s = sqlite3_column_text(st, col);
		n = (size_t)sqlite3_column_bytes(st, col);
		out = malloc(n + 1);
		if (!out)
			break;
		k = 0;
		if (!s)
			n = 0;
		for (size_t i = 0; i < n;) {
			size_t len = s[i] >= 0x20 && s[i] != 0x7f ? utf8_len(s + i, n - i) : 0;

			if (len == 0) {
				out[k++] = '?';
				i++;
			} else {
				memcpy(out + k, s + i, len);
				k += len;
				i += len;
			}
			w++;
		}
		out[k] = '\0';
		*width = w;
		return out;
	}
	*width = out ? strlen(out) : 0;
	return out;
}

static void print_padded(FILE *out, const char *s, size_t width, size_t target, bool right)
{
	size_t pad = target > width ? target - width : 0;

	if (right)
		fprintf(out, "%*s%s", (int)pad, "", s);
	else
		fprintf(out, "%s%*s", s, (int)pad, "");
}

struct text_table {
	int cols;
	size_t *widths;
	bool *numeric;             /* right-aligned: every preview value was a number or NULL */
	char **cells;              /* preview rows, row-major */
	size_t *cell_widths;
	size_t rows;
};

static void text_print_row(FILE *out, const struct text_table *t, char **cells, const size_t *cw)
{
	for (int c = 0; c < t->cols; c++) {
		bool last = c == t->cols - 1;

		if (c)
			fputs("  ", out);
		if (last && !t->numeric[c])
			fputs(cells[c], out);
		else
			print_padded(out, cells[c], cw[c], t->widths[c], t->numeric[c]);
	}
	fputc('\n', out);
}

static void text_print_header(FILE *out, sqlite3_stmt *st, const struct text_table *t)
{
	for (int c = 0; c < t->cols; c++) {
		const char *name = sqlite3_column_name(st, c);

		if (c)
			fputs("  ", out);
		if (c == t->cols - 1 && !t->numeric[c])
			fputs(name, out);   /* no trailing blanks */
		else
			print_padded(out, name, strlen(name), t->widths[c], t->numeric[c]);
	}
	fputc('\n', out);
	for (int c = 0; c < t->cols; c++) {
		if (c)
			fputs("  ", out);
		for (size_t i = 0; i < t->widths[c]; i++)
			fputc('-', out);
	}
	fputc('\n', out);
}

/* Fetches one row's cells; returns 0 or -ENOMEM. */
static int text_fetch(sqlite3_stmt *st, int cols, char **cells, size_t *cw)
{
	for (int c = 0; c < cols; c++) {
		cells[c] = cell_text(st, c, &cw[c]);
		if (!cells[c])
			return -ENOMEM;
	}
	return 0;
}

static void free_cells(char **cells, size_t n)
{
	for (size_t i = 0; cells && i < n; i++)
		free(cells[i]);
}

/* Steps `st` to the end printing text; returns the last sqlite3_step code
 * (SQLITE_DONE on success) or -ENOMEM. */
static int print_text(sqlite3_stmt *st, FILE *out)
{
	struct text_table t = { .cols = sqlite3_column_count(st) };
	size_t cap = 0, ncols;
	char **row = NULL;
	size_t *rw = NULL;
	int rc, r = 0;

	ncols = (size_t)t.cols;
	t.widths = calloc(ncols, sizeof(*t.widths));
	t.numeric = calloc(ncols, sizeof(*t.numeric));
	if (!t.widths || !t.numeric) {
		rc = -ENOMEM;
		goto cleanup;
	}
	for (size_t c = 0; c < ncols; c++) {
		t.widths[c] = strlen(sqlite3_column_name(st, (int)c));
		t.numeric[c] = true;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW && t.rows < PREVIEW_ROWS) {
		if (t.rows == cap) {
			size_t ncap = cap ? cap * 2 : 16;
			char **cells = realloc(t.cells, ncap * ncols * sizeof(*cells));
			size_t *cw;

			if (!cells) {
				rc = -ENOMEM;
				goto cleanup;
			}
			t.cells = cells;
			cw = realloc(t.cell_widths, ncap * ncols * sizeof(*cw));
			if (!cw) {
				rc = -ENOMEM;
				goto cleanup;
			}
			t.cell_widths = cw;
			cap = ncap;
		}
		for (size_t c = 0; c < ncols; c++) {
			int type = sqlite3_column_type(st, (int)c);

			if (type != SQLITE_INTEGER && type != SQLITE_FLOAT && type != SQLITE_NULL)
				t.numeric[c] = false;
		}
		memset(&t.cells[t.rows * ncols], 0, ncols * sizeof(*t.cells));
		r = text_fetch(st, t.cols, &t.cells[t.rows * ncols], &t.cell_widths[t.rows * ncols]);
		t.rows++;
		if (r < 0) {
			rc = r;
			goto cleanup;
		}
		for (size_t c = 0; c < ncols; c++)
			if (t.cell_widths[(t.rows - 1) * ncols + c] > t.widths[c])
				t.widths[c] = t.cell_widths[(t.rows - 1) * ncols + c];
	}
	text_print_header(out, st, &t);
	for (size_t i = 0; i < t.rows; i++)
		text_print_row(out, &t, &t.cells[i * ncols], &t.cell_widths[i * ncols]);
	if (rc != SQLITE_ROW)
		goto cleanup;
	/* past the preview: stream with the preview's widths */
	row = calloc(ncols, sizeof(*row));
	rw = calloc(ncols, sizeof(*rw));
	if (!row || !rw) {
		rc = -ENOMEM;
		goto cleanup;
	}
	do {
		r = text_fetch(st, t.cols, row, rw);
		if (r == 0)
			text_print_row(out, &t, row, rw);
		free_cells(row, ncols);
		memset(row, 0, ncols * sizeof(*row));
		if (r < 0) {
			rc = r;
			goto cleanup;
		}
	} while ((rc = sqlite3_step(st)) == SQLITE_ROW);
cleanup:
	free_cells(t.cells, t.rows * ncols);
	free(t.cells);
	free(t.cell_widths);
	free(t.widths);
	free(t.numeric);
	free(row);
	free(rw);
	return rc;
}

static void json_string(FILE *out, const unsigned char *s, size_t n)
{
	fputc('"', out);
	for (size_t i = 0; i < n;) {
		size_t len = utf8_len(s + i, n - i);

		if (len == 0) {
			fputs("\\ufffd", out);
			i++;
			continue;
		}
		if (len > 1) {
			fwrite(s + i, 1, len, out);
		} else if (s[i] == '"' || s[i] == '\\') {
			fputc('\\', out);
			fputc(s[i], out);
		} else if (s[i] == '\n') {
			fputs("\\n", out);
		} else if (s[i] == '\t') {
			fputs("\\t", out);
		} else if (s[i] < 0x20 || s[i] == 0x7f) {
			fprintf(out, "\\u%04x", s[i]);
		} else {
			fputc(s[i], out);
		}
		i += len;
	}
	fputc('"', out);
}

static void json_value(FILE *out, sqlite3_stmt *st, int c)
{
	const unsigned char *b;
	double d;
	int n;

	switch (sqlite3_column_type(st, c)) {
	case SQLITE_NULL:
		fputs("null", out);
		break;
	case SQLITE_INTEGER:
		fprintf(out, "%lld", (long long)sqlite3_column_int64(st, c));
		break;
	case SQLITE_FLOAT:
		d = sqlite3_column_double(st, c);
		if (isfinite(d))
			fprintf(out, "%.17g", d);
		else
			fputs("null", out);
		break;
	case SQLITE_BLOB:
		b = sqlite3_column_blob(st, c);
		n = sqlite3_column_bytes(st, c);
		fputc('"', out);
		for (int i = 0; i < n; i++)
			fprintf(out, "%02x", b[i]);
		fputc('"', out);
		break;
	default:
		b = sqlite3_column_text(st, c);
		json_string(out, b ? b : (const unsigned char *)"", (size_t)sqlite3_column_bytes(st, c));
		break;
	}
}

static int print_json(sqlite3_stmt *st, FILE *out)
{
	int cols = sqlite3_column_count(st), rc;
	bool first = true;

	fputc('[', out);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		fputs(first ? "\n  {" : ",\n  {", out);
		first = false;
		for (int c = 0; c < cols; c++) {
			const char *name = sqlite3_column_name(st, c);

			if (c)
				fputs(", ", out);
			json_string(out, (const unsigned char *)name, strlen(name));
			fputs(": ", out);
			json_value(out, st, c);
		}
		fputc('}', out);
	}
	fputs(first ? "]\n" : "\n]\n", out);
	return rc;
}

/* SQLite's message as one line. */
static int sql_error(sqlite3 *db, int rc, char *err, size_t errlen)
{
	if (err && errlen) {
		snprintf(err, errlen, "SQL error: %s", sqlite3_errmsg(db));
		for (char *p = err; *p; p++)
			if (*p == '\n' || *p == '\r')
				*p = ' ';
	}
	return rc < 0 ? rc : (ts_storage_errno(rc) ? ts_storage_errno(rc) : -EINVAL);
}

int ts_query_exec(sqlite3 *db, const char *sql, bool json, FILE *out, char *err, size_t errlen)
{
	const char *tail = sql;
	sqlite3_stmt *st = NULL;
	int rc, r = 0;

	while (tail && *tail) {
		rc = sqlite3_prepare_v2(db, tail, -1, &st, &tail);
		if (rc != SQLITE_OK) {
			r = sql_error(db, rc, err, errlen);
			goto cleanup;
		}
		if (!st)   /* whitespace or a comment */
			continue;
		if (sqlite3_column_count(st) == 0)
			rc = sqlite3_step(st);
		else
			rc = json ? print_json(st, out) : print_text(st, out);
		if (rc != SQLITE_DONE) {
			r = rc == -ENOMEM ? rc : sql_error(db, rc, err, errlen);
			if (rc == -ENOMEM && err && errlen)
				snprintf(err, errlen, "out of memory printing the result");
			goto cleanup;
		}
		sqlite3_finalize(st);
		st = NULL;
	}
cleanup:
	sqlite3_finalize(st);
	fflush(out);
	return r;
}

int ts_query_open(const char *path, sqlite3 **out, char *err, size_t errlen)
{
	return ts_storage_db_open(path, true, out, err, errlen);
}

int ts_query_run(const char *path, const char *sql, bool json, FILE *out, char *err, size_t errlen)
{
	sqlite3 *db = NULL;
	int r;

	if (!sql || !*sql) {
		if (err && errlen)
			snprintf(err, errlen, "no SQL given; pass a statement or --report NAME");
		return -EINVAL;
	}
	r = ts_query_open(path, &db, err, errlen);
	if (r < 0)
		return r;
	r = ts_query_exec(db, sql, json, out, err, errlen);
	sqlite3_close(db);
	return r;
}
