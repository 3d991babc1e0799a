#!/usr/bin/env python3
# sql2c.py: embeds storage/schema.sql into the binary as a C string, so the
# schema lives in one readable .sql file and the collector needs no data
# files at run time. Usage: sql2c.py INPUT.sql OUTPUT.c SYMBOL
import sys


def main():
    src, dst, symbol = sys.argv[1], sys.argv[2], sys.argv[3]
    with open(src, encoding='utf-8') as f:
        text = f.read()
    out = ['/* Generated from schema.sql by sql2c.py; do not edit. */',
           '#include "storage/internal.h"', '',
           'const char %s[] =' % symbol]
    for line in text.splitlines():
        esc = line.replace('\\', '\\\\').replace('"', '\\"').replace('\t', '\\t')
        out.append('\t"%s\\n"' % esc)
    out.append('\t"";')
    with open(dst, 'w', encoding='utf-8') as f:
        f.write('\n'.join(out) + '\n')


if __name__ == '__main__':
    main()
