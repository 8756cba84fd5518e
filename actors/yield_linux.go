package actors

import "syscall"

// osYield gives the CPU to another runnable thread, if any, without
// releasing the goroutine's P: sched_yield(2).
func osYield() { syscall.RawSyscall(syscall.SYS_SCHED_YIELD, 0, 0, 0) }
