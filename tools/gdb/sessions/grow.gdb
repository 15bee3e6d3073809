break gdb_checkpoint if id == 2
continue
heap summary
ptdump heap
break ksbrk
continue
bt 3
p delta
p/x brk_cur
finish
p/x kbrk_current()
ptdump heap
ptwalk 0xffffc00000010000
heap summary
delete
tbreak gdb_checkpoint
continue
heap summary
call ksbrk(0)
