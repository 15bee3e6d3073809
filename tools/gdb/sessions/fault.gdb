break trap_dispatch
continue
p f->vector
p/x f->error
p/x f->rip
info symbol f->rip
p/x $cr2
ptwalk $cr2
ptwalk f->rip
continue
p/x f->error
p/x $cr2
ptwalk $cr2
