/* internal.h — declarations shared between the core's own files only. */
#ifndef RLAIF_CORE_INTERNAL_H
#define RLAIF_CORE_INTERNAL_H

#include "core.h"

void rlc_loader_init(const char *exe_dir);
void rlc_loader_shutdown(void);
void rlc_instances_shutdown(void);
void rlc_host_init(void);

#endif
