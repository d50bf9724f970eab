/*
 * reward/privacy — a penalty for personal data in a response, with the
 * spans found.
 *
 * Entity types (hand-written scanners, see scan.h):
 *   name         person names: a gazetteer of given names and surnames
 *                (data/names.tsv, written for this project), titles and
 *                phrases ("Dr.", "my name is", "called"), capitalisation;
 *                months, everyday words, places and pets are kept out
 *   email        e-mail addresses
 *   phone        international (+CC ...) and national numbers (North
 *                American, trunk-0 European); not dates, times, versions
 *   address      house number + street name + street type (also "12 rue
 *                de la Paix", "Via Roma 10", "Hauptstraße 5", PO boxes),
 *                postcodes (UK, Canada, US state + ZIP, NL; DE/FR/... after
 *                a street)
 *   card         payment card numbers, 13-19 digits, Luhn-checked
 *   iban         IBANs, country length and mod-97 checked
 *   ip           IPv4 (not version or section numbers) and IPv6
 *   national_id  US SSN (invalid ranges excluded), UK National Insurance
 *                number, Canadian SIN (Luhn, with a cue word)
 *
 * Reward: -min(sum of the weights of the entities found, max_penalty); with
 * the defaults it lies in [-1, 0] and 0 means nothing was found.
 * details[i]: {"spans":[{"type":"email","start":10,"end":27,"text":"..."}]}
 * with byte offsets into the response.
 *
 * Measured on tests/reward/data, entity level (same type, overlapping span;
 * recomputed by tests/reward/test_privacy.c; details in docs/rewards.md):
 *   privacy_dev.jsonl       tuning set, 126 sentences   P 84/84 = 1.000  R 83/83 = 1.000
 *   privacy_labelled.jsonl  held out, 130 sentences     P 95/96 = 0.990  R 95/96 = 0.990
 *
 * Config keys:
 *   names        string   path of a names file; default: the shipped
 *                         data/names.tsv under the host's data_dir
 *   weights      object   {"type": weight >= 0} for any of the types above;
 *                         defaults: name 0.3, email 0.5, phone 0.5,
 *                         address 0.5, card 1, iban 1, ip 0.3,
 *                         national_id 1.  Unknown type names are errors.
 *   types        array    the types to look for (default: all)
 *   max_penalty  number > 0   default 1: the penalty is capped here
 *   details      boolean  default true: fill details[] with the spans
 *   span_text    boolean  default true: include each span's text in the
 *                         details (false keeps the personal data itself out
 *                         of logs and run directories: offsets and types only)
 *
 * Extra metrics: one count per type, named as the types.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "datafile.h"
#include "names.h"
#include "pconfig.h"
#include "rlaif/plugin.h"
#include "scan.h"

#define WHO "reward/privacy"

static const double default_weights[PII_N_TYPES] = {
    [PII_NAME] = 0.3, [PII_EMAIL] = 0.5, [PII_PHONE] = 0.5,   [PII_ADDRESS] = 0.5,
    [PII_CARD] = 1.0, [PII_IBAN] = 1.0,  [PII_IP] = 0.3,      [PII_NATIONAL_ID] = 1.0,
};

typedef struct privacy_reward {
    rwc_wordmap names;
    double weights[PII_N_TYPES];
    int enabled[PII_N_TYPES];
    double max_penalty;
    int details;
    int span_text;
    /* per-call buffers, reused */
    span_list spans;
    nword *name_work;
    char *json;           /* all details of the last batch, NUL-separated */
    size_t json_len, json_cap;
    size_t *json_off;     /* [batch] offset of sample i's JSON, or SIZE_MAX */
    size_t json_off_cap;
} privacy_reward;

/* ===== Create and destroy =============================================== */

static int type_index(const char *name)
{
    for (int k = 0; k < PII_N_TYPES; k++)
        if (strcmp(pii_type_names[k], name) == 0) return k;
    return -1;
}

static const char *type_list(void)
{
    return "name, email, phone, address, card, iban, ip, national_id";
}

static void read_weights(pconfig *c, privacy_reward *self)
{
    memcpy(self->weights, default_weights, sizeof self->weights);
    cJSON *w = pconfig_item(c, "weights");
    if (!w || c->failed) return;
    if (!cJSON_IsObject(w)) {
        pconfig_fail(c, "config key 'weights': expected an object {\"type\": weight}");
        return;
    }
    const cJSON *e;
    cJSON_ArrayForEach(e, w)
    {
        int k = type_index(e->string);
        if (k < 0) {
            pconfig_fail(c, "config key 'weights': unknown entity type '%s' (known: %s)",
                         e->string, type_list());
            return;
        }
        if (!cJSON_IsNumber(e) || e->valuedouble < 0 || e->valuedouble > 1e6) {
            pconfig_fail(c, "config key 'weights.%s': expected a number >= 0", e->string);
            return;
        }
        self->weights[k] = e->valuedouble;
    }
}

