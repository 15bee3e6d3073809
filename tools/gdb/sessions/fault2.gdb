break trap_dispatch
continue
pferr f->error
p/x $cr2
info symbol $cr2
ptwalk $cr2
