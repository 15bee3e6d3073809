/* kernel/early_map.h - boot direct map over all RAM (see early_map.c). */
#ifndef KERNEL_EARLY_MAP_H
#define KERNEL_EARLY_MAP_H

#include <stdint.h>

#include "../alloc/memmap.h"

/* Returns the bytes it carved (and reserved in map) for page directories; 0 if none needed. */
uint64_t early_map_all_ram(struct memmap *map);

#endif