static void read_types(pconfig *c, privacy_reward *self)
{
    const char **list = NULL;
    cJSON *item = pconfig_item(c, "types");
    size_t n = pconfig_strings(c, "types", &list);
    if (c->failed) return;
    if (!item) {
        for (int k = 0; k < PII_N_TYPES; k++) self->enabled[k] = 1;
        return;
    }
    for (size_t i = 0; i < n; i++) {
        int k = type_index(list[i]);
        if (k < 0) {
            pconfig_fail(c, "config key 'types[%zu]': unknown entity type '%s' (known: %s)", i,
                         list[i], type_list());
            break;
        }
        self->enabled[k] = 1;
    }
    free(list);
}

static void privacy_destroy(void *vself)
{
    privacy_reward *self = vself;
    if (!self) return;
    rwc_wordmap_free(&self->names);
    free(self->spans.v);
    free(self->name_work);
    free(self->json);
    free(self->json_off);
    free(self);
}

static rlaif_status privacy_create(const rlaif_host *host, const char *config, void **out,
                                   char *err, size_t errlen)
{
    static const char *const keys[] = {"names",   "weights",   "types", "max_penalty",
                                       "details", "span_text", NULL};
    *out = NULL;
    privacy_reward *self = calloc(1, sizeof *self);
    if (!self) return rlaif_errorf(err, errlen, RLAIF_E_NOMEM, WHO ": out of memory");
    rwc_wordmap_init(&self->names);
    pconfig c;
    if (pconfig_open(&c, WHO, config, err, errlen)) {
        pconfig_close(&c);
        privacy_destroy(self);
        return RLAIF_E_INVALID;
    }
    const char *names = pconfig_string(&c, "names", NULL);
    read_weights(&c, self);
    read_types(&c, self);
    self->max_penalty = pconfig_number(&c, "max_penalty", 1.0, 1e-9, 1e9);
    self->details = pconfig_bool(&c, "details", 1);
    self->span_text = pconfig_bool(&c, "span_text", 1);
    pconfig_no_other_keys(&c, keys);
    rlaif_status st = c.failed ? RLAIF_E_INVALID : RLAIF_OK;
    char path[1024];
    if (!st && !names) {
        st = rwc_data_path(host, WHO, "privacy", "names.tsv", path, sizeof path, err, errlen);
        names = path;
    }
    if (!st && self->enabled[PII_NAME]) st = names_load(&self->names, names, err, errlen);
    pconfig_close(&c); /* `names` may point into the config tree: used above only */
    if (!st) {
        self->name_work = scan_names_workspace();
        if (!self->name_work) st = rlaif_errorf(err, errlen, RLAIF_E_NOMEM, WHO ": out of memory");
    }
    if (st) {
        privacy_destroy(self);
        return st;
    }
    *out = self;
    return RLAIF_OK;
}

/* ===== Details as JSON ================================================== */

static int json_reserve(privacy_reward *self, size_t more)
{
    if (self->json_len + more <= self->json_cap) return 0;
    size_t cap = self->json_cap ? self->json_cap : 4096;
    while (cap < self->json_len + more) cap *= 2;
    char *j = realloc(self->json, cap);
    if (!j) return -1;
    self->json = j;
    self->json_cap = cap;
    return 0;
}

static int json_put(privacy_reward *self, const char *s, size_t n)
{
    if (json_reserve(self, n)) return -1;
    memcpy(self->json + self->json_len, s, n);
    self->json_len += n;
    return 0;
}

/* A JSON string body: quotes, backslashes and control bytes escaped; other
 * bytes (UTF-8) as they are. */
static int json_put_escaped(privacy_reward *self, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        char buf[8];
        if (ch == '"' || ch == '\\') {
            buf[0] = '\\';
            buf[1] = (char)ch;
            if (json_put(self, buf, 2)) return -1;
        } else if (ch < 0x20) {
            snprintf(buf, sizeof buf, "\\u%04x", ch);
            if (json_put(self, buf, 6)) return -1;
        } else if (json_put(self, (const char *)&ch, 1)) {
            return -1;
        }
    }
    return 0;
}

