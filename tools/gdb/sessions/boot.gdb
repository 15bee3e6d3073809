hbreak _start
continue
p/x $cs
p/x $eax
memkern-regs
ptwalk 0x100000
x/3i 0x1001c5
dis32 0x1001c5 3
hbreak long_mode_entry
continue
x/2i $pc
memkern-regs
ptwalk $pc
ptdump
