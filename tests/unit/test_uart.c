/*
 * Unit tests of the 8250/16550 model: the register sequences Linux's 8250
 * driver uses to probe and start a port, polled output, the divisor latch,
 * the receive queue and the interrupt line.
 */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "uart.h"

#define REG_DATA 0
#define REG_IER 1
#define REG_IIR 2
#define REG_LCR 3
#define REG_MCR 4
#define REG_LSR 5
#define REG_MSR 6
#define REG_SCR 7

static struct vmm_uart uart;
static uint8_t output[1024];
static size_t output_len;
static int irq_level;
static int irq_calls;

static void record_output(void *ctx, uint8_t byte)
{
    ck_assert_ptr_eq(ctx, &uart);
    if (output_len < sizeof(output))
        output[output_len++] = byte;
}

static void record_irq(void *ctx, int level)
{
    ck_assert_ptr_eq(ctx, &uart);
    irq_level = level;
    irq_calls++;
}

static void setup(void)
{
    output_len = 0;
    irq_level = 0;
    irq_calls = 0;
    vmm_uart_init(&uart, record_output, record_irq, &uart);
}

static uint8_t reg_read(unsigned offset)
{
    uint8_t value = 0x42;

    vmm_uart_access(&uart, offset, 0, &value);
    return value;
}

static void reg_write(unsigned offset, uint8_t value)
{
    vmm_uart_access(&uart, offset, 1, &value);
}

START_TEST(uart_reset_state)
{
    ck_assert_uint_eq(reg_read(REG_LSR), 0x60); /* THRE | TEMT */
    ck_assert_uint_eq(reg_read(REG_IIR), 0x01); /* no interrupt */
    ck_assert_uint_eq(reg_read(REG_IER), 0);
    ck_assert_uint_eq(reg_read(REG_MSR), 0xb0); /* DCD | DSR | CTS */
    ck_assert_int_eq(irq_calls, 0);
}
END_TEST

START_TEST(uart_polled_output)
{
    const char *text = "Linux\r\n";

    for (const char *c = text; *c != '\0'; c++) {
        /* A polling writer waits for THRE before each byte. */
        ck_assert_uint_eq(reg_read(REG_LSR) & 0x20, 0x20);
        reg_write(REG_DATA, (uint8_t)*c);
    }
    ck_assert_uint_eq(output_len, strlen(text));
    ck_assert_mem_eq(output, text, strlen(text));
    ck_assert_int_eq(irq_calls, 0);
}
END_TEST

START_TEST(uart_scratch_register)
{
    reg_write(REG_SCR, 0xa5);
    ck_assert_uint_eq(reg_read(REG_SCR), 0xa5);
    reg_write(REG_SCR, 0x5a);
    ck_assert_uint_eq(reg_read(REG_SCR), 0x5a);
}
END_TEST

START_TEST(uart_ier_probe)
{
    /* Linux's autoconfig: IER keeps exactly its low four bits. */
    reg_write(REG_IER, 0);
    ck_assert_uint_eq(reg_read(REG_IER) & 0x0f, 0);
    reg_write(REG_IER, 0x0f);
    ck_assert_uint_eq(reg_read(REG_IER) & 0x0f, 0x0f);
    /* Bit 6 is UUE on XScale UARTs, and a 16550 does not keep it. */
    reg_write(REG_IER, 0x40);
    ck_assert_uint_eq(reg_read(REG_IER), 0);
    reg_write(REG_IER, 0);
}
END_TEST

START_TEST(uart_loopback_probe)
{
    /* LOOP | OUT2 | RTS must read back as DCD | CTS. */
    reg_write(REG_MCR, 0x10 | 0x0a);
    ck_assert_uint_eq(reg_read(REG_MSR) & 0xf0, 0x90);
    reg_write(REG_MCR, 0x10 | 0x0f);
    ck_assert_uint_eq(reg_read(REG_MSR) & 0xf0, 0xf0);
    reg_write(REG_MCR, 0x10);
    ck_assert_uint_eq(reg_read(REG_MSR) & 0xf0, 0);
    reg_write(REG_MCR, 0x0b);
    ck_assert_uint_eq(reg_read(REG_MCR), 0x0b);
    ck_assert_uint_eq(reg_read(REG_MSR) & 0xf0, 0xb0);
}
END_TEST

