break gdb_checkpoint if id == 5
continue
heap
heapblock (char *)gdbcheck.slab_ptr + 3
heapblock gdbcheck.slab_free_ptr
