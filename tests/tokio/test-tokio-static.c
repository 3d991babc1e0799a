/*
 * test-tokio-static.c: the parts of the Tokio attach that read code and
 * names without a process: where an entry probe goes (tokio_insn.c) and
 * the future type in a task's drop glue (tokio_names.c). The inputs are
 * real rustc output (objdump of Tokio 1.24's waker functions from rustc
 * 1.63 and 1.95; demangled drop glue symbols of tk-test). No root needed.
 */
#include <stdint.h>

#include "bpf/tokio_internal.h"
#include "check.h"

static void probe_points(void)
{
	/* rustc 1.95 clone_waker: mov $0x40,%eax; lock xadd %rax,(%rdi);
	 * test %rax,%rax; js: the js (emulated) at +13 */
	static const uint8_t clone95[] = { 0xb8, 0x40, 0, 0, 0, 0xf0, 0x48, 0x0f, 0xc1, 0x07,
					   0x48, 0x85, 0xc0, 0x78, 0x0b, 0x48, 0x8b, 0x05 };
	/* rustc 1.95 drop_waker: mov $-64,%rax; lock xadd; shr $6,%rax;
	 * cmp $1,%rax; je: the je at +20 */
	static const uint8_t drop95[] = { 0x48, 0xc7, 0xc0, 0xc0, 0xff, 0xff, 0xff, 0xf0, 0x48, 0x0f, 0xc1,
					  0x07, 0x48, 0xc1, 0xe8, 0x06, 0x48, 0x83, 0xf8, 0x01, 0x74, 0x06 };
	/* rustc 1.95 wake_by_ref: sub $0x18,%rsp; mov (%rdi),%rax; lea; lea;
	 * data16 prefixes: unknown forms before any emulated one: the entry */
	static const uint8_t wbr95[] = { 0x48, 0x83, 0xec, 0x18, 0x48, 0x8b, 0x07, 0x48, 0x8d, 0x4c, 0x24,
					 0x08, 0x48, 0x8d, 0x54, 0x24, 0x10, 0x66, 0x66, 0x2e, 0x0f, 0x1f };
	/* rustc 1.63 clone_waker starts with push %rax: the entry itself */
	static const uint8_t clone63[] = { 0x50, 0xb8, 0x40, 0, 0, 0 };
	/* push %r14 (REX.B): emulated, the entry */
	static const uint8_t push_r14[] = { 0x41, 0x56, 0x53 };
	/* mov %rax,%rdi before the jcc: rdi is no longer the argument */
	static const uint8_t clobber[] = { 0x48, 0x89, 0xc7, 0x74, 0x06 };
	/* lea 0x8(%rsp),%rdi: written through the reg field */
	static const uint8_t clobber_lea[] = { 0x48, 0x8d, 0x7c, 0x24, 0x08, 0x74, 0x06 };
	/* mov $imm,%edi */
	static const uint8_t clobber_imm[] = { 0xbf, 1, 0, 0, 0, 0x74, 0x06 };
	/* cut in the middle of an instruction */
	static const uint8_t truncated[] = { 0xb8, 0x40, 0 };
	/* a 0x0f 0x8x jcc rel32 after a test */
	static const uint8_t jcc32[] = { 0x48, 0x85, 0xff, 0x0f, 0x84, 0, 0, 0, 0 };

	CHECK(ts_tokio_probe_point(clone95, sizeof(clone95)) == 13);
	CHECK(ts_tokio_probe_point(drop95, sizeof(drop95)) == 20);
	CHECK(ts_tokio_probe_point(wbr95, sizeof(wbr95)) == 0);
	CHECK(ts_tokio_probe_point(clone63, sizeof(clone63)) == 0);
	CHECK(ts_tokio_probe_point(push_r14, sizeof(push_r14)) == 0);
	CHECK(ts_tokio_probe_point(clobber, sizeof(clobber)) == 0);
	CHECK(ts_tokio_probe_point(clobber_lea, sizeof(clobber_lea)) == 0);
	CHECK(ts_tokio_probe_point(clobber_imm, sizeof(clobber_imm)) == 0);
	CHECK(ts_tokio_probe_point(truncated, sizeof(truncated)) == 0);
	CHECK(ts_tokio_probe_point(jcc32, sizeof(jcc32)) == 3);
	CHECK(ts_tokio_probe_point(clone95, 0) == 0);
}

static void glue_types(void)
{
	char out[512];

	CHECK(ts_tokio_glue_type("core::ptr::drop_in_place<tokio::runtime::task::core::Cell<tk_test::Counted<"
				 "tk_test::alpha::{{closure}}>,alloc::sync::Arc<tokio::runtime::scheduler::"
				 "multi_thread::handle::Handle>>>", out, sizeof(out)));
	CHECK_STR(out, "tk_test::Counted<tk_test::alpha::{{closure}}>");
	/* rustc 1.63: CoreStage, and async fns wrapped in GenFuture */
	CHECK(ts_tokio_glue_type("core::ptr::drop_in_place<tokio::runtime::task::core::CoreStage<tk_test::Counted<"
				 "core::future::from_generator::GenFuture<tk_test::alpha::{{closure}}>>>>",
				 out, sizeof(out)));
	CHECK_STR(out, "tk_test::Counted<tk_test::alpha::{{closure}}>");
	CHECK(ts_tokio_glue_type("core::ptr::drop_in_place<tokio::runtime::task::core::Stage<core::future::"
				 "from_generator::GenFuture<tk_test::tick::{{closure}}>>>", out, sizeof(out)));
	CHECK_STR(out, "tk_test::tick");
	CHECK(ts_tokio_glue_type("core::ptr::drop_in_place<tokio::runtime::task::core::Cell<tokio::runtime::blocking::"
				 "task::BlockingTask<tk_test::workload::{{closure}}::{{closure}}>,tokio::runtime::"
				 "blocking::schedule::BlockingSchedule>>", out, sizeof(out)));
	CHECK_STR(out, "tokio::runtime::blocking::task::BlockingTask<tk_test::workload::{{closure}}::{{closure}}>");
	/* tuples and nested generics keep their commas */
	CHECK(ts_tokio_glue_type("core::ptr::drop_in_place<tokio::runtime::task::core::Cell<my::Fut<(u8, u16),"
				 "alloc::vec::Vec<u8>>,S>>", out, sizeof(out)));
	CHECK_STR(out, "my::Fut<(u8, u16),alloc::vec::Vec<u8>>");
	/* not a task's drop glue, or cut short */
	CHECK(!ts_tokio_glue_type("core::ptr::drop_in_place<tokio::runtime::task::core::Trailer>", out, sizeof(out)));
	CHECK(!ts_tokio_glue_type("core::ptr::drop_in_place<alloc::vec::Vec<u8>>", out, sizeof(out)));
	CHECK(!ts_tokio_glue_type("core::ptr::drop_in_place<tokio::runtime::task::core::Cell<my::Fut<u8", out,
				  sizeof(out)));
	CHECK(!ts_tokio_glue_type("tokio::runtime::task::raw::dealloc", out, sizeof(out)));
	/* a small buffer truncates, never overflows */
	CHECK(ts_tokio_glue_type("core::ptr::drop_in_place<tokio::runtime::task::core::Cell<averyveryverylongname::Fut,S>>",
				 out, 8));
	CHECK(strlen(out) == 7);
}

int main(void)
{
	probe_points();
	glue_types();
	return check_failures != 0;
}
