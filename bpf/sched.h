/* sched.h: event structs shared by sched.bpf.c and its loader (placeholder until its engineer fills it). */
#ifndef TASKSCOPE_BPF_SCHED_H
#define TASKSCOPE_BPF_SCHED_H
#endif
