/* SPDX-License-Identifier: MIT */
/*
 * Error reporting shared by every layer: a fixed buffer that the failing
 * function fills with a message naming where the problem is (file and line,
 * byte offset, field name).  Fixed size so that no error path allocates.
 */
#ifndef DM_ERROR_H
#define DM_ERROR_H

#include <stdarg.h>

struct dm_error {
	char msg[512];
};

/* Formats into err (when err is not NULL) and returns -1, so callers can
 * write "return dm_errorf(err, ...);". */
int dm_errorf(struct dm_error *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
int dm_verrorf(struct dm_error *err, const char *fmt, va_list ap);

/* Prepends "prefix: " to an existing message. */
int dm_error_prefix(struct dm_error *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#endif
