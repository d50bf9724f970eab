/*
 * constitution.h — a labeler's constitution: principles, prompt templates,
 * choice tokens, score range and likelihood probes, loaded from JSON and
 * validated up front.  The schema is documented in constitutions/SCHEMA.md.
 *
 * Every validation error names the file and the JSON path of the bad
 * field, e.g.
 *   "constitutions/harmless.json: $.principles[3].critique_request: expected a string, got a number"
 *
 * Lifetimes: a lab_constitution owns all its strings; free it with
 * lab_constitution_free.  Pointers returned by the accessors live as long
 * as the constitution.
 */
#ifndef LAB_CONSTITUTION_H
#define LAB_CONSTITUTION_H

#include <stddef.h>
#include <stdint.h>

#include "rlaif/plugin.h"

/* ===== Templates ======================================================== */

/* The prompt templates a constitution may set (each has a default).  The
 * JSON key under "templates" is lab_template_key(t). */
typedef enum lab_tmpl {
    LAB_T_COMPARE = 0,     /* user message: which of {a}, {b} is better under {principle} */
    LAB_T_COMPARE_ANSWER,  /* assistant prefix after which the choice token is read */
    LAB_T_COMPARE_COT,     /* user message asking for reasoning before the answer */
    LAB_T_COT_PREFIX,      /* assistant prefix before the generated rationale */
    LAB_T_COT_ANSWER,      /* text after the rationale, before the choice token */
    LAB_T_EXAMPLE,         /* one few-shot example, inserted through {examples} */
    LAB_T_SCORE,           /* user message asking for a score of {response} */
    LAB_T_SCORE_ANSWER,    /* assistant prefix before the score label */
    LAB_T_SCORE_LABEL,     /* how a score is written: "{score}", "{score}/10", ... */
    LAB_T_CRITIQUE,        /* user message asking for a critique of {response} */
    LAB_T_CRITIQUE_ANSWER, /* assistant prefix before the generated critique */
    LAB_T_REVISION,        /* user message asking for a revision given {critique} */
    LAB_T_REVISION_ANSWER, /* assistant prefix before the generated revision */
    LAB_T_COUNT
} lab_tmpl;

/* JSON key of a template ("compare", "compare_answer", ...). */
const char *lab_template_key(lab_tmpl t);
/* NULL-terminated lists of the placeholders allowed in / required by a template. */
const char *const *lab_template_allowed(lab_tmpl t);
const char *const *lab_template_required(lab_tmpl t);
/* The built-in text used when a constitution does not set the template. */
const char *lab_template_default(lab_tmpl t);

/* Placeholders of a probe template. */
extern const char *const lab_probe_allowed[];
extern const char *const lab_probe_required[];

/* ===== The constitution ================================================= */

/* A likelihood probe for models that only continue text: the texts made by
 * rendering `template` with each positive and each negative variant in
 * {probe} are scored by their log-likelihood (see prefmath.h). */
typedef struct lab_probe {
    char *template_text;   /* placeholders {prompt}, {response}, {probe} */
    char **positive;       /* [n_positive] */
    size_t n_positive;
    char **negative;       /* [n_negative] */
    size_t n_negative;
    double scale;          /* multiplies the margin difference before the sigmoid */
} lab_probe;

typedef struct lab_principle {
    char *id;
    char *critique_request;
    char *revision_request;
    char *comparison;      /* the pairwise question */
    char *rubric;          /* what a score measures */
    double weight;         /* relative chance of being drawn (default 1) */
    lab_probe *probe;      /* this principle's probe, or NULL to use the constitution's */
} lab_principle;

typedef struct lab_example {
    char *prompt;
    char *a, *b;
    int preferred;         /* 0: a, 1: b */
    char *principle;       /* principle id or NULL (the rendering then uses the drawn one) */
    char *rationale;       /* or NULL */
} lab_example;

typedef enum lab_mode { LAB_MODE_INSTRUCT = 0, LAB_MODE_PROBE = 1 } lab_mode;

typedef struct lab_constitution {
    char *name;
    char *description;
    char *system;          /* system text for the chat template, or NULL */
    char *chat_template;   /* "plain" (default), "chatml", "llama2" or a custom template */
    lab_mode mode;         /* the mode this constitution is written for (default instruct) */
    char *choices[2];      /* the two choice labels, default "A", "B" */
    int score_min, score_max; /* default 1, 10 */
    char *templates[LAB_T_COUNT]; /* NULL: use the default */
    lab_principle *principles;
    size_t n_principles;
    lab_example *examples;
    size_t n_examples;
    lab_probe *probe;      /* constitution-wide probe or NULL */
} lab_constitution;

/* Parses and validates JSON text.  `file` names the source in messages
 * (a path, or "<inline>").  Returns RLAIF_OK, RLAIF_E_FORMAT (message with
 * file and JSON path) or RLAIF_E_NOMEM. */
rlaif_status lab_constitution_parse(const char *json, size_t len, const char *file,
                                    lab_constitution **out, char *err, size_t errlen);

/* Reads and parses a file (RLAIF_E_IO when it cannot be read). */
rlaif_status lab_constitution_load(const char *path, lab_constitution **out, char *err,
                                   size_t errlen);

void lab_constitution_free(lab_constitution *c);

/* The template text in force (the constitution's or the default). */
const char *lab_constitution_template(const lab_constitution *c, lab_tmpl t);

/* The probe of principle i (its own, else the constitution's, else NULL). */
const lab_probe *lab_constitution_probe(const lab_constitution *c, size_t i);

/* Index of the principle with this id, or -1. */
long lab_constitution_find(const lab_constitution *c, const char *id);

/* Draws a principle index from `seed` in proportion to the weights, among
 * `subset` (n_subset indices) or among all principles when subset is NULL.
 * The same seed always gives the same principle. */
size_t lab_constitution_pick(const lab_constitution *c, uint64_t seed, const size_t *subset,
                             size_t n_subset);

#endif
