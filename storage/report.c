/*
 * report.c: the named reports of `taskscope query --report NAME`.
 *
 * Each report is one SQL statement over the public views only (so it is
 * also an example of what users can write themselves, and docs/schema.md
 * prints the same text). Task names come from task_summary through a
 * correlated lookup on its primary key, taking the task life that had
 * begun by then (a re-used id is a different task); the "top" reports
 * pick their rows first, so the lookup runs for those rows only.
 */
#include "storage/query.h"
#include "storage/internal.h"

#include <errno.h>
#include <string.h>

#define TASK_NAME(alias, at) \
	"coalesce((SELECT t.name FROM task_summary t WHERE t.pid = " alias ".pid" \
	" AND t.task_id = " alias ".task_id AND t.spawned_ns <= " at \
	" ORDER BY t.spawned_ns DESC LIMIT 1), '')"

static const struct ts_query_report_info reports[] = {
	{
		"summary", "rows per view, dropped events, and warnings by kind",
		"SELECT 'processes' AS item, count(*) AS count FROM processes"
		" UNION ALL SELECT 'threads', count(*) FROM threads"
		" UNION ALL SELECT 'tasks', count(*) FROM task_summary"
		" UNION ALL SELECT 'poll_spans', count(*) FROM poll_spans"
		" UNION ALL SELECT 'lock_spans', count(*) FROM lock_spans"
		" UNION ALL SELECT 'warnings', count(*) FROM warnings"
		" UNION ALL SELECT 'events_dropped', coalesce(sum(events_dropped), 0) FROM drops"
		" UNION ALL SELECT * FROM (SELECT 'warnings.' || kind, count(*) FROM warnings"
		" GROUP BY kind ORDER BY kind)",
	},
	{
		"slow-polls", "the 20 longest polls, with task and thread names",
		"SELECT p.pid, p.task_id, " TASK_NAME("p", "p.start_ns") " AS task_name,"
		" p.tid, coalesce(th.name, '') AS thread_name, p.start_ns, p.duration_ns,"
		" p.on_cpu_ns, p.ready"
		" FROM (SELECT * FROM poll_spans ORDER BY duration_ns DESC, start_ns LIMIT 20) p"
		" LEFT JOIN threads th ON th.pid = p.pid AND th.tid = p.tid"
		" ORDER BY p.duration_ns DESC, p.start_ns",
	},
	{
		"warnings", "every warning in time order, with the task's name",
		"SELECT w.ts_ns, w.pid, w.kind, w.task_id,"
		" CASE WHEN w.task_id IS NULL THEN '' ELSE " TASK_NAME("w", "w.ts_ns") " END AS task_name,"
		" w.tid, w.duration_ns, w.detail"
		" FROM warnings w ORDER BY w.ts_ns, w.pid",
	},
	{
		"tasks", "the 20 tasks that were busy (polled) longest",
		"SELECT pid, task_id, name, location, kind, outcome, polls, busy_ns, sched_ns, idle_ns,"
		" max_poll_ns, wakes, self_wakes"
		" FROM task_summary ORDER BY busy_ns DESC, spawned_ns LIMIT 20",
	},
	{
		"locks", "the 20 locks tasks waited on longest: waits, holds, who held them",
		"SELECT pid, lock_id, lock_name, count(*) AS acquisitions,"
		" count(wait_start_ns) AS waited, sum(wait_ns) AS wait_ns, max(wait_ns) AS max_wait_ns,"
		" sum(hold_ns) AS hold_ns, max(hold_ns) AS max_hold_ns,"
		" count(DISTINCT task_id) AS tasks"
		" FROM lock_spans GROUP BY pid, lock_id, lock_name"
		" ORDER BY wait_ns DESC, hold_ns DESC LIMIT 20",
	},
};

const struct ts_query_report_info *ts_query_reports(size_t *count)
{
	*count = sizeof(reports) / sizeof(reports[0]);
	return reports;
}

int ts_query_report(const char *db, const char *name, bool json, FILE *out, char *err, size_t errlen)
{
	size_t n = sizeof(reports) / sizeof(reports[0]), used = 0;

	for (size_t i = 0; name && i < n; i++)
		if (strcmp(name, reports[i].name) == 0)
			return ts_query_run(db, reports[i].sql, json, out, err, errlen);
	if (err && errlen) {
		used = (size_t)snprintf(err, errlen, "unknown report '%s'; reports:", name ? name : "");
		for (size_t i = 0; i < n && used < errlen; i++)
			used += (size_t)snprintf(err + used, errlen - used, "%s %s", i ? "," : "",
						 reports[i].name);
	}
	return -EINVAL;
}
