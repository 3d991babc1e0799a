/*
 * test-demangle.c: ts_demangle() against names real compilers produced.
 *
 * The Rust names were taken with nm from a small crate (generics, trait
 * impls, closures, const generics, dyn Fn, async fn, nested modules)
 * built by rustc 1.95 with the default (legacy) mangling and with
 * `-C symbol-mangling-version=v0`; the expected strings are what
 * binutils' c++filt prints for them, minus the hashes and crate
 * disambiguators that ts_demangle leaves out. The C++ names are exports
 * of libstdc++. Then: names that are not mangled, broken and truncated
 * names, and mutated names (run under ASan: nothing may crash or read
 * out of bounds).
 */
#include <dlfcn.h>
#include <stdint.h>
#include <stdlib.h>

#include "collector/symbolize.h"
#include "tests/check.h"

struct pair {
	const char *in, *want;
};

static const struct pair rust_legacy[] = {
	{ "_ZN7fixture4main17h2764baa9eed335aeE", "fixture::main" },
	{ "_ZN7fixture5apply17hf1fdd31daf6134c3E", "fixture::apply" },
	{ "_ZN7fixture5inner6deeper4leaf17h3bd9674bd3ab53fdE", "fixture::inner::deeper::leaf" },
	{ "_ZN7fixture4main28_$u7b$$u7b$closure$u7d$$u7d$17hcb0588ec795f4cd0E",
	  "fixture::main::{{closure}}" },
	{ "_ZN64_$LT$fixture..Wrapper$LT$T$GT$$u20$as$u20$core..fmt..Display$GT$3fmt17ha5ba6246031b1275E",
	  "<fixture::Wrapper<T> as core::fmt::Display>::fmt" },
	{ "_ZN42_$LT$$RF$T$u20$as$u20$core..fmt..Debug$GT$3fmt17h97ebb8cd9e079c39E",
	  "<&T as core::fmt::Debug>::fmt" },
	{ "_ZN5alloc7raw_vec19RawVec$LT$T$C$A$GT$8grow_one17h370223c7a272ece0E",
	  "alloc::raw_vec::RawVec<T,A>::grow_one" },
	{ "_ZN4core3ptr181drop_in_place$LT$hashbrown..scopeguard..ScopeGuard$LT$$RF$mut$u20$hashbrown..raw..RawTableInner$C$hashbrown..raw..RawTableInner..rehash_in_place..$u7b$$u7b$closure$u7d$$u7d$$GT$$GT$17h5d11d77e21c1fff4E",
	  "core::ptr::drop_in_place<hashbrown::scopeguard::ScopeGuard<&mut hashbrown::raw::RawTableInner,hashbrown::raw::RawTableInner::rehash_in_place::{{closure}}>>" },
	/* an LTO-promoted local: the .llvm.N suffix goes */
	{ "_ZN9hashbrown3raw21RawTable$LT$T$C$A$GT$14reserve_rehash17h6d54cdc1ac9fbd8fE.llvm.5302885085717524671",
	  "hashbrown::raw::RawTable<T,A>::reserve_rehash" },
	{ "_ZN3std2rt10lang_start28_$u7b$$u7b$closure$u7d$$u7d$17hdf7784c316fa2df4E",
	  "std::rt::lang_start::{{closure}}" },
};

