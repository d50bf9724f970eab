/*
 * prompts.h — rendering a constitution's templates into model inputs.
 *
 * Every input has the same shape: the chat template wraps the system text
 * and a user message rendered from one of the constitution's templates,
 * then an assistant prefix (also a template) is appended, ending exactly
 * where the model's answer (a choice label, a score label, generated text)
 * starts.  Shared by the labeler plugins so that a local model and a
 * remote server see the very same text for the same request.
 *
 * All functions append to `out` and return RLAIF_OK, RLAIF_E_FORMAT (a
 * template error, naming the constitution and template), RLAIF_E_INVALID
 * (a bad chat template) or RLAIF_E_NOMEM.
 */
#ifndef LAB_PROMPTS_H
#define LAB_PROMPTS_H

#include <stddef.h>

#include "constitution.h"
#include "rlaif/plugin.h"
#include "sbuf.h"

typedef struct lab_prompter {
    const lab_constitution *con;
    const char *chat;   /* chat template in force (the constitution's or an override) */
} lab_prompter;

/* Which of (first, second) is better under principle j; ends where the
 * choice label (or, with cot, the rationale) begins. */
rlaif_status lab_prompt_compare(const lab_prompter *p, size_t j, const char *prompt,
                                const char *first, const char *second, int cot, sbuf *out,
                                char *err, size_t errlen);
/* The text after a rationale, before the choice label. */
rlaif_status lab_prompt_cot_answer(const lab_prompter *p, sbuf *out, char *err, size_t errlen);
/* A direct score under principle j; ends where the score label begins. */
rlaif_status lab_prompt_score(const lab_prompter *p, size_t j, const char *prompt,
                              const char *response, sbuf *out, char *err, size_t errlen);
/* The label text of score k ("7", "7/10", ...). */
rlaif_status lab_prompt_score_label(const lab_prompter *p, int k, sbuf *out, char *err,
                                    size_t errlen);
/* Critique and revision requests under principle j. */
rlaif_status lab_prompt_critique(const lab_prompter *p, size_t j, const char *prompt,
                                 const char *response, sbuf *out, char *err, size_t errlen);
rlaif_status lab_prompt_revision(const lab_prompter *p, size_t j, const char *prompt,
                                 const char *response, const char *critique, sbuf *out,
                                 char *err, size_t errlen);
/* A probe text: the probe template with one variant. */
rlaif_status lab_prompt_probe(const lab_prompter *p, const lab_probe *pr, const char *prompt,
                              const char *response, const char *variant, sbuf *out, char *err,
                              size_t errlen);

#endif
