/*
 * Declarations shared by the HRT kernel's C and assembly files: the
 * per-CPU block (reached through GS), the trap frame, interrupt vectors
 * and the small kernel API (console, heap, threads, ring 3).
 */
#ifndef HRT_KERNEL_H
#define HRT_KERNEL_H

#include <hvm/abi.h>

/* Offsets into struct hrt_percpu that the assembly files use. */
#define PERCPU_SELF 0
#define PERCPU_CPU 8
#define PERCPU_USER_RETURN_RSP 16 /* kernel RSP saved by hrt_user_enter */
#define PERCPU_SYSCALL_STACK 24   /* top of the ring-0 syscall stack */
#define PERCPU_SYSCALL_USER_RSP 32

/* Interrupt vectors. Exceptions use 0-31. */
#define HRT_VEC_TIMER 0x20
#define HRT_VEC_IPI 0x21      /* wake-up */
#define HRT_VEC_IPI_TEST 0x22 /* IPI self-test */
#define HRT_VEC_SPURIOUS 0xff

/* System call numbers of the self-test system call interface. */
#define HRT_SYS_TEST_ADD 1 /* returns RDI + RSI and records the ring */
#define HRT_SYS_GETCPU 2

#define HRT_ENOSYS 38

/*
 * boot_info.selftest_mask: bits 0-15 select self-tests (0 selects all),
 * bits 16-23 ask CPU 0 to end boots 0 .. N-1 with HVM_HC_REBOOT instead
 * of HVM_HC_EXIT. hvm/hrt_test.c uses the same encoding.
 */
#define HRT_SELFTEST_TESTS_MASK 0xffffu
#define HRT_SELFTEST_REBOOTS_SHIFT 16
#define HRT_SELFTEST_REBOOTS_MASK 0xffu

#ifndef __ASSEMBLER__
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#define HRT_NORETURN __attribute__((noreturn))
#define HRT_PRINTF(a, b) __attribute__((format(printf, a, b)))

/*
 * Registers saved by the exception and interrupt stubs, lowest address
 * first. The CPU pushed everything from error_code on.
 */
struct hrt_frame {
    uint64_t r15, r14, r13, r12, r11, r10, r9, r8;
    uint64_t rbp, rdi, rsi, rdx, rcx, rbx, rax;
    uint64_t vector;
    uint64_t error_code; /* 0 for vectors without one */
    uint64_t rip, cs, rflags, rsp, ss;
};

struct hrt_thread;

/*
 * Per-CPU data at the GS base. The VMM hands each CPU one zeroed page
 * (HRT_PERCPU_SIZE in hvm/hrt_boot.h), so this must stay under 4 KiB.
 */
struct hrt_percpu {
    struct hrt_percpu *self;
    uint64_t cpu;
    uint64_t user_return_rsp;
    uint64_t syscall_stack;
    uint64_t syscall_user_rsp;
    uint32_t apic_id;
    uint32_t reserved;

    /* Last exception recovered through the fixup table. */
    uint64_t fixup_vector;
    uint64_t fixup_error_code;
    uint64_t fixup_cr2;
    uint64_t fixup_count;

    /* Ring-3 exit state, set by the #UD handler. */
    uint64_t user_fault_vector; /* ~0 unless ring 3 faulted */
    uint64_t user_fault_rip;
    uint64_t user_rbx; /* RBX and RDX at the ring-3 exit */
    uint64_t user_rdx;
    uint64_t syscall_ring; /* ring the last system call landed in */
    uint64_t syscall_count;

    volatile uint64_t ticks;          /* LAPIC timer interrupts */
    volatile uint64_t ipi_count;      /* HRT_VEC_IPI received */
    volatile uint64_t ipi_test_count; /* HRT_VEC_IPI_TEST received */
    uint64_t ipi_test_tsc;            /* TSC at the last test IPI */

    /* Heap arena of this CPU. */
    struct hrt_heap_block *heap_free;
    uint64_t heap_base;
    uint64_t heap_size;

    /* Scheduler: a circular list of this CPU's threads. */
    struct hrt_thread *current;
    struct hrt_thread *boot_thread_storage;
    uint64_t preemptions;
    int preempt_enabled;
};

_Static_assert(sizeof(struct hrt_percpu) <= 4096, "percpu block too large");

struct hrt_heap_block;

/* Boot data, valid on every CPU after hrt_main starts. */
extern const struct hvm_boot_info *hrt_boot_info;

static inline struct hrt_percpu *hrt_this_cpu(void)
{
    struct hrt_percpu *p;
    __asm__ volatile("mov %%gs:0, %0" : "=r"(p));
    return p;
}

static inline uint64_t hrt_rdtsc(void)
{
    uint32_t lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return ((uint64_t)hi << 32) | lo;
}

