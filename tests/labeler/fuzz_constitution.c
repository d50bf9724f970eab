/*
 * fuzz_constitution.c — a fuzz target for the constitution parser, built as
 * a plain executable: it parses every file named on the command line and
 * prints "ok <file>" or the validation error.  Feed it a corpus from any
 * fuzzer (or the shipped constitutions); a crash or sanitizer report is the
 * bug.  Exit status: 0 when every file was handled (valid or not), 2 when a
 * file could not be read.
 */
#include <stdio.h>
#include <stdlib.h>

#include "constitution.h"

int main(int argc, char **argv)
{
    int status = 0;
    for (int i = 1; i < argc; i++) {
        lab_constitution *c = NULL;
        char err[1024];
        rlaif_status st = lab_constitution_load(argv[i], &c, err, sizeof err);
        if (st == RLAIF_OK) {
            printf("ok %s (%zu principles)\n", argv[i], c->n_principles);
            lab_constitution_free(c);
        } else {
            printf("rejected %s\n", err);
            if (st == RLAIF_E_IO) status = 2;
        }
    }
    return status;
}
