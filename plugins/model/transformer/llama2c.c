/*
 * llama2c.c — the llama2.c checkpoint format (.bin, "legacy" version 0).
 *
 * Header: 7 little-endian int32 (dim, hidden_dim, n_layers, n_heads,
 * n_kv_heads, vocab_size, seq_len); a negative vocab_size means the file has
 * its own classifier.  Then f32 arrays grouped by kind across layers:
 * tok_emb [V,D], rms_att [L,D], wq [L,D,D], wk [L,KV*hd,D], wv [L,KV*hd,D],
 * wo [L,D,D], rms_ffn [L,D], w1 [L,F,D], w2 [L,D,F], w3 [L,F,D],
 * rms_final [D], two legacy RoPE tables [seq_len, hd/2] (skipped), then the
 * classifier [V,D] when not shared.
 *
 * llama2.c rotates adjacent pairs (2i, 2i+1) of each head; the engine keeps
 * the Hugging Face layout (i, i+hd/2), so wq and wk rows are permuted here.
 * The attention scores are unchanged by that permutation (the same one is
 * applied to queries and keys).
 */
#include "model.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* dst rows in HF order from src rows in interleaved order, head by head. */
static void permute_rope_rows(float *dst, const float *src, size_t n_heads, size_t hd, size_t cols)
{
    size_t half = hd / 2;
    for (size_t h = 0; h < n_heads; h++)
        for (size_t i = 0; i < half; i++)
            for (size_t c = 0; c < 2; c++)
                memcpy(dst + (h * hd + c * half + i) * cols, src + (h * hd + 2 * i + c) * cols,
                       cols * sizeof(float));
}

rlaif_status tf_model_load_llama2c(const char *path, int value_head, int score_head,
                                   uint64_t seed, tf_model **out, char *err, size_t errlen)
{
    *out = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return rlaif_errorf(err, errlen, RLAIF_E_IO, "%s: cannot open: %s", path,
                            strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0 || sb.st_size < 28) {
        close(fd);
        return rlaif_errorf(err, errlen, RLAIF_E_FORMAT,
                            "%s: too short for a llama2.c checkpoint header", path);
    }
    size_t size = (size_t)sb.st_size;
    const uint8_t *map = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (map == MAP_FAILED)
        return rlaif_errorf(err, errlen, RLAIF_E_IO, "%s: mmap failed", path);
    int32_t h[7];
    memcpy(h, map, sizeof h);
    tf_config c;
    memset(&c, 0, sizeof c);
    c.arch = TF_LLAMA;
    c.dim = h[0];
    c.hidden_dim = h[1];
    c.n_layers = h[2];
    c.n_heads = h[3];
    c.n_kv_heads = h[4];
    int shared = h[5] > 0;
    c.vocab_size = h[5] == INT32_MIN ? 0 : h[5] < 0 ? -h[5] : h[5];
    c.max_seq_len = h[6];
    c.head_dim = c.n_heads > 0 ? c.dim / c.n_heads : 0;
    c.norm_eps = 1e-5f;
    c.rope_theta = 10000.0f;
    c.tied = shared;
    c.bos_id = 1;
    c.eos_id = 2;
    c.pad_id = -1;
    c.value_head = value_head;
    c.score_head = score_head;
    rlaif_status st = RLAIF_OK;
    if (c.n_heads <= 0 || c.dim % c.n_heads)
        st = rlaif_errorf(err, errlen, RLAIF_E_FORMAT,
                          "%s: dim %d is not a multiple of n_heads %d", path, c.dim, c.n_heads);
    /* The header's shapes must fit in the file before any memory is
     * committed to them (the config check bounds every product). */
    size_t n_params = 0;
    if (!st) st = tf_config_param_count(&c, &n_params, err, errlen);
    if (st) {
        munmap((void *)map, size);
        return st;
    }
    size_t D = (size_t)c.dim, F = (size_t)c.hidden_dim, L = (size_t)c.n_layers,
           V = (size_t)c.vocab_size, hd = (size_t)c.head_dim, KVD = (size_t)c.n_kv_heads * hd;
    double need_d = (double)V * D + (double)L * D * 2 + 2.0 * L * D * D + 2.0 * L * KVD * D +
                    3.0 * L * F * D + D + (double)c.max_seq_len * hd + (shared ? 0 : (double)V * D);
    if ((double)(size - 28) < need_d * 4) {
        munmap((void *)map, size);
        return rlaif_errorf(err, errlen, RLAIF_E_FORMAT,
                            "%s: truncated: %zu bytes, the header's shapes need %.0f", path, size,
                            28 + need_d * 4);
    }
    tf_model *m = NULL;
    st = tf_model_create(&c, &m, err, errlen);
    if (st) {
        munmap((void *)map, size);
        return st;
    }
    /* Walk the file's arrays in order; `p` is the read cursor (aligned
     * copies: the mapping is only 4-byte aligned after the header). */
    const float *base = (const float *)(map + 28), *p = base;
    tf_weights *w = &m->w;
    memcpy(w->tok_emb, p, V * D * 4), p += V * D;
    for (size_t l = 0; l < L; l++) memcpy(w->layers[l].ln1_w, p + l * D, D * 4);
    p += L * D;
    size_t QD = (size_t)c.n_heads * hd;
    for (size_t l = 0; l < L; l++) permute_rope_rows(w->layers[l].wqkv, p + l * D * D, (size_t)c.n_heads, hd, D);
    p += L * D * D;
    for (size_t l = 0; l < L; l++)
        permute_rope_rows(w->layers[l].wqkv + QD * D, p + l * KVD * D, (size_t)c.n_kv_heads, hd, D);
    p += L * KVD * D;
    for (size_t l = 0; l < L; l++) memcpy(w->layers[l].wqkv + (QD + KVD) * D, p + l * KVD * D, KVD * D * 4);
    p += L * KVD * D;
    for (size_t l = 0; l < L; l++) memcpy(w->layers[l].wo, p + l * D * D, D * D * 4);
    p += L * D * D;
    for (size_t l = 0; l < L; l++) memcpy(w->layers[l].ln2_w, p + l * D, D * 4);
    p += L * D;
    for (size_t l = 0; l < L; l++) memcpy(w->layers[l].w_up, p + l * F * D, F * D * 4); /* w1 = gate */
    p += L * F * D;
    for (size_t l = 0; l < L; l++) memcpy(w->layers[l].w_down, p + l * D * F, D * F * 4); /* w2 */
    p += L * D * F;
    for (size_t l = 0; l < L; l++) memcpy(w->layers[l].w_up + F * D, p + l * F * D, F * D * 4); /* w3 = up */
    p += L * F * D;
    memcpy(w->lnf_w, p, D * 4), p += D;
    p += (size_t)c.max_seq_len * hd; /* the two legacy RoPE tables, hd/2 each */
    if (!shared) memcpy(w->lm_head, p, V * D * 4);
    munmap((void *)map, size);
    tf_model_init_heads(m, seed, 1, 1);
    *out = m;
    return RLAIF_OK;
}
