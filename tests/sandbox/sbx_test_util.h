/*
 * sbx_test_util.h — helpers shared by the sandbox tests: run a shell line
 * in the sandbox, and look at the host's process table and temp dir
 * afterwards.
 */
#ifndef SBX_TEST_UTIL_H
#define SBX_TEST_UTIL_H

#include <stddef.h>

#include "sandbox.h"

/* Runs `/bin/sh -c cmd` with the given wall-clock limit; ck_asserts that
 * sbx_run itself succeeded and that the working directory is gone. */
void sbx_test_sh(const char *cmd, unsigned timeout_ms, int degraded, sbx_result *r);

/* Same with a full spec (argv[0] absolute). */
void sbx_test_run(const sbx_spec *spec, sbx_result *r);

/* Children of this process that are still alive or unreaped. */
size_t sbx_test_count_children(void);

/* Processes (not zombies) whose command line contains `marker`. */
size_t sbx_test_count_marked(const char *marker);

/* Makes a private TMPDIR for the sandbox's directories (call in main),
 * and checks it is empty at the end (returns nonzero if not). */
void sbx_test_tmpdir_setup(void);
int sbx_test_tmpdir_check_empty(void);

/* A string unique to this process and call, for marking files/processes. */
void sbx_test_marker(char *buf, size_t len, const char *what);

#endif
