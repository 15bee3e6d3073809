break gdb_checkpoint
continue
up
info locals
ptwalk 0xffff800000123456
ptwalk 0xffff800004000000
ptwalk c
pmm c
heap
heapblock c + 100
heapblock b
heapblock big
pmm
ptdump
