/*
 * fixture-lib.c: a shared library test-symbolize loads with dlopen after
 * making its symbolizer, to check that ts_symbolizer_refresh() picks up
 * new mappings (and their DWARF).
 */
int tsym_fixture_fn(int x);

static const int tsym_fixture_line = __LINE__; int tsym_fixture_fn(int x)
{
	return x * 5 + tsym_fixture_line;
}

int tsym_fixture_line_of_fn(void);
int tsym_fixture_line_of_fn(void)
{
	return tsym_fixture_line;
}
