/*
 * cmd_constitution.c — `rlaif constitution check FILE...`: validates
 * constitution files with the labelers' own parser, so an error reads the
 * same here as when a labeler loads the file (file and JSON path).
 */
#include <stdio.h>
#include <string.h>

#include "constitution.h"

int rlaif_cmd_constitution(int argc, char **argv);

static const char usage[] =
    "usage: rlaif constitution check FILE...\n"
    "\n"
    "Validates constitution files (constitutions/SCHEMA.md); prints 'ok' or\n"
    "the first problem of each, naming the file and the JSON path.\n";

int rlaif_cmd_constitution(int argc, char **argv)
{
    if (argc >= 1 && (!strcmp(argv[0], "--help") || !strcmp(argv[0], "-h"))) {
        fputs(usage, stdout);
        return 0;
    }
    if (argc < 2 || strcmp(argv[0], "check") != 0) {
        fputs(usage, stderr);
        return 2;
    }
    int bad = 0;
    for (int i = 1; i < argc; i++) {
        char err[2048] = "";
        lab_constitution *c = NULL;
        if (lab_constitution_load(argv[i], &c, err, sizeof err) != RLAIF_OK) {
            fprintf(stderr, "%s\n", err[0] ? err : argv[i]);
            bad = 1;
            continue;
        }
        printf("%s: ok\n", argv[i]);
        lab_constitution_free(c);
    }
    return bad;
}
