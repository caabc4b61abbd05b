/*
 * The hypercall and channel ABI shared by the VMM, the HRT kernel and the
 * ROS-side runtime. docs/abi.md describes the same contract in prose.
 *
 * A hypercall is one port-I/O write: `out %al, %dx` with DX set to
 * HVM_HC_PORT_BASE + operation. Arguments travel in RDI, RSI, R8 and R9
 * and the VMM stores the result in RAX. The byte written is ignored.
 * KVM handles `vmcall` inside the kernel, and on hosts whose KVM emulates
 * guest ring 0 `vmcall` livelocks, so port I/O is the only portable exit.
 * Ring-3 code may use these ports only because the HRT's TSS I/O
 * permission bitmap allows them.
 *
 * This header is included by freestanding code, hosted code and assembly.
 */
#ifndef HVM_ABI_H
#define HVM_ABI_H

#define HVM_HC_PORT_BASE 0x0500
#define HVM_HC_PORT_COUNT 32

/* Hypercall operations: the port is HVM_HC_PORT_BASE + operation. */
#define HVM_HC_CONSOLE_WRITE 0  /* RDI = guest physical address, RSI = length */
#define HVM_HC_EXIT 1           /* RDI = exit status (0-255) */
#define HVM_HC_BOOT_COMPLETE 2  /* RDI = TSC at HRT entry, RSI = TSC now */
#define HVM_HC_PANIC 3          /* RDI = address of struct hvm_panic_report */
#define HVM_HC_TEST_RESULT 4    /* RDI = address of struct hvm_test_result */
#define HVM_HC_EXCEPTION 5      /* RDI = address of struct hvm_exception */
#define HVM_HC_CHANNEL_WAIT 6   /* RDI = channel address: sleep for a reply */
#define HVM_HC_CHANNEL_WAKE 7   /* RDI = channel address: wake the partner */
#define HVM_HC_CHANNEL_ACTION 8 /* RDI = channel address: apply the action */
#define HVM_HC_REBOOT 9         /* no arguments: reboot the HRT */
/* Guest-ROS hybridization: made by a process in the Linux guest (ring 3,
 * ports opened with ioperm), see "Guest-ROS hybridization" in docs/abi.md. */
#define HVM_HC_GROUP_CREATE 10  /* RDI = virtual address of hvm_group_start */
#define HVM_HC_PROCESS_EXIT 11  /* no arguments: end the caller's groups */
#define HVM_HC_HRT_STATUS 12    /* RDI = virtual address of hvm_hrt_status */
#define HVM_HC_HRT_REBOOT 13    /* no arguments: reboot an idle HRT */
#define HVM_HC_COUNT 14

/* Results returned in RAX. Non-negative values are operation-specific. */
#define HVM_OK 0
#define HVM_ERR_INVAL (-1)  /* an argument is out of its valid range */
#define HVM_ERR_FAULT (-2)  /* a guest address is outside guest memory */
#define HVM_ERR_NOSYS (-3)  /* the operation does not exist */
#define HVM_ERR_STATE (-4)  /* the operation is not valid in this state */
#define HVM_ERR_BUSY (-5)   /* no free HRT CPU, or processes are hybridized */

/* Largest console write accepted in one hypercall, in bytes. */
#define HVM_CONSOLE_WRITE_MAX 4096

/* The VMM passes the boot-info address in RDI and the CPU index in RSI. */
#define HVM_BOOT_MAGIC 0x31544f4f42545248ULL /* "HRTBOOT1" */
#define HVM_BOOT_VERSION 1
#define HVM_MAX_HRT_CPUS 64

/* Boot-info flags. */
#define HVM_BOOT_SELFTEST (1u << 0) /* run the self-tests, then exit */
#define HVM_BOOT_HOST_ROS (1u << 1) /* the host kernel is the ROS */
#define HVM_BOOT_GUEST_ROS (1u << 2) /* a Linux guest owns the ROS CPUs */

/* Kernel virtual layout, fixed for every HRT image. */
#define HVM_KERNEL_VIRT_BASE 0xffffffff80000000ULL /* maps phys base */
#define HVM_DIRECT_MAP_VIRT 0xffff800000000000ULL

/* Selectors in the GDT that the VMM builds for every HRT CPU. */
#define HVM_SEL_KERNEL_CS 0x10
#define HVM_SEL_KERNEL_DS 0x18
#define HVM_SEL_USER32_CS 0x23
#define HVM_SEL_USER_DS 0x2b
#define HVM_SEL_USER_CS 0x33
#define HVM_SEL_TSS 0x40
#define HVM_GDT_ENTRIES 10 /* null, unused, kcs, kds, ucs32, uds, ucs, unused, tss(2) */