START_TEST(uart_loopback_data)
{
    reg_write(REG_MCR, 0x10);
    reg_write(REG_DATA, 'x');
    reg_write(REG_DATA, 'y');
    ck_assert_uint_eq(output_len, 0);
    ck_assert_uint_eq(reg_read(REG_LSR) & 0x01, 0x01);
    ck_assert_uint_eq(reg_read(REG_DATA), 'x');
    ck_assert_uint_eq(reg_read(REG_DATA), 'y');
    ck_assert_uint_eq(reg_read(REG_LSR) & 0x01, 0);
    reg_write(REG_MCR, 0);
    reg_write(REG_DATA, 'z');
    ck_assert_uint_eq(output_len, 1);
    ck_assert_uint_eq(output[0], 'z');
}
END_TEST

START_TEST(uart_loopback_overrun)
{
    reg_write(REG_MCR, 0x10);
    for (int i = 0; i < VMM_UART_RX_QUEUE; i++)
        reg_write(REG_DATA, (uint8_t)i);
    ck_assert_uint_eq(reg_read(REG_LSR) & 0x02, 0);
    reg_write(REG_DATA, 0xff);
    /* OE is reported once, then cleared by the read. */
    ck_assert_uint_eq(reg_read(REG_LSR) & 0x03, 0x03);
    ck_assert_uint_eq(reg_read(REG_LSR) & 0x03, 0x01);
    for (int i = 0; i < VMM_UART_RX_QUEUE; i++)
        ck_assert_uint_eq(reg_read(REG_DATA), (uint8_t)i);
}
END_TEST

START_TEST(uart_divisor_latch)
{
    reg_write(REG_IER, 0x05);
    reg_write(REG_LCR, 0x83); /* DLAB, 8 data bits */
    reg_write(REG_DATA, 0x01);
    reg_write(REG_IER, 0x02);
    ck_assert_uint_eq(reg_read(REG_DATA), 0x01);
    ck_assert_uint_eq(reg_read(REG_IER), 0x02);
    ck_assert_uint_eq(output_len, 0);

    reg_write(REG_LCR, 0x03);
    ck_assert_uint_eq(reg_read(REG_LCR), 0x03);
    ck_assert_uint_eq(reg_read(REG_IER), 0x05);
    ck_assert_uint_eq(uart.dll, 0x01);
    ck_assert_uint_eq(uart.dlm, 0x02);
    reg_write(REG_DATA, 'a');
    ck_assert_uint_eq(output_len, 1);
}
END_TEST

START_TEST(uart_fifo_bits)
{
    /* Linux identifies a 16550A by both FIFO bits set in IIR. */
    reg_write(REG_IIR, 0x01);
    ck_assert_uint_eq(reg_read(REG_IIR) >> 6, 3);
    /* No 64-byte FIFO bit, so the driver does not take it for a 16750. */
    reg_write(REG_IIR, 0x21);
    ck_assert_uint_eq(reg_read(REG_IIR) & 0xe0, 0xc0);
    reg_write(REG_IIR, 0);
    ck_assert_uint_eq(reg_read(REG_IIR), 0x01);
}
END_TEST

START_TEST(uart_fifo_clear)
{
    const uint8_t bytes[] = {1, 2, 3};

    reg_write(REG_IIR, 0x01);
    ck_assert_uint_eq(vmm_uart_receive(&uart, bytes, 3), 3);
    reg_write(REG_IIR, 0x03); /* enable and clear the receive FIFO */
    ck_assert_uint_eq(reg_read(REG_LSR) & 0x01, 0);
    ck_assert_uint_eq(vmm_uart_receive(&uart, bytes, 3), 3);
    ck_assert_uint_eq(reg_read(REG_DATA), 1);
}
END_TEST

