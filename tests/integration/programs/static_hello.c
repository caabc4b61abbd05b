/* A statically linked program, which `hvm exec` must reject clearly. */
#include <stdio.h>

int main(void)
{
    puts("static hello");
    return 0;
}