static inline uint64_t hrt_irq_save(void)
{
    uint64_t flags;
    __asm__ volatile("pushfq; pop %0; cli" : "=r"(flags)::"memory");
    return flags;
}

static inline void hrt_irq_restore(uint64_t flags)
{
    __asm__ volatile("push %0; popfq" ::"r"(flags) : "memory", "cc");
}

/* Waits for an interrupt with interrupts enabled, then disables them. */
static inline void hrt_wait_interrupt(void)
{
    __asm__ volatile("sti; hlt; cli" ::: "memory");
}

static inline void hrt_wrmsr(uint32_t msr, uint64_t value)
{
    __asm__ volatile("wrmsr" ::"c"(msr), "a"((uint32_t)value),
                     "d"((uint32_t)(value >> 32)));
}

/* hypercall.c */
int64_t hrt_hypercall(unsigned op, uint64_t arg0, uint64_t arg1);
uint64_t hrt_virt_to_phys(const void *virt);
void *hrt_phys_to_virt(uint64_t phys);
int hrt_vsnprintf(char *buf, size_t size, const char *fmt, va_list ap);
int hrt_snprintf(char *buf, size_t size, const char *fmt, ...) HRT_PRINTF(3, 4);
void hrt_printf(const char *fmt, ...) HRT_PRINTF(1, 2);
void hrt_test_report(const char *name, int status, const char *fmt, ...)
    HRT_PRINTF(3, 4);
HRT_NORETURN void hrt_panic(const char *fmt, ...) HRT_PRINTF(1, 2);
HRT_NORETURN void hrt_halt_forever(void);
uint64_t hrt_tsc_to_us(uint64_t tsc_delta);

/* string.c */
void *memset(void *dst, int c, size_t n);
void *memcpy(void *dst, const void *src, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);

/* idt.c */
void hrt_idt_load(void);
int hrt_trap(struct hrt_frame *frame);

/*
 * LAPIC timer input clock in counts per microsecond, with the divider at
 * 1. KVM's emulated APIC counts at 1 GHz unless the VMM sets another bus
 * cycle length; the timer self-test measures the real rate.
 */
#define LAPIC_COUNTS_PER_US 1000u

/* lapic.c */
void hrt_lapic_init(void);
void hrt_lapic_eoi(void);
void hrt_lapic_timer_start(uint32_t period_us);
void hrt_lapic_timer_stop(void);
uint32_t hrt_lapic_timer_current(void);
void hrt_lapic_send_ipi(uint32_t apic_id, uint8_t vector);
int hrt_timer_interrupt(struct hrt_frame *frame);
void hrt_ipi_interrupt(struct hrt_frame *frame);

/* heap.c */
void hrt_heap_init(void);
void *hrt_malloc(size_t size);
void *hrt_malloc_aligned(size_t size, size_t align);
void hrt_free(void *ptr);
uint64_t hrt_heap_free_bytes(void);

/* thread.c */
typedef uint64_t (*hrt_thread_fn)(uint64_t arg);
void hrt_sched_init(void);
struct hrt_thread *hrt_thread_create(hrt_thread_fn fn, uint64_t arg);
void hrt_yield(void);
uint64_t hrt_thread_join(struct hrt_thread *thread);
void hrt_preempt_schedule(void);
int hrt_sched_others_runnable(void);

/* user.c */
void hrt_user_init(void);
uint64_t hrt_user_address(const char *blob_symbol);
uint64_t hrt_user_stack_top(void);
int hrt_user_exception(struct hrt_frame *frame);
int64_t hrt_syscall_dispatch(uint64_t nr, uint64_t arg0, uint64_t arg1,
                             uint64_t ring);

/* selftest.c */
void hrt_selftests_run(void);

/* entry.S */
extern const uint64_t hrt_fixup_table_start[], hrt_fixup_table_end[];
extern const uint64_t hrt_isr_table[32];
extern void hrt_isr_timer(void), hrt_isr_ipi(void), hrt_isr_ipi_test(void);
extern void hrt_isr_spurious(void);
void hrt_context_switch(uint64_t *save_rsp, uint64_t new_rsp);
void hrt_thread_trampoline(void);
uint64_t hrt_user_enter(uint64_t entry, uint64_t stack, uint64_t arg0,
                        uint64_t arg1);
HRT_NORETURN void hrt_user_return(uint64_t value);
extern const char hrt_user_blob_start[], hrt_user_blob_end[];
extern const char hrt_user_test_entry[], hrt_user_exit[];
extern const char hrt_syscall_entry[], hrt_syscall_ring3_trap[];
uint64_t hrt_selftest_fault_ud(void);
uint64_t hrt_selftest_fault_de(void);
uint64_t hrt_selftest_fault_pf(uint64_t address);
uint64_t hrt_selftest_fault_gp(void);
#endif /* __ASSEMBLER__ */
#endif /* HRT_KERNEL_H */
