/* tokio.h: event structs shared by tokio.bpf.c and its loader (placeholder until its engineer fills it). */
#ifndef TASKSCOPE_BPF_TOKIO_H
#define TASKSCOPE_BPF_TOKIO_H
#endif
