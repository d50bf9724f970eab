/*
 * ltemplate.h — prompt templates with named placeholders.
 *
 * Syntax: `{name}` (name = [a-z_][a-z0-9_]*) is replaced by the value of
 * that variable; `{{` and `}}` write a literal brace.  Anything else with a
 * brace is an error, so a typo such as `{respons}` or `{prompt` is caught
 * when the constitution is loaded instead of silently leaking into prompts.
 * Substituted values are copied verbatim (never re-parsed).
 */
#ifndef LAB_LTEMPLATE_H
#define LAB_LTEMPLATE_H

#include <stddef.h>

#include "sbuf.h"

typedef struct lab_var {
    const char *name;
    const char *value;
} lab_var;

/* Checks the syntax of `text`, that every placeholder is in `allowed` and
 * that every name in `required` occurs at least once (both NULL-terminated;
 * `required` may be NULL).  Returns 0, or -1 with a message such as
 * "unknown placeholder {foo} at byte 12 (allowed: {prompt}, {a})". */
int lab_template_check(const char *text, const char *const *allowed,
                       const char *const *required, char *msg, size_t msglen);

/* Appends the rendering of `text` to `out`.  A placeholder without a
 * variable is an error (-1 and a message); 0 on success.  Allocation failure
 * shows in sbuf_failed(out). */
int lab_template_render(sbuf *out, const char *text, const lab_var *vars, size_t n_vars,
                        char *msg, size_t msglen);

#endif
