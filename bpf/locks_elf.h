/*
 * locks_elf.h: file offsets of exported functions for uprobes (locks_elf.c).
 */
#ifndef TASKSCOPE_BPF_LOCKS_ELF_H
#define TASKSCOPE_BPF_LOCKS_ELF_H

#include <stdint.h>

/* The file offset of `name`'s default version (name@@VER, or an
 * unversioned one) in the ELF file at `path`: 0 or -errno (-ENOENT when
 * it does not export it). */
int ts_locks_elf_func_offset(const char *path, const char *name, uint64_t *off);

#endif /* TASKSCOPE_BPF_LOCKS_ELF_H */
