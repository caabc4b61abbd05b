/*
 * 8250/16550 UART register model. Output is immediate, so the transmitter
 * is always empty (LSR THRE and TEMT) and a transmit-empty interrupt is
 * pending after every byte. The receive FIFO is a ring of
 * VMM_UART_RX_QUEUE bytes.
 */
#include "uart.h"

#include <string.h>

/* Register offsets. With LCR.DLAB set, DLL and DLM replace 0 and 1. */
#define UART_RBR 0 /* read: receive buffer, write: THR */
#define UART_IER 1
#define UART_IIR 2 /* read: interrupt identification, write: FCR */
#define UART_LCR 3
#define UART_MCR 4
#define UART_LSR 5
#define UART_MSR 6
#define UART_SCR 7

#define IER_RDI 0x01  /* ERBFI: received data available */
#define IER_THRI 0x02 /* ETBEI: transmit holding register empty */
#define IER_RLSI 0x04 /* ELSI: receiver line status */
#define IER_MASK 0x0f

#define IIR_NO_INT 0x01
#define IIR_THRI 0x02
#define IIR_RDI 0x04
#define IIR_RLSI 0x06
#define IIR_FIFO_ENABLED 0xc0

#define FCR_ENABLE_FIFO 0x01
#define FCR_CLEAR_RCVR 0x02
/* Bits kept from an FCR write: enable, DMA mode and the trigger level. */
#define FCR_KEPT_BITS 0xc9

#define LCR_DLAB 0x80

#define MCR_DTR 0x01
#define MCR_RTS 0x02
#define MCR_OUT1 0x04
#define MCR_OUT2 0x08
#define MCR_LOOP 0x10
#define MCR_MASK 0x1f

#define LSR_DR 0x01
#define LSR_OE 0x02
#define LSR_THRE 0x20
#define LSR_TEMT 0x40

#define MSR_CTS 0x10
#define MSR_DSR 0x20
#define MSR_RI 0x40
#define MSR_DCD 0x80

/* The line outside loopback mode: a terminal that is present and ready. */
#define MSR_CONNECTED (MSR_CTS | MSR_DSR | MSR_DCD)

/* Returns the highest-priority pending interrupt as an IIR value. */
static uint8_t uart_interrupt_id(const struct vmm_uart *uart)
{
    if ((uart->ier & IER_RLSI) && (uart->lsr & LSR_OE))
        return IIR_RLSI;
    if ((uart->ier & IER_RDI) && uart->rx_count > 0)
        return IIR_RDI;
    if ((uart->ier & IER_THRI) && uart->thr_interrupt)
        return IIR_THRI;
    return IIR_NO_INT;
}

/* Recomputes the pending interrupt and moves the line if its level changed. */
static void uart_update(struct vmm_uart *uart)
{
    int was_raised = uart->iir_pending != IIR_NO_INT;
    int raised;

    uart->iir_pending = uart_interrupt_id(uart);
    raised = uart->iir_pending != IIR_NO_INT;
    if (raised != was_raised && uart->set_irq != NULL)
        uart->set_irq(uart->ctx, raised);
}

void vmm_uart_init(struct vmm_uart *uart,
                   void (*output)(void *ctx, uint8_t byte),
                   void (*set_irq)(void *ctx, int level), void *ctx)
{
    memset(uart, 0, sizeof(*uart));
    uart->iir_pending = IIR_NO_INT;
    uart->msr = MSR_CONNECTED;
    uart->dll = 12; /* 9600 baud from the 1.8432 MHz clock */
    uart->output = output;
    uart->set_irq = set_irq;
    uart->ctx = ctx;
}

/* Appends one byte to the receive queue. Returns 0, or -1 if it is full. */
static int uart_rx_push(struct vmm_uart *uart, uint8_t byte)
{
    if (uart->rx_count == VMM_UART_RX_QUEUE)
        return -1;
    uart->rx[(uart->rx_head + uart->rx_count) % VMM_UART_RX_QUEUE] = byte;
    uart->rx_count++;
    return 0;
}

static uint8_t uart_rx_pop(struct vmm_uart *uart)
{
    uint8_t byte;

    if (uart->rx_count == 0)
        return 0;
    byte = uart->rx[uart->rx_head];
    uart->rx_head = (uart->rx_head + 1) % VMM_UART_RX_QUEUE;
    uart->rx_count--;
    return byte;
}

