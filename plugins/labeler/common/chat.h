/*
 * chat.h — wrapping a system text and a user message into the prompt format
 * a model was tuned on.  The rendered text ends where the assistant's turn
 * begins, so the caller appends an answer prefix and reads the next token.
 *
 * A chat template is named by a string:
 *   "plain"   the user message, then a blank line (system text first if any)
 *   "chatml"  <|im_start|>system/user/assistant blocks (Qwen, many others)
 *   "llama2"  [INST] <<SYS>> ... <</SYS>> ... [/INST]
 *   anything containing "{user}": a custom template; it may also use
 *             {system}; no other placeholder is allowed.
 */
#ifndef LAB_CHAT_H
#define LAB_CHAT_H

#include <stddef.h>

#include "sbuf.h"

/* 0 when `spec` names a builtin or is a valid custom template; -1 and a
 * message otherwise. */
int lab_chat_check(const char *spec, char *msg, size_t msglen);

/* Appends the prompt for (system, user) to out; system may be NULL or "". */
int lab_chat_render(sbuf *out, const char *spec, const char *system, const char *user,
                    char *msg, size_t msglen);

/* The text that closes an assistant turn in this template ("<|im_end|>" for
 * chatml), to stop generation at; NULL when the template has none. */
const char *lab_chat_stop(const char *spec);

#endif
