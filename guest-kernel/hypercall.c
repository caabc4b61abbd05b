/*
 * Calls into the VMM (port-I/O hypercalls, see include/hvm/abi.h), address
 * translation for the arguments it needs, and the small text formatter
 * behind the console, test reports and panics.
 */
#include "kernel.h"

int64_t hrt_hypercall(unsigned op, uint64_t arg0, uint64_t arg1)
{
    int64_t result;
    uint16_t port = (uint16_t)(HVM_HC_PORT_BASE + op);

    __asm__ volatile("outb %%al, %%dx"
                     : "=a"(result)
                     : "a"(0), "d"(port), "D"(arg0), "S"(arg1)
                     : "memory");
    return result;
}

/*
 * Translates a kernel-window, direct-map or user-region address into a
 * guest physical address for the VMM. Returns ~0 for other addresses.
 */
uint64_t hrt_virt_to_phys(const void *virt)
{
    const struct hvm_boot_info *info = hrt_boot_info;
    uint64_t v = (uint64_t)virt;

    if (v >= HVM_KERNEL_VIRT_BASE)
        return v - HVM_KERNEL_VIRT_BASE + info->hrt_phys_base;
    if (v >= info->dmap_virt && v - info->dmap_virt < info->dmap_size)
        return v - info->dmap_virt + info->dmap_phys;
    if (v >= info->user_virt && v - info->user_virt < info->user_size)
        return v - info->user_virt + info->user_phys;
    return ~0ULL;
}

void *hrt_phys_to_virt(uint64_t phys)
{
    return (void *)(phys - hrt_boot_info->dmap_phys + hrt_boot_info->dmap_virt);
}

uint64_t hrt_tsc_to_us(uint64_t tsc_delta)
{
    uint64_t khz = hrt_boot_info->tsc_khz;

    return khz ? tsc_delta * 1000 / khz : 0;
}

struct hrt_out {
    char *buf;
    size_t size;
    size_t len;
};

static void out_char(struct hrt_out *out, char c)
{
    if (out->len + 1 < out->size)
        out->buf[out->len] = c;
    out->len++;
}

static void out_number(struct hrt_out *out, uint64_t value, unsigned base,
                       int negative, int width, char pad)
{
    char digits[24];
    int n = 0;

    do {
        unsigned d = (unsigned)(value % base);
        digits[n++] = (char)(d < 10 ? '0' + d : 'a' + d - 10);
        value /= base;
    } while (value);
    if (negative)
        digits[n++] = '-';
    while (width-- > n)
        out_char(out, pad);
    while (n)
        out_char(out, digits[--n]);
}

/* Reads one integer argument of the given length modifier count. */
static uint64_t arg_unsigned(va_list *ap, int longs)
{
    if (longs)
        return va_arg(*ap, unsigned long);
    return va_arg(*ap, unsigned int);
}

static int64_t arg_signed(va_list *ap, int longs)
{
    if (longs)
        return va_arg(*ap, long);
    return va_arg(*ap, int);
}

/* Formats one conversion; fmt points at the character after '%'. */
static const char *out_conversion(struct hrt_out *out, const char *fmt,
                                  va_list *ap)
{
    char pad = ' ';
    int width = 0, longs = 0;

    if (*fmt == '0')
        pad = *fmt++;
    while (*fmt >= '0' && *fmt <= '9')
        width = width * 10 + (*fmt++ - '0');
    while (*fmt == 'l' || *fmt == 'z')
        longs++, fmt++;
    switch (*fmt) {
    case 'd': {
        int64_t v = arg_signed(ap, longs);
        uint64_t mag = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
        out_number(out, mag, 10, v < 0, width, pad);
        break;
    }
    case 'u':
        out_number(out, arg_unsigned(ap, longs), 10, 0, width, pad);
        break;
    case 'x':
        out_number(out, arg_unsigned(ap, longs), 16, 0, width, pad);
        break;
    case 'p':
        out_char(out, '0');
        out_char(out, 'x');
        out_number(out, (uint64_t)va_arg(*ap, void *), 16, 0, 0, ' ');
        break;
    case 's': {
        const char *s = va_arg(*ap, const char *);
        while (s && *s)
            out_char(out, *s++);
        break;
    }
    case 'c':
        out_char(out, (char)va_arg(*ap, int));
        break;
    default:
        out_char(out, '%');
        if (*fmt)
            out_char(out, *fmt);
        else
            return fmt;
    }
    return fmt + 1;
}

/* Supports %d %u %x %p %s %c %%, the l/ll/z modifiers and a 0/width. */
int hrt_vsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
{
    struct hrt_out out = {buf, size, 0};
    va_list copy;

    va_copy(copy, ap);
    while (*fmt) {
        if (*fmt != '%') {
            out_char(&out, *fmt++);
            continue;
        }
        fmt = out_conversion(&out, fmt + 1, &copy);
    }
    va_end(copy);
    if (size)
        buf[out.len < size ? out.len : size - 1] = '\0';
    return (int)out.len;
}

int hrt_snprintf(char *buf, size_t size, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = hrt_vsnprintf(buf, size, fmt, ap);
    va_end(ap);
    return n;
}

void hrt_printf(const char *fmt, ...)
{
    char line[160];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = hrt_vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (n >= (int)sizeof(line))
        n = sizeof(line) - 1;
    hrt_hypercall(HVM_HC_CONSOLE_WRITE, hrt_virt_to_phys(line), (uint64_t)n);
}

void hrt_test_report(const char *name, int status, const char *fmt, ...)
{
    struct hvm_test_result result;
    va_list ap;
    size_t i;

    memset(&result, 0, sizeof(result));
    result.cpu = (uint32_t)hrt_this_cpu()->cpu;
    result.status = status;
    for (i = 0; name[i] && i + 1 < sizeof(result.name); i++)
        result.name[i] = name[i];
    va_start(ap, fmt);
    hrt_vsnprintf(result.detail, sizeof(result.detail), fmt, ap);
    va_end(ap);
    hrt_hypercall(HVM_HC_TEST_RESULT, hrt_virt_to_phys(&result), 0);
}

HRT_NORETURN void hrt_halt_forever(void)
{
    for (;;)
        __asm__ volatile("cli; hlt");
}

/* Reports a software panic (vector 0xffffffff) and stops this CPU. */
HRT_NORETURN void hrt_panic(const char *fmt, ...)
{
    struct hvm_panic_report report;
    va_list ap;

    memset(&report, 0, sizeof(report));
    report.cpu = (uint32_t)hrt_this_cpu()->cpu;
    report.vector = 0xffffffffu;
    report.rip = (uint64_t)__builtin_return_address(0);
    __asm__ volatile("mov %%rsp, %0" : "=r"(report.rsp));
    va_start(ap, fmt);
    hrt_vsnprintf(report.message, sizeof(report.message), fmt, ap);
    va_end(ap);
    hrt_hypercall(HVM_HC_PANIC, hrt_virt_to_phys(&report), 0);
    hrt_halt_forever();
}