START_TEST(uart_rx_interrupt)
{
    const uint8_t bytes[] = {'a', 'b'};

    reg_write(REG_IER, 0x01);
    ck_assert_int_eq(irq_calls, 0);
    ck_assert_uint_eq(vmm_uart_receive(&uart, bytes, 2), 2);
    ck_assert_int_eq(irq_level, 1);
    ck_assert_int_eq(irq_calls, 1);
    ck_assert_uint_eq(reg_read(REG_IIR), 0x04);
    /* More data while raised does not call set_irq again. */
    ck_assert_uint_eq(vmm_uart_receive(&uart, bytes, 1), 1);
    ck_assert_int_eq(irq_calls, 1);
    ck_assert_uint_eq(reg_read(REG_DATA), 'a');
    ck_assert_uint_eq(reg_read(REG_DATA), 'b');
    ck_assert_int_eq(irq_level, 1);
    ck_assert_uint_eq(reg_read(REG_DATA), 'a');
    ck_assert_int_eq(irq_level, 0);
    ck_assert_int_eq(irq_calls, 2);
    ck_assert_uint_eq(reg_read(REG_IIR), 0x01);
}
END_TEST

START_TEST(uart_rx_masked)
{
    const uint8_t byte = 'q';

    ck_assert_uint_eq(vmm_uart_receive(&uart, &byte, 1), 1);
    ck_assert_int_eq(irq_calls, 0);
    ck_assert_uint_eq(reg_read(REG_LSR) & 0x01, 0x01);
    /* Enabling ERBFI with data waiting raises the line. */
    reg_write(REG_IER, 0x01);
    ck_assert_int_eq(irq_level, 1);
    reg_write(REG_IER, 0);
    ck_assert_int_eq(irq_level, 0);
    ck_assert_int_eq(irq_calls, 2);
}
END_TEST

START_TEST(uart_thre_interrupt)
{
    reg_write(REG_IER, 0x02);
    ck_assert_int_eq(irq_level, 1);
    /* Reading IIR acknowledges THRE and lowers the line. */
    ck_assert_uint_eq(reg_read(REG_IIR), 0x02);
    ck_assert_int_eq(irq_level, 0);
    ck_assert_uint_eq(reg_read(REG_IIR), 0x01);
    /* Each transmitted byte empties THR again. */
    reg_write(REG_DATA, 'a');
    ck_assert_int_eq(irq_level, 1);
    reg_write(REG_DATA, 'b');
    ck_assert_int_eq(irq_calls, 3);
    reg_write(REG_IER, 0);
    ck_assert_int_eq(irq_level, 0);
    ck_assert_int_eq(irq_calls, 4);
    ck_assert_uint_eq(output_len, 2);
}
END_TEST

START_TEST(uart_startup_thre_test)
{
    uint8_t lsr, iir1, iir2;

    /* serial8250_do_startup: THRI must raise at once, twice in a row. */
    reg_write(REG_IER, 0x02);
    lsr = reg_read(REG_LSR);
    iir1 = reg_read(REG_IIR);
    reg_write(REG_IER, 0);
    reg_write(REG_IER, 0x02);
    iir2 = reg_read(REG_IIR);
    reg_write(REG_IER, 0);
    ck_assert_uint_eq(lsr & 0x40, 0x40);
    ck_assert_uint_eq(iir1 & 0x01, 0);
    ck_assert_uint_eq(iir2 & 0x01, 0);
    ck_assert_int_eq(irq_level, 0);
}
END_TEST

START_TEST(uart_interrupt_priority)
{
    const uint8_t byte = 'r';

    reg_write(REG_IER, 0x03);
    ck_assert_uint_eq(vmm_uart_receive(&uart, &byte, 1), 1);
    /* Received data outranks THRE, which stays pending behind it. */
    ck_assert_uint_eq(reg_read(REG_IIR), 0x04);
    ck_assert_uint_eq(reg_read(REG_DATA), 'r');
    ck_assert_int_eq(irq_level, 1);
    ck_assert_uint_eq(reg_read(REG_IIR), 0x02);
    ck_assert_int_eq(irq_level, 0);
}
END_TEST

