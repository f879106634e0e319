// gunzip.c: decompresses a gzip file to stdout with mtp's own decoder
// (src/core/inflate.c), so tests can compare it with Python's zlib.
//   gunzip FILE [MAX_BYTES]
// Exit 0 with the bytes on stdout, or 1 with one error line on stderr.
#include <stdio.h>
#include <stdlib.h>

#include "core/inflate.h"
#include "libmtp.h"

int main(int argc, char **argv) {
    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: gunzip FILE [MAX_BYTES]\n");
        return 2;
    }
    size_t max = argc == 3 ? (size_t)strtoull(argv[2], NULL, 10) : (size_t)1 << 30, n = 0;
    char *text = gzip_read_file(argv[1], max, &n);
    if (!text) {
        fprintf(stderr, "gunzip: %s\n", mtp_last_error());
        return 1;
    }
    fwrite(text, 1, n, stdout);
    free(text);
    return 0;
}
