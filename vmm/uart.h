/*
 * A model of the 8250/16550 UART registers, enough for Linux's 8250 driver
 * and for polled output: divisor latch, IER, IIR, LCR, MCR, LSR, MSR, SCR,
 * a receive queue and a transmit-empty interrupt.
 */
#ifndef VMM_UART_H
#define VMM_UART_H

#include <stddef.h>
#include <stdint.h>

#define VMM_UART_COM1_BASE 0x3f8
#define VMM_UART_COM1_IRQ 4
#define VMM_UART_RX_QUEUE 256

struct vmm_uart {
    uint8_t ier, iir_pending, lcr, mcr, lsr, msr, scr, fcr;
    uint8_t dll, dlm;
    uint8_t rx[VMM_UART_RX_QUEUE];
    unsigned rx_head, rx_count;
    int thr_interrupt; /* a transmit-empty interrupt is pending */
    /* Receives each byte the guest transmits. */
    void (*output)(void *ctx, uint8_t byte);
    /* Sets the interrupt line level (1 raised, 0 lowered). */
    void (*set_irq)(void *ctx, int level);
    void *ctx;
};

void vmm_uart_init(struct vmm_uart *uart,
                   void (*output)(void *ctx, uint8_t byte),
                   void (*set_irq)(void *ctx, int level), void *ctx);

/*
 * Handles a one-byte access at register offset 0-7. On a read the value
 * is stored in *data. Offsets outside 0-7 read 0xff and ignore writes.
 */
void vmm_uart_access(struct vmm_uart *uart, unsigned offset, int is_write,
                     uint8_t *data);

/* Queues received bytes. Returns how many fit. */
size_t vmm_uart_receive(struct vmm_uart *uart, const uint8_t *bytes,
                        size_t count);

#endif
