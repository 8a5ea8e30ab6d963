set pagination off
set confirm off
info threads
break x86_cpu_pending_interrupt
commands
silent
printf "pending_interrupt cs=%p req=0x%x\n", $rdi, $esi
bt 6
end
break kvm_arch_process_async_events
commands
silent
printf "async cs=%p\n", $rdi
end
continue 6
detach
quit
