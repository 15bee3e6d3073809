set architecture i386
target remote :{port}
set architecture auto
target remote :{port}
show architecture
hbreak _start
continue
p/x $rip
