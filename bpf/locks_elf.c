/*
 * locks_elf.c: where a libc function starts, as a file offset for a uprobe.
 *
 * libbpf can resolve a function name itself, but glibc exports several
 * versions of some lock functions (pthread_mutex_trylock, pthread_cond_wait
 * ...) at different addresses and libbpf refuses such an ambiguous name.
 * A program linked today calls the default version (name@@VERSION), so
 * that is the one probed: the .dynsym entry whose .gnu.version entry is
 * not marked hidden.
 */
#include "bpf/locks_elf.h"

#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <string.h>
#include <unistd.h>

#define VERSYM_HIDDEN 0x8000

/* Turn a virtual address into a file offset through the load segments. */
static int vaddr_to_offset(Elf *e, uint64_t vaddr, uint64_t *off)
{
	size_t n;

	if (elf_getphdrnum(e, &n) != 0)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		GElf_Phdr ph;

		if (!gelf_getphdr(e, (int)i, &ph) || ph.p_type != PT_LOAD || !(ph.p_flags & PF_X))
			continue;
		if (vaddr >= ph.p_vaddr && vaddr < ph.p_vaddr + ph.p_memsz) {
			*off = vaddr - ph.p_vaddr + ph.p_offset;
			return 0;
		}
	}
	return -ENOENT;
}

static int find_in(Elf *e, const char *name, uint64_t *off)
{
	Elf_Scn *scn = NULL, *dynsym = NULL;
	Elf_Data *syms, *vers = NULL;
	GElf_Shdr sh, dsh = { 0 };
	size_t count;

	while ((scn = elf_nextscn(e, scn))) {
		if (!gelf_getshdr(scn, &sh))
			continue;
		if (sh.sh_type == SHT_DYNSYM) {
			dynsym = scn;
			dsh = sh;
		} else if (sh.sh_type == SHT_GNU_versym) {
			vers = elf_getdata(scn, NULL);
		}
	}
	if (!dynsym || !dsh.sh_entsize)
		return -ENOENT;
	syms = elf_getdata(dynsym, NULL);
	if (!syms)
		return -EINVAL;
	count = dsh.sh_size / dsh.sh_entsize;
	for (size_t i = 0; i < count; i++) {
		GElf_Sym s;
		GElf_Versym v;
		const char *sname;

		if (!gelf_getsym(syms, (int)i, &s) || GELF_ST_TYPE(s.st_info) != STT_FUNC ||
		    s.st_shndx == SHN_UNDEF || !s.st_value)
			continue;
		sname = elf_strptr(e, dsh.sh_link, s.st_name);
		if (!sname || strcmp(sname, name))
			continue;
		if (vers && gelf_getversym(vers, (int)i, &v) && (v & VERSYM_HIDDEN))
			continue;   /* an old version kept for old binaries */
		return vaddr_to_offset(e, s.st_value, off);
	}
	return -ENOENT;
}

int ts_locks_elf_func_offset(const char *path, const char *name, uint64_t *off)
{
	Elf *e = NULL;
	int fd, r;

	if (elf_version(EV_CURRENT) == EV_NONE)
		return -EINVAL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	e = elf_begin(fd, ELF_C_READ, NULL);
	if (!e) {
		r = -EINVAL;
		goto cleanup;
	}
	r = find_in(e, name, off);
cleanup:
	if (e)
		elf_end(e);
	close(fd);
	return r;
}
