/* ldraw.c — see ldraw.h. */
#include "ldraw.h"

/* splitmix64's finaliser: every input bit moves every output bit. */
static uint64_t mix64(uint64_t x)
{
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

uint64_t lab_request_seed(uint64_t config_seed, uint64_t req_seed)
{
    return mix64(req_seed ^ mix64(config_seed ^ 0x6C6162656C6C6D00ull /* "labellm" */));
}

size_t lab_draw_principle(const lab_constitution *con, const size_t *subset, size_t n_subset,
                          uint64_t stream, uint32_t round)
{
    uint64_t s = round ? mix64(stream + 0xA24BAED4963EE407ull * round) : stream;
    return lab_constitution_pick(con, s, subset, n_subset);
}
