/*
 * errline.c: fill a caller's one-line error buffer (see errline.h).
 */
#include "collector/errline.h"

#include <stdarg.h>
#include <stdio.h>

void ts_errf(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}