START_TEST(uart_line_status_interrupt)
{
    reg_write(REG_MCR, 0x10);
    reg_write(REG_IER, 0x04);
    for (int i = 0; i <= VMM_UART_RX_QUEUE; i++)
        reg_write(REG_DATA, 'o');
    ck_assert_uint_eq(reg_read(REG_IIR), 0x06);
    ck_assert_int_eq(irq_level, 1);
    reg_read(REG_LSR);
    ck_assert_int_eq(irq_level, 0);
}
END_TEST

START_TEST(uart_rx_queue_capacity)
{
    uint8_t bytes[VMM_UART_RX_QUEUE + 44];

    for (size_t i = 0; i < sizeof(bytes); i++)
        bytes[i] = (uint8_t)(i * 7);
    ck_assert_uint_eq(vmm_uart_receive(&uart, bytes, sizeof(bytes)),
                      VMM_UART_RX_QUEUE);
    ck_assert_uint_eq(vmm_uart_receive(&uart, bytes, 1), 0);
    /* Partial drain, then refill across the end of the ring. */
    for (int i = 0; i < 100; i++)
        ck_assert_uint_eq(reg_read(REG_DATA), (uint8_t)(i * 7));
    ck_assert_uint_eq(vmm_uart_receive(&uart, bytes + VMM_UART_RX_QUEUE, 44),
                      44);
    for (size_t i = 100; i < sizeof(bytes); i++)
        ck_assert_uint_eq(reg_read(REG_DATA), (uint8_t)(i * 7));
    ck_assert_uint_eq(reg_read(REG_LSR) & 0x01, 0);
    ck_assert_uint_eq(vmm_uart_receive(&uart, bytes, 0), 0);
}
END_TEST

START_TEST(uart_read_only_and_bad_offsets)
{
    reg_write(REG_LSR, 0x00);
    reg_write(REG_MSR, 0x00);
    ck_assert_uint_eq(reg_read(REG_LSR), 0x60);
    ck_assert_uint_eq(reg_read(REG_MSR), 0xb0);
    ck_assert_uint_eq(reg_read(8), 0xff);
    ck_assert_uint_eq(reg_read(1000), 0xff);
    reg_write(8, 'x');
    ck_assert_uint_eq(output_len, 0);
    ck_assert_int_eq(irq_calls, 0);
}
END_TEST

START_TEST(uart_without_callbacks)
{
    uint8_t value = 'n';

    vmm_uart_init(&uart, NULL, NULL, NULL);
    vmm_uart_access(&uart, REG_IER, 1, &value); /* 'n' sets ETBEI */
    vmm_uart_access(&uart, REG_DATA, 1, &value);
    vmm_uart_access(&uart, REG_IIR, 0, &value);
    ck_assert_uint_eq(value, 0x02);
}
END_TEST

static Suite *uart_suite(void)
{
    Suite *suite = suite_create("uart");
    TCase *tc = tcase_create("core");

    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_add_test(tc, uart_reset_state);
    tcase_add_test(tc, uart_polled_output);
    tcase_add_test(tc, uart_scratch_register);
    tcase_add_test(tc, uart_ier_probe);
    tcase_add_test(tc, uart_loopback_probe);
    tcase_add_test(tc, uart_loopback_data);
    tcase_add_test(tc, uart_loopback_overrun);
    tcase_add_test(tc, uart_divisor_latch);
    tcase_add_test(tc, uart_fifo_bits);
    tcase_add_test(tc, uart_fifo_clear);
    tcase_add_test(tc, uart_rx_interrupt);
    tcase_add_test(tc, uart_rx_masked);
    tcase_add_test(tc, uart_thre_interrupt);
    tcase_add_test(tc, uart_startup_thre_test);
    tcase_add_test(tc, uart_interrupt_priority);
    tcase_add_test(tc, uart_line_status_interrupt);
    tcase_add_test(tc, uart_rx_queue_capacity);
    tcase_add_test(tc, uart_read_only_and_bad_offsets);
    tcase_add_test(tc, uart_without_callbacks);
    suite_add_tcase(suite, tc);
    return suite;
}

int main(void)
{
    SRunner *runner = srunner_create(uart_suite());
    int failed;

    srunner_run_all(runner, CK_NORMAL);
    failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