static const struct pair rust_v0[] = {
	{ "_RNvCs1wX9CgZvNvN_7fixture4main", "fixture::main" },
	{ "_RNvCs1wX9CgZvNvN_7fixture6asyncy", "fixture::asyncy" },
	{ "_RNvNtNtCs1nIh1hnL7KO_7fixture5inner6deeper4leaf", "fixture::inner::deeper::leaf" },
	{ "_RNCNvCs1wX9CgZvNvN_7fixture4main0B3_", "fixture::main::{closure#0}" },
	{ "_RNCNvCs1wX9CgZvNvN_7fixture4mains0_0B3_", "fixture::main::{closure#2}" },
	{ "_RINvCs1nIh1hnL7KO_7fixture5applyNCNvB2_4mains0_0EB2_",
	  "fixture::apply::<fixture::main::{closure#2}>" },
	{ "_RINvCs1wX9CgZvNvN_7fixture3arrKj3_EB2_", "fixture::arr::<3>" },
	{ "_RNvXCs1nIh1hnL7KO_7fixtureINtB2_7WrapperINtNtCslNYArtu3iFV_5alloc3vec3VechEENtNtCsgEmfK2I1SDS_4core3fmt7Display3fmtB2_",
	  "<fixture::Wrapper<alloc::vec::Vec<u8>> as core::fmt::Display>::fmt" },
	{ "_RNvXs1g_NtCsgEmfK2I1SDS_4core3fmtRAhj4_NtB6_5Debug3fmtCs1nIh1hnL7KO_7fixture",
	  "<&[u8; 4] as core::fmt::Debug>::fmt" },
	{ "_RNvMs4_NtCslNYArtu3iFV_5alloc7raw_vecNtB5_11RawVecInner14grow_amortizedCs1nIh1hnL7KO_7fixture",
	  "<alloc::raw_vec::RawVecInner>::grow_amortized" },
	{ "_RNvMs3_NtCslNYArtu3iFV_5alloc7raw_vecINtB5_6RawVecThcEE8grow_oneCs1nIh1hnL7KO_7fixture",
	  "<alloc::raw_vec::RawVec<(u8, char)>>::grow_one" },
	{ "_RINvNtCsgEmfK2I1SDS_4core3mem11size_of_valNCNvCs1wX9CgZvNvN_7fixture6asyncy0EBI_",
	  "core::mem::size_of_val::<fixture::asyncy::{closure#0}>" },
	{ "_RINvNtCsgEmfK2I1SDS_4core3ptr13drop_in_placeINtNtCslNYArtu3iFV_5alloc5boxed3BoxDINtNtNtB4_3ops8function2FnuEp6OutputhEL_EECs1wX9CgZvNvN_7fixture",
	  "core::ptr::drop_in_place::<alloc::boxed::Box<dyn core::ops::function::Fn<(), Output = u8>>>" },
	{ "_RINvNtNtCsjrHSEGnQ3l9_3std3sys9backtrace28___rust_begin_short_backtraceFEuuECs1wX9CgZvNvN_7fixture",
	  "std::sys::backtrace::__rust_begin_short_backtrace::<fn(), ()>" },
	{ "_RINvXNtNtNtNtCsjrHSEGnQ3l9_3std3sys12thread_local6native4lazyzNtB3_14DestroyedState13register_dtorINtNtCsgEmfK2I1SDS_4core4cell4CellTyyEEECs1wX9CgZvNvN_7fixture",
	  "<! as std::sys::thread_local::native::lazy::DestroyedState>::register_dtor::<core::cell::Cell<(u64, u64)>>" },
	{ "_RINvXs_NvMNtCslNYArtu3iFV_5alloc5sliceSp9to_vec_inhNtB5_10ConvertVec6to_vecNtNtBa_5alloc6GlobalECs1wX9CgZvNvN_7fixture",
	  "<u8 as <[_]>::to_vec_in::ConvertVec>::to_vec::<alloc::alloc::Global>" },
	{ "_RNSNvYNCNvCs1wX9CgZvNvN_7fixture4mains1_0INtNtNtCsgEmfK2I1SDS_4core3ops8function6FnOnceTReEE9call_once6vtableB8_",
	  "<fixture::main::{closure#3} as core::ops::function::FnOnce<(&str,)>>::call_once::{shim:vtable#0}" },
	{ "_RNCNKNvNvMNtNtCsjrHSEGnQ3l9_3std4hash6randomNtB8_11RandomState3new4KEYS0s_0Cs1wX9CgZvNvN_7fixture",
	  "<std::hash::random::RandomState>::new::KEYS::{K#0}::{closure#1}" },
	{ "_RINvMs6_NtCsgvbsrvnw3yD_9hashbrown3rawINtB6_8RawTableTNtNtCslNYArtu3iFV_5alloc6string6StringINtNtBU_5boxed3BoxDINtNtNtCsgEmfK2I1SDS_4core3ops8function2FnuEp6OutputhEL_EEE14reserve_rehashNCINvNtB8_3map11make_hasherBQ_B1s_NtNtNtCsjrHSEGnQ3l9_3std4hash6random11RandomStateE0ECs1nIh1hnL7KO_7fixture.llvm.1829370155278433745",
	  "<hashbrown::raw::RawTable<(alloc::string::String, alloc::boxed::Box<dyn core::ops::function::Fn<(), Output = u8>>)>>::reserve_rehash::<hashbrown::map::make_hasher<alloc::string::String, alloc::boxed::Box<dyn core::ops::function::Fn<(), Output = u8>>, std::hash::random::RandomState>::{closure#0}>" },
};

