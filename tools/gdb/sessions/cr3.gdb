break write_cr3
continue
bt 2
x/i $pc
p/x $rcx
p/x root_pa
memkern-regs
ptwalk 0x100000
ptwalk 0x100000 cr3=root_pa
stepi
memkern-regs
ptwalk 0x100000
ptwalk 0xffff800000200000