/* Appends {"spans":[...]} for the sorted spans, NUL-terminated. */
static int json_spans(privacy_reward *self, const char *text)
{
    if (json_put(self, "{\"spans\":[", 10)) return -1;
    for (size_t i = 0; i < self->spans.n; i++) {
        const pii_span *sp = &self->spans.v[i];
        char head[128];
        int n = snprintf(head, sizeof head, "%s{\"type\":\"%s\",\"start\":%zu,\"end\":%zu",
                         i ? "," : "", pii_type_names[sp->type], sp->start, sp->end);
        if (json_put(self, head, (size_t)n)) return -1;
        if (self->span_text &&
            (json_put(self, ",\"text\":\"", 9) ||
             json_put_escaped(self, text + sp->start, sp->end - sp->start) ||
             json_put(self, "\"", 1)))
            return -1;
        if (json_put(self, "}", 1)) return -1;
    }
    return json_put(self, "]}", 3); /* with the NUL */
}

/* ===== Scoring ========================================================== */

static rlaif_status privacy_describe(void *self, rlaif_reward_desc *out)
{
    (void)self;
    out->n_metrics = PII_N_TYPES;
    out->metric_names = pii_type_names;
    return RLAIF_OK;
}

/* Runs the enabled scanners over one text into self->spans (sorted). */
static void scan_text_all(privacy_reward *self, const char *text)
{
    scan_text t = {(const unsigned char *)text, strlen(text)};
    span_list *l = &self->spans;
    l->n = 0;
    l->oom = 0;
    const int *on = self->enabled;
    if (on[PII_EMAIL]) scan_emails(&t, l);
    if (on[PII_IBAN]) scan_ibans(&t, l);
    if (on[PII_CARD]) scan_cards(&t, l);
    if (on[PII_NATIONAL_ID]) scan_national_ids(&t, l);
    if (on[PII_IP]) scan_ips(&t, l);
    if (on[PII_PHONE]) scan_phones(&t, l);
    if (on[PII_ADDRESS]) scan_addresses(&t, l);
    if (on[PII_NAME]) scan_names(&t, &self->names, self->name_work, l);
    spans_sort(l);
}

static rlaif_status privacy_score(void *vself, const rlaif_reward_batch *b, rlaif_reward_out *out,
                                  char *err, size_t errlen)
{
    privacy_reward *self = vself;
    int want_details = out->details && self->details;
    if (want_details && b->n > self->json_off_cap) {
        size_t *off = realloc(self->json_off, b->n * sizeof *off);
        if (!off) return rlaif_errorf(err, errlen, RLAIF_E_NOMEM, WHO ": out of memory");
        self->json_off = off;
        self->json_off_cap = b->n;
    }
    self->json_len = 0;
    for (size_t i = 0; i < b->n; i++) {
        const char *text = b->responses[i] ? b->responses[i] : "";
        scan_text_all(self, text);
        if (self->spans.oom) return rlaif_errorf(err, errlen, RLAIF_E_NOMEM, WHO ": out of memory");
        double penalty = 0;
        float *m = out->metrics ? out->metrics + i * PII_N_TYPES : NULL;
        if (m)
            for (int k = 0; k < PII_N_TYPES; k++) m[k] = 0;
        for (size_t s = 0; s < self->spans.n; s++) {
            pii_type ty = self->spans.v[s].type;
            penalty += self->weights[ty];
            if (m) m[ty] += 1;
        }
        out->rewards[i] = (float)-(penalty < self->max_penalty ? penalty : self->max_penalty);
        if (want_details) {
            self->json_off[i] = self->json_len;
            if (json_spans(self, text))
                return rlaif_errorf(err, errlen, RLAIF_E_NOMEM, WHO ": out of memory");
        } else if (out->details) {
            out->details[i] = NULL;
        }
    }
    /* pointers only now: the buffer may have moved while growing */
    if (want_details)
        for (size_t i = 0; i < b->n; i++) out->details[i] = self->json + self->json_off[i];
    return RLAIF_OK;
}

static const rlaif_reward_vtable privacy_vtable = {
    .base = {.struct_size = sizeof(rlaif_reward_vtable),
             .create = privacy_create,
             .destroy = privacy_destroy},
    .describe = privacy_describe,
    .score = privacy_score,
};

static const rlaif_plugin_info privacy_info = {
    .abi_version = RLAIF_ABI_VERSION,
    .struct_size = sizeof(rlaif_plugin_info),
    .kind = RLAIF_KIND_REWARD,
    .name = "privacy",
    .version = "1.0.0",
    .description = "penalty for personal data (names, e-mail, phone, address, card, IBAN, IP, "
                   "national ID) with the spans found",
    .caps = RLAIF_CAP_REWARD_SPANS,
    .vtable = &privacy_vtable,
};

RLAIF_PLUGIN(&privacy_info)
