/*
 * test-symbolize-maps.c: what the symbolizer tells libdwfl about a
 * process's mappings (collector/symbolize_maps.c), from made-up
 * /proc/PID/maps text: paths go through /proc/PID/root; a private mmap of
 * a file just before its loaded image is not merged into the module; a
 * deleted file becomes /proc/PID/map_files/<first mapping>; the vDSO is
 * reported by name; the parsed ranges find the right mapping. Then
 * mangled and random text: errors or fewer modules, never a crash (run
 * it under ASan).
 */
#include <elfutils/libdwfl.h>
#include <stdint.h>
#include <stdlib.h>

#include "collector/strpool.h"
#include "collector/symbolize_internal.h"
#include "tests/check.h"

#define PID 4242u

static const char maps[] =
	"55d000000000-55d000001000 r--p 00000000 fe:00 100 /usr/bin/app\n"
	"55d000001000-55d000005000 r-xp 00001000 fe:00 100 /usr/bin/app\n"
	"55d000005000-55d000006000 rw-p 00005000 fe:00 100 /usr/bin/app\n"
	"55d000006000-55d000027000 rw-p 00000000 00:00 0 [heap]\n"
	/* the program mapped a copy of libfoo right below the loaded one */
	"7f0000000000-7f0000010000 rw-p 00000000 fe:00 200 /usr/lib/libfoo.so\n"
	"7f0000010000-7f0000011000 r--p 00000000 fe:00 200 /usr/lib/libfoo.so\n"
	"7f0000011000-7f0000018000 r-xp 00001000 fe:00 200 /usr/lib/libfoo.so\n"
	"7f0000018000-7f0000019000 rw-p 00008000 fe:00 200 /usr/lib/libfoo.so\n"
	"7f0000020000-7f0000021000 r--p 00000000 fe:00 300 /opt/old lib/libbar.so (deleted)\n"
	"7f0000021000-7f0000025000 r-xp 00001000 fe:00 300 /opt/old lib/libbar.so (deleted)\n"
	"7ffc00000000-7ffc00021000 rw-p 00000000 00:00 0 [stack]\n"
	"7ffc00100000-7ffc00102000 r-xp 00000000 00:00 0 [vdso]\n"
	"ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0 [vsyscall]\n";

struct seen {
	const char *name;
	Dwarf_Addr low, high;
	bool found;
};

static int visit(Dwfl_Module *mod, void **ud, const char *name, Dwarf_Addr low, void *arg)
{
	struct seen *want = arg;
	Dwarf_Addr lo, hi;

	(void)ud;
	(void)low;
	dwfl_module_info(mod, NULL, &lo, &hi, NULL, NULL, NULL, NULL);
	for (; want->name; want++) {
		if (strcmp(name, want->name) == 0) {
			CHECK_MSG(lo == want->low && hi == want->high, "%s: 0x%llx-0x%llx", name,
				  (unsigned long long)lo, (unsigned long long)hi);
			want->found = true;
			return DWARF_CB_OK;
		}
	}
	CHECK_MSG(0, "unexpected module %s", name);
	return DWARF_CB_OK;
}

static char *debuginfo_path;
static const Dwfl_Callbacks callbacks = {
	.find_elf = dwfl_linux_proc_find_elf,
	.find_debuginfo = dwfl_standard_find_debuginfo,
	.debuginfo_path = &debuginfo_path,
};

static int report(const char *text, size_t len, Dwfl **out)
{
	Dwfl *dwfl = dwfl_begin(&callbacks);
	int rc;

	dwfl_report_begin(dwfl);
	rc = ts_symbolizer_maps_report(dwfl, PID, text, len);
	dwfl_report_end(dwfl, NULL, NULL);
	*out = dwfl;
	return rc;
}

