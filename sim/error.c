// SPDX-License-Identifier: MIT
#include "sim/error.h"

#include <stdio.h>
#include <string.h>

int dm_verrorf(struct dm_error *err, const char *fmt, va_list ap)
{
	if (err)
		vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	return -1;
}

int dm_errorf(struct dm_error *err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	dm_verrorf(err, fmt, ap);
	va_end(ap);
	return -1;
}

int dm_error_prefix(struct dm_error *err, const char *fmt, ...)
{
	char old[sizeof(err->msg)];
	va_list ap;
	int n;

	if (!err)
		return -1;
	memcpy(old, err->msg, sizeof(old));
	va_start(ap, fmt);
	n = vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	/* Long messages are cut; the prefix (where) is kept first. */
	if (n >= 0 && (size_t)n < sizeof(err->msg))
		snprintf(err->msg + n, sizeof(err->msg) - (size_t)n, ": %.*s",
			 (int)(sizeof(err->msg) - (size_t)n), old);
	return -1;
}
