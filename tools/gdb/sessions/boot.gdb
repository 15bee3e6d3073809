hbreak _start
continue
p/x $cs
p/x $eax
memkern-regs
ptwalk 0x100000
x/3i _start+124
dis32 _start+124 3
hbreak long_mode_entry
continue
x/2i $pc
memkern-regs
ptwalk $pc
ptdump