static const struct pair cxx[] = {
	{ "_ZNKSt7__cxx1112basic_stringIcSt11char_traitsIcESaIcEE12find_last_ofEPKcm",
	  "std::__cxx11::basic_string<char, std::char_traits<char>, std::allocator<char> >::find_last_of(char const*, unsigned long) const" },
	{ "_ZNSt10_Sp_lockerC1EPKvS1_", "std::_Sp_locker::_Sp_locker(void const*, void const*)" },
};

/* not mangled, or mangled wrong: NULL */
static const char *const not_mangled[] = {
	"main", "", "_Z", "_ZN", "_ZNE", "_R", "_RN", "_ZN7fixture4mainE.", "_ZN7fixture4main",
	"_ZN99fixture4main17h2764baa9eed335aeE", "_R0NvC7fixture4main", "_RNvC7fixture",
	"_RNvCs1wX9CgZvNvN_7fixture4mainX", "_RB_", "_RINvC1a1bKj", "_RNCNvC1a1b0B9_",
	"_ZN3foo3barEv_not_rust", "_ZN1a$XX$E",
};

static void table(const char *what, const struct pair *t, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char *got = ts_demangle(t[i].in);
		CHECK_MSG(got != NULL, "%s: %s not demangled", what, t[i].in);
		if (got)
			CHECK_STR(got, t[i].want);
		free(got);
	}
}

/* Flip, drop and truncate bytes of real names: any answer is fine, a
 * crash or an out-of-bounds read (ASan) is not. */
static void mutate(const struct pair *t, size_t n)
{
	uint64_t x = 0x9e3779b97f4a7c15ull;
	char buf[1024];

	for (int round = 0; round < 4000; round++) {
		const char *src = t[round % n].in;
		size_t len = strlen(src);
		if (len >= sizeof(buf))
			continue;
		memcpy(buf, src, len + 1);
		for (int k = 0; k < 3; k++) {
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			size_t at = 2 + (size_t)(x % (len - 2));
			switch ((x >> 32) % 3) {
			case 0: buf[at] = (char)(x >> 40); if (!buf[at]) buf[at] = 'B'; break;
			case 1: buf[at] = "0123456789_BEINCMXYKsuGpL"[(x >> 40) % 25]; break;
			case 2: buf[at] = '\0'; len = at; break;
			}
			if (len <= 2)
				break;
		}
		free(ts_demangle(buf));
	}
}

int main(void)
{
	void *cxxlib;

	table("rust legacy", rust_legacy, sizeof(rust_legacy) / sizeof(rust_legacy[0]));
	table("rust v0", rust_v0, sizeof(rust_v0) / sizeof(rust_v0[0]));

	cxxlib = dlopen("libstdc++.so.6", RTLD_NOW | RTLD_NOLOAD);
	if (!cxxlib)
		cxxlib = dlopen("libstdc++.so.6", RTLD_NOW);
	if (cxxlib) {
		table("c++", cxx, sizeof(cxx) / sizeof(cxx[0]));
		dlclose(cxxlib);
	} else {
		printf("note: no libstdc++.so.6 here, C++ names are not checked\n");
	}

	for (size_t i = 0; i < sizeof(not_mangled) / sizeof(not_mangled[0]); i++) {
		char *got = ts_demangle(not_mangled[i]);
		CHECK_MSG(got == NULL, "\"%s\" gave \"%s\"", not_mangled[i], got);
		free(got);
	}
	CHECK(ts_demangle(NULL) == NULL);

	/* a deep chain of backreferences must not explode */
	{
		char deep[4096] = "_RINvC1a1f";
		size_t l = strlen(deep);
		for (int i = 0; i < 300 && l + 16 < sizeof(deep); i++)
			l += (size_t)snprintf(deep + l, sizeof(deep) - l, "TB%x_B%x_E", 1, 1);
		strcat(deep, "E");
		free(ts_demangle(deep));
	}

	mutate(rust_v0, sizeof(rust_v0) / sizeof(rust_v0[0]));
	mutate(rust_legacy, sizeof(rust_legacy) / sizeof(rust_legacy[0]));
	return check_result("test-demangle");
}
