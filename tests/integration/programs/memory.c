/*
 * Exercises the address-space changes a hybridized program makes: malloc
 * of small and large blocks, brk, a shared file mapping written through
 * pwrite and read through memory (and the reverse), munmap and remap at
 * the same address, mprotect, thread stacks, and copy-on-write after
 * fork. Prints one line per check; exits 0 only if all pass.
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

static int failures;

static void check(int ok, const char *what)
{
    printf("%s %s\n", ok ? "ok  " : "FAIL", what);
    failures += !ok;
}

static void check_malloc(void)
{
    size_t big = 64 << 20;
    unsigned char *block = malloc(big);
    unsigned long sum = 0;

    for (size_t i = 0; i < big; i += 4096)
        block[i] = (unsigned char)i;
    for (size_t i = 0; i < big; i += 4096)
        sum += block[i];
    free(block);
    check(sum == 0, "malloc of 64 MiB, touched and freed");

    char *small[1000];
    for (int i = 0; i < 1000; i++) {
        small[i] = malloc(100 + i);
        memset(small[i], i & 0xff, 100 + i);
    }
    int good = 1;
    for (int i = 0; i < 1000; i++) {
        good &= (unsigned char)small[i][99 + i] == (i & 0xff);
        free(small[i]);
    }
    check(good, "1000 small mallocs keep their contents");
}

static void check_brk(void)
{
    char *before = sbrk(0);
    char *grown = sbrk(1 << 20);

    memset(grown, 0x5a, 1 << 20);
    check(grown == before && grown[(1 << 20) - 1] == 0x5a,
          "brk grows the heap by 1 MiB");
    sbrk(-(1 << 20));
    check(sbrk(0) == before, "brk shrinks it back");
}

static void check_file_mapping(void)
{
    char path[] = "/tmp/hvm-memory-XXXXXX";
    int fd = mkstemp(path);
    char *map;

    unlink(path);
    ftruncate(fd, 8192);
    map = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    pwrite(fd, "written by pwrite", 17, 100);
    check(memcmp(map + 100, "written by pwrite", 17) == 0,
          "pwrite is visible through a shared mapping");
    strcpy(map + 5000, "stored in memory");
    char buffer[17] = "";
    pread(fd, buffer, 16, 5000);
    check(strcmp(buffer, "stored in memory") == 0,
          "a store to the mapping is visible to pread");

    munmap(map, 8192);
    char *again = mmap(map, 8192, PROT_READ, MAP_SHARED | MAP_FIXED, fd, 0);
    check(again == map && memcmp(again + 100, "written by pwrite", 17) == 0,
          "munmap then mmap at the same address");
    munmap(again, 8192);
    close(fd);
}

static void check_mprotect(void)
{
    char *page = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

    page[0] = 1;
    mprotect(page, 4096, PROT_READ);
    check(page[0] == 1, "a read-only page is still readable");
    mprotect(page, 4096, PROT_READ | PROT_WRITE);
    page[1] = 2;
    check(page[1] == 2, "write after mprotect back to read-write");
    munmap(page, 4096);
}

static void *thread_work(void *arg)
{
    volatile char stack_buffer[200000];

    for (size_t i = 0; i < sizeof(stack_buffer); i += 512)
        stack_buffer[i] = (char)i;
    *(long *)arg = stack_buffer[512];
    return NULL;
}

static void check_thread_stack(void)
{
    pthread_t thread;
    long result = -1;

    pthread_create(&thread, NULL, thread_work, &result);
    pthread_join(thread, NULL);
    check(result == (char)512, "a thread uses 200 KB of its own stack");
}

static void check_fork(void)
{
    static int shared_value = 10;
    int status;
    pid_t child;
    int pipe_fds[2];
    char reply = 0;

    pipe(pipe_fds);
    child = fork();
    if (child == 0) {
        shared_value = 20;
        char answer = shared_value == 20 ? 'y' : 'n';
        write(pipe_fds[1], &answer, 1);
        _exit(3);
    }
    read(pipe_fds[0], &reply, 1);
    waitpid(child, &status, 0);
    check(reply == 'y', "the forked child sees its own write");
    check(shared_value == 10, "copy-on-write keeps the parent's value");
    check(WIFEXITED(status) && WEXITSTATUS(status) == 3,
          "the child's exit status reaches waitpid");
}

int main(void)
{
    check_malloc();
    check_brk();
    check_file_mapping();
    check_mprotect();
    check_thread_stack();
    check_fork();
    printf("%d failures\n", failures);
    return failures != 0;
}