static void uart_transmit(struct vmm_uart *uart, uint8_t byte)
{
    if (uart->mcr & MCR_LOOP) {
        /* Loopback: the byte arrives at the receiver, or overruns it. */
        if (uart_rx_push(uart, byte) < 0)
            uart->lsr |= LSR_OE;
    } else if (uart->output != NULL) {
        uart->output(uart->ctx, byte);
    }
    /* The byte left at once, so the holding register is empty again. */
    uart->thr_interrupt = 1;
}

static void uart_ier_write(struct vmm_uart *uart, uint8_t value)
{
    uint8_t old = uart->ier;

    uart->ier = value & IER_MASK;
    /*
     * Enabling ETBEI while THR is empty raises the interrupt at once, as
     * on a 16550. Linux's serial8250_do_startup() checks this and else
     * falls back to its UART_BUG_TXEN workaround.
     */
    if ((uart->ier & IER_THRI) && !(old & IER_THRI))
        uart->thr_interrupt = 1;
    if (!(uart->ier & IER_THRI))
        uart->thr_interrupt = 0;
}

static void uart_fcr_write(struct vmm_uart *uart, uint8_t value)
{
    /* Turning the FIFOs on or off resets them, as does CLEAR_RCVR. */
    if ((value & FCR_CLEAR_RCVR) || ((value ^ uart->fcr) & FCR_ENABLE_FIFO)) {
        uart->rx_head = 0;
        uart->rx_count = 0;
    }
    uart->fcr = value & FCR_KEPT_BITS;
}

/* MSR in loopback mode reflects the MCR outputs, as the probe expects. */
static uint8_t uart_msr_read(const struct vmm_uart *uart)
{
    uint8_t msr = 0;

    if (!(uart->mcr & MCR_LOOP))
        return uart->msr;
    if (uart->mcr & MCR_RTS)
        msr |= MSR_CTS;
    if (uart->mcr & MCR_DTR)
        msr |= MSR_DSR;
    if (uart->mcr & MCR_OUT1)
        msr |= MSR_RI;
    if (uart->mcr & MCR_OUT2)
        msr |= MSR_DCD;
    return msr;
}

static uint8_t uart_iir_read(struct vmm_uart *uart)
{
    uint8_t iir = uart->iir_pending;

    if (uart->fcr & FCR_ENABLE_FIFO)
        iir |= IIR_FIFO_ENABLED;
    /* Reading IIR acknowledges a transmit-empty interrupt it reports. */
    if (uart->iir_pending == IIR_THRI)
        uart->thr_interrupt = 0;
    return iir;
}

static uint8_t uart_read(struct vmm_uart *uart, unsigned offset)
{
    int dlab = uart->lcr & LCR_DLAB;
    uint8_t value;

    switch (offset) {
    case UART_RBR:
        return dlab ? uart->dll : uart_rx_pop(uart);
    case UART_IER:
        return dlab ? uart->dlm : uart->ier;
    case UART_IIR:
        return uart_iir_read(uart);
    case UART_LCR:
        return uart->lcr;
    case UART_MCR:
        return uart->mcr;
    case UART_LSR:
        value = uart->lsr | LSR_THRE | LSR_TEMT;
        if (uart->rx_count > 0)
            value |= LSR_DR;
        uart->lsr &= ~LSR_OE; /* the error bits clear on read */
        return value;
    case UART_MSR:
        return uart_msr_read(uart);
    default:
        return uart->scr;
    }
}

static void uart_write(struct vmm_uart *uart, unsigned offset, uint8_t value)
{
    int dlab = uart->lcr & LCR_DLAB;

    switch (offset) {
    case UART_RBR:
        if (dlab)
            uart->dll = value;
        else
            uart_transmit(uart, value);
        break;
    case UART_IER:
        if (dlab)
            uart->dlm = value;
        else
            uart_ier_write(uart, value);
        break;
    case UART_IIR:
        uart_fcr_write(uart, value);
        break;
    case UART_LCR:
        uart->lcr = value;
        break;
    case UART_MCR:
        uart->mcr = value & MCR_MASK;
        break;
    case UART_SCR:
        uart->scr = value;
        break;
    default:
        break; /* LSR and MSR are read-only */
    }
}

void vmm_uart_access(struct vmm_uart *uart, unsigned offset, int is_write,
                     uint8_t *data)
{
    if (offset > UART_SCR) {
        if (!is_write)
            *data = 0xff;
        return;
    }
    if (is_write)
        uart_write(uart, offset, *data);
    else
        *data = uart_read(uart, offset);
    uart_update(uart);
}

size_t vmm_uart_receive(struct vmm_uart *uart, const uint8_t *bytes,
                        size_t count)
{
    size_t queued = 0;

    while (queued < count && uart_rx_push(uart, bytes[queued]) == 0)
        queued++;
    uart_update(uart);
    return queued;
}
