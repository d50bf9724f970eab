/* chat.c — see chat.h.  Builtins are themselves templates, rendered by the
 * same engine as custom ones; each has a form without the system part. */
#include "chat.h"

#include <stdio.h>
#include <string.h>

#include "ltemplate.h"

typedef struct builtin_chat {
    const char *name;
    const char *with_system;
    const char *without_system;
    const char *stop;
} builtin_chat;

static const builtin_chat builtins[] = {
    {"plain", "{system}\n\n{user}\n\n", "{user}\n\n", NULL},
    {"chatml",
     "<|im_start|>system\n{system}<|im_end|>\n<|im_start|>user\n{user}<|im_end|>\n"
     "<|im_start|>assistant\n",
     "<|im_start|>user\n{user}<|im_end|>\n<|im_start|>assistant\n", "<|im_end|>"},
    {"llama2", "[INST] <<SYS>>\n{system}\n<</SYS>>\n\n{user} [/INST] ", "[INST] {user} [/INST] ",
     "[INST]"},
};

static const builtin_chat *find_builtin(const char *spec)
{
    for (size_t i = 0; i < sizeof builtins / sizeof builtins[0]; i++)
        if (strcmp(builtins[i].name, spec) == 0) return &builtins[i];
    return NULL;
}

static const char *const chat_vars[] = {"system", "user", NULL};
static const char *const chat_required[] = {"user", NULL};

int lab_chat_check(const char *spec, char *msg, size_t msglen)
{
    if (!spec) {
        snprintf(msg, msglen, "no chat template given");
        return -1;
    }
    if (find_builtin(spec)) return 0;
    if (!strstr(spec, "{user}")) {
        snprintf(msg, msglen,
                 "unknown chat template '%.60s' (builtins: plain, chatml, llama2; a custom "
                 "template must contain {user})",
                 spec);
        return -1;
    }
    char inner[300];
    if (lab_template_check(spec, chat_vars, chat_required, inner, sizeof inner)) {
        snprintf(msg, msglen, "custom chat template: %s", inner);
        return -1;
    }
    return 0;
}

int lab_chat_render(sbuf *out, const char *spec, const char *system, const char *user,
                    char *msg, size_t msglen)
{
    if (lab_chat_check(spec, msg, msglen)) return -1;
    int has_system = system && *system;
    const builtin_chat *b = find_builtin(spec);
    const char *text = b ? (has_system ? b->with_system : b->without_system) : spec;
    lab_var vars[] = {{"system", has_system ? system : ""}, {"user", user}};
    return lab_template_render(out, text, vars, 2, msg, msglen);
}

const char *lab_chat_stop(const char *spec)
{
    const builtin_chat *b = spec ? find_builtin(spec) : NULL;
    return b ? b->stop : NULL;
}