/* IST slots in each CPU's TSS (1-based, as the IDT gate encodes them). */
#define HVM_IST_FAULT 1 /* exceptions */
#define HVM_IST_NMI 2   /* NMI, double fault, machine check */
#define HVM_IST_IRQ 3   /* external and IPI interrupts */

/* Test status values in struct hvm_test_result. */
#define HVM_TEST_PASS 0
#define HVM_TEST_FAIL 1
#define HVM_TEST_SKIP 2

/*
 * The forwarding channel of one execution group: a 4 KiB page in the
 * process's memory, locked, at the HRT thread's GS base. The HRT side
 * writes the request line and polls REP_SEQ; the partner polls REQ_SEQ,
 * runs the call and writes the reply line. Offsets are in bytes; the two
 * lines are 256 bytes apart so that the pollers do not share cache lines.
 */
#define HVM_CH_REQ_SEQ 0          /* u32, bumped by the HRT side */
#define HVM_CH_PARTNER_WAITING 4  /* u32, 1 while the partner sleeps */
#define HVM_CH_NR 8               /* u64 system-call number */
#define HVM_CH_ARGS 16            /* u64[6]: RDI, RSI, RDX, R10, R8, R9 */
#define HVM_CH_RBX 64             /* u64 registers at the call, for clone */
#define HVM_CH_RBP 72
#define HVM_CH_R12 80
#define HVM_CH_R13 88
#define HVM_CH_R14 96
#define HVM_CH_R15 104
#define HVM_CH_RSP 112            /* RSP at the `syscall` instruction */
#define HVM_CH_RIP 120            /* where the call returns (RCX) */
#define HVM_CH_RFLAGS 128         /* RFLAGS at the call (R11) */
#define HVM_CH_SELF 136           /* u64 address of this channel */
#define HVM_CH_SPIN_CYCLES 144    /* u64 TSC cycles to poll before sleeping */
#define HVM_CH_APP_RING 152       /* u64 ring of the application code */
#define HVM_CH_REP_SEQ 256        /* u32, set to REQ_SEQ by the partner */
#define HVM_CH_GUEST_WAITING 260  /* u32, 1 while the HRT side sleeps */
#define HVM_CH_RET 264            /* s64 result (-errno on failure) */
#define HVM_CH_ACTION 272         /* u64, nonzero: the VMM must act first */
#define HVM_CH_FXSAVE 512         /* 512 bytes of FXSAVE state, for fork */
#define HVM_CH_SIZE 4096

/* HVM_CH_ACTION values. */
#define HVM_CH_ACTION_NONE 0
#define HVM_CH_ACTION_VMM 1 /* call HVM_HC_CHANNEL_ACTION before returning */

/*
 * Guest-ROS channel additions. The partner is in the Linux guest, so it
 * tells the VMM what to do through the channel: HVM_CH_ACTION holds an OR
 * of the bits below (each also makes it nonzero, so the HRT side calls
 * HVM_HC_CHANNEL_ACTION) and HVM_CH_ACTION_ARG their argument.
 */
#define HVM_CH_ACTION_FLUSH 2  /* mappings changed: flush the HRT's TLBs */
#define HVM_CH_ACTION_SET_FS 4 /* load HVM_CH_ACTION_ARG into the FS base */
#define HVM_CH_ACTION_EXIT 8   /* the thread has exited: free its HRT CPU */
#define HVM_CH_ACTION_ARG 280  /* u64 argument of HVM_CH_ACTION */
#define HVM_CH_CALLS 288       /* u64 calls served, counted by the partner */
#define HVM_CH_STOPPED 296     /* u32 set to 1 by the VMM once the HRT
                                  thread has left its CPU for good */
/*
 * A request the VMM writes into the request line on behalf of a stopped
 * HRT thread: ARGS[0] = vector, ARGS[1] = error code, ARGS[2] = CR2,
 * ARGS[3] = RIP. The partner returns 0 once it has made the faulting
 * access valid (a page fault it could serve); otherwise it ends the
 * process with the signal Linux would have sent.
 */
#define HVM_CH_NR_EXCEPTION 0x10000

#ifndef __ASSEMBLER__
#include <stdint.h>