static void check_modules(void)
{
	struct seen want[] = {
		{ "/proc/4242/root/usr/bin/app", 0x55d000000000, 0x55d000006000, false },
		{ "/proc/4242/root/usr/lib/libfoo.so", 0x7f0000010000, 0x7f0000019000, false },
		{ "/proc/4242/map_files/7f0000020000-7f0000021000", 0x7f0000020000, 0x7f0000025000, false },
		{ "[vdso: 4242]", 0x7ffc00100000, 0x7ffc00102000, false },
		{ NULL, 0, 0, false },
	};
	Dwfl *dwfl;

	CHECK(report(maps, sizeof(maps) - 1, &dwfl) == 0);
	dwfl_getmodules(dwfl, visit, want, 0);
	for (int i = 0; want[i].name; i++)
		CHECK_MSG(want[i].found, "no module %s", want[i].name);
	dwfl_end(dwfl);
}

static void check_ranges(void)
{
	struct ts_symbolizer s = { .pid = PID };
	const char *name;

	CHECK(ts_symbolizer_maps_parse(maps, sizeof(maps) - 1, &s.maps, &s.nmaps) == 0);
	s.maps_text = (char *)maps;
	s.maps_len = sizeof(maps) - 1;
	CHECK(s.nmaps == 13);
	CHECK(ts_symbolizer_find_map(&s, 0x7ffc00000010) == 10);
	CHECK(ts_symbolizer_find_map(&s, 0x55d000000000) == 0);
	CHECK(ts_symbolizer_find_map(&s, 0x55d000005fff) == 2);
	CHECK(ts_symbolizer_find_map(&s, 0x7f0000019000) == SIZE_MAX);
	CHECK(ts_symbolizer_find_map(&s, 0) == SIZE_MAX);
	CHECK(s.maps[12].readable == false && s.maps[10].readable == true);
	/* module names as the target sees them */
	CHECK(ts_strpool_new(1 << 16, &s.strings) == 0);
	name = ts_symbolizer_module_name(&s, "/proc/4242/root/usr/lib/libfoo.so");
	CHECK(name && strcmp(name, "/usr/lib/libfoo.so") == 0);
	name = ts_symbolizer_module_name(&s, "/proc/4242/map_files/7f0000020000-7f0000021000");
	CHECK_MSG(name && strcmp(name, "/opt/old lib/libbar.so (deleted)") == 0, "%s", name ? name : "(null)");
	name = ts_symbolizer_module_name(&s, "[vdso: 4242]");
	CHECK(name && strcmp(name, "[vdso]") == 0);
	name = ts_symbolizer_module_name(&s, "/proc/4242/map_files/1-2");
	CHECK(name && strcmp(name, "/proc/4242/map_files/1-2") == 0);
	ts_strpool_free(s.strings);
	free(s.maps);
}

/* Truncated at every byte, then lines with random bytes. */
static void check_garbage(void)
{
	uint64_t x = 0x853c49e6748fea9bull;
	char buf[sizeof(maps)];

	for (size_t len = 0; len < sizeof(maps) - 1; len += 7) {
		struct ts_sym_map *v = NULL;
		size_t n = 0;
		Dwfl *dwfl;
		memcpy(buf, maps, len);
		buf[len] = '\0';
		report(buf, len, &dwfl);
		dwfl_end(dwfl);
		CHECK(ts_symbolizer_maps_parse(buf, len, &v, &n) == 0);
		free(v);
	}
	for (int round = 0; round < 300; round++) {
		struct ts_sym_map *v = NULL;
		size_t n = 0;
		Dwfl *dwfl;
		memcpy(buf, maps, sizeof(maps));
		for (int k = 0; k < 8; k++) {
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			buf[x % (sizeof(maps) - 1)] = (char)(x >> 32 ? x >> 32 : '0');
		}
		report(buf, sizeof(maps) - 1, &dwfl);
		dwfl_end(dwfl);
		ts_symbolizer_maps_parse(buf, sizeof(maps) - 1, &v, &n);
		free(v);
	}
}

int main(void)
{
	check_modules();
	check_ranges();
	check_garbage();
	return check_result("test-symbolize-maps");
}
