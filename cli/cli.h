/* SPDX-License-Identifier: MIT */
/*
 * The dmsim command's subcommands.  Each takes its own argv (argv[0] is the
 * subcommand name) and returns the process exit code: 0 success, 1
 * verification failed (divergence, diff not empty), 2 bad usage or input.
 */
#ifndef DM_CLI_H
#define DM_CLI_H

enum { DM_EXIT_OK = 0, DM_EXIT_FAIL = 1, DM_EXIT_USAGE = 2 };

int dm_cmd_replay(int argc, char **argv);
int dm_cmd_convert(int argc, char **argv);
int dm_cmd_options(int argc, char **argv);
int dm_cmd_migrate_check(int argc, char **argv);
int dm_cmd_show(int argc, char **argv);
int dm_cmd_import(int argc, char **argv);
int dm_cmd_kvm(int argc, char **argv);
int dm_cmd_diff(int argc, char **argv);

#endif
