/*
 * my_reward.c — a reward plugin of your own, built outside the rlaif tree.
 *
 *   cc -shared -fPIC -O2 $(pkg-config --cflags rlaif) my_reward.c -o my_reward.so
 *   rlaif run use_my_reward.lua ./my_reward.so
 *
 * It rewards responses that use the words of a configured list ("kind",
 * "friend", "share" by default): reward = (distinct listed words used) /
 * (words in the list), so 1 means every word appears.  Everything it needs
 * is in rlaif/plugin.h; it parses its config by hand (no cJSON), to show
 * that a plugin needs nothing but the header.
 *
 * Config: {"words": "kind friend share"}  (space-separated, lower case)
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include <rlaif/plugin.h>

#define MAX_WORDS 32

typedef struct my_reward {
    char *words[MAX_WORDS];
    size_t n_words;
    char *storage;
} my_reward;

/* Finds "words": "..." in the config text; a real plugin would use a JSON
 * parser.  Returns a malloc'ed copy of the value or NULL when absent. */
static char *config_words(const char *json)
{
    const char *k = strstr(json, "\"words\"");
    if (!k) return NULL;
    const char *q = strchr(k + 7, '"');
    if (!q) return NULL;
    const char *end = strchr(q + 1, '"');
    if (!end) return NULL;
    size_t n = (size_t)(end - q - 1);
    char *s = malloc(n + 1);
    if (s) {
        memcpy(s, q + 1, n);
        s[n] = 0;
    }
    return s;
}

static rlaif_status my_create(const rlaif_host *host, const char *config, void **out, char *err,
                              size_t errlen)
{
    (void)host;
    my_reward *self = calloc(1, sizeof *self);
    if (!self) return rlaif_errorf(err, errlen, RLAIF_E_NOMEM, "my_reward: out of memory");
    self->storage = config_words(config);
    if (!self->storage) self->storage = strdup("kind friend share");
    for (char *w = strtok(self->storage, " "); w && self->n_words < MAX_WORDS; w = strtok(NULL, " "))
        self->words[self->n_words++] = w;
    if (self->n_words == 0) {
        free(self->storage);
        free(self);
        return rlaif_errorf(err, errlen, RLAIF_E_INVALID, "my_reward: config key 'words' is empty");
    }
    *out = self;
    return RLAIF_OK;
}

static void my_destroy(void *vself)
{
    my_reward *self = vself;
    if (!self) return;
    free(self->storage);
    free(self);
}

static rlaif_status my_describe(void *self, rlaif_reward_desc *out)
{
    (void)self;
    out->n_metrics = 0;
    out->metric_names = NULL;
    return RLAIF_OK;
}

/* Does `text` contain `word` as a whole word, ignoring case? */
static int has_word(const char *text, const char *word)
{
    size_t n = strlen(word);
    for (const char *p = text; *p; p++) {
        if (p != text && isalpha((unsigned char)p[-1])) continue;
        if (strncasecmp(p, word, n) == 0 && !isalpha((unsigned char)p[n])) return 1;
    }
    return 0;
}

static rlaif_status my_score(void *vself, const rlaif_reward_batch *b, rlaif_reward_out *out,
                             char *err, size_t errlen)
{
    (void)err;
    (void)errlen;
    my_reward *self = vself;
    for (size_t i = 0; i < b->n; i++) {
        size_t hits = 0;
        for (size_t w = 0; w < self->n_words; w++) hits += has_word(b->responses[i], self->words[w]);
        out->rewards[i] = (float)hits / (float)self->n_words;
        if (out->details) out->details[i] = NULL;
    }
    return RLAIF_OK;
}

static const rlaif_reward_vtable my_vtable = {
    .base = {.struct_size = sizeof(rlaif_reward_vtable), .create = my_create, .destroy = my_destroy},
    .describe = my_describe,
    .score = my_score,
};

static const rlaif_plugin_info my_info = {
    .abi_version = RLAIF_ABI_VERSION,
    .struct_size = sizeof(rlaif_plugin_info),
    .kind = RLAIF_KIND_REWARD,
    .name = "my_reward",
    .version = "0.1.0",
    .description = "rewards responses that use chosen words",
    .caps = 0,
    .vtable = &my_vtable,
};

RLAIF_PLUGIN(&my_info)
