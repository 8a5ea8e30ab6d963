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
	char prefix[256];
	char old[sizeof(err->msg)];
	va_list ap;

	if (!err)
		return -1;
	va_start(ap, fmt);
	vsnprintf(prefix, sizeof(prefix), fmt, ap);
	va_end(ap);
	memcpy(old, err->msg, sizeof(old));
	snprintf(err->msg, sizeof(err->msg), "%s: %s", prefix, old);
	return -1;
}