/* Per-CPU data the VMM prepares before it starts an HRT CPU. */
struct hvm_boot_cpu {
    uint32_t apic_id;
    uint32_t reserved;
    uint64_t stack_top;  /* kernel stack, virtual */
    uint64_t ist_top[3]; /* IST1..IST3 stacks, virtual */
    uint64_t tss;        /* this CPU's TSS, virtual (RSP0 and IST are set) */
    uint64_t gdt;        /* this CPU's GDT, virtual */
    uint64_t percpu;     /* HRT_PERCPU_SIZE bytes of zeroed per-CPU data */
};

/*
 * The boot information block. The VMM writes it into HRT memory and
 * never reads it back, so nothing the HRT writes here is trusted.
 */
struct hvm_boot_info {
    uint64_t magic;
    uint32_t version;
    uint32_t flags;
    uint32_t ncpus;
    uint32_t boot_count; /* 0 on the first boot, then 1, 2, ... */
    uint64_t hrt_phys_base;  /* first byte of HRT memory */
    uint64_t hrt_mem_size;   /* bytes of HRT memory */
    uint64_t dmap_virt;      /* direct map: virtual address of dmap_phys */
    uint64_t dmap_phys;
    uint64_t dmap_size;
    uint64_t heap_phys;      /* free HRT memory for the kernel heap */
    uint64_t heap_size;
    uint64_t user_virt;      /* a region mapped for ring-3 use */
    uint64_t user_phys;
    uint64_t user_size;
    uint64_t tsc_khz;        /* TSC frequency measured by the VMM */
    uint64_t lapic_phys;     /* xAPIC MMIO base */
    uint64_t pml4_phys;      /* the boot page tables */
    uint32_t selftest_mask;  /* which self-tests to run, 0 = all */
    uint32_t reserved;
    struct hvm_boot_cpu cpus[HVM_MAX_HRT_CPUS];
};

/* HVM_HC_PANIC argument. The VMM validates every field it prints. */
struct hvm_panic_report {
    uint32_t cpu;
    uint32_t vector; /* exception vector, or 0xffffffff for a software panic */
    uint64_t error_code;
    uint64_t rip;
    uint64_t cr2;
    uint64_t rsp;
    uint64_t rflags;
    uint64_t cs;
    char message[96]; /* NUL-terminated; the VMM stops at 95 bytes */
};

/* HVM_HC_TEST_RESULT argument. */
struct hvm_test_result {
    uint32_t cpu;
    int32_t status; /* HVM_TEST_PASS, HVM_TEST_FAIL or HVM_TEST_SKIP */
    char name[32];  /* NUL-terminated */
    char detail[96]; /* NUL-terminated */
};

/* HVM_HC_EXCEPTION argument: an exception taken by application code. */
struct hvm_exception {
    uint64_t vector;
    uint64_t error_code;
    uint64_t rip;
    uint64_t cs;
    uint64_t rflags;
    uint64_t rsp;
    uint64_t ss;
    uint64_t cr2;
};

/* HVM_HC_GROUP_CREATE argument: the first state of one HRT thread. */
struct hvm_group_start {
    uint64_t channel; /* page-aligned virtual address of the channel */
    uint64_t lstar;   /* the process's system-call entry */
    uint64_t rip, rsp, rflags, fs_base;
    /* RAX, RBX, RCX, RDX, RSI, RDI, RBP, R8-R15 */
    uint64_t gprs[15];
    uint32_t pid, tid; /* for hvmctl only */
};

/* One hybridized process in struct hvm_hrt_status. */
struct hvm_hrt_process {
    uint32_t pid;
    uint32_t threads;       /* execution groups now */
    uint64_t calls;         /* system calls forwarded */
    uint64_t faults;        /* page faults served by the partner */
    uint64_t flushes;       /* HRT TLB flushes after mapping changes */
    uint64_t merges;        /* lower-half copies (start, new PML4 entries) */
};

#define HVM_HRT_STATUS_PROCESSES 32

/* HVM_HC_HRT_STATUS result, written by the VMM; fits one 4 KiB page. */
struct hvm_hrt_status {
    uint32_t hrt_cpus;
    uint32_t busy_cpus;
    uint32_t boot_count;
    uint32_t nr_processes;
    uint64_t groups_created; /* since the VM started */
    struct hvm_hrt_process processes[HVM_HRT_STATUS_PROCESSES];
};

#endif /* __ASSEMBLER__ */
#endif /* HVM_ABI_H */
