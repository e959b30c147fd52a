/* lens-file.h: opening files named by untrusted folders and documents.
 *
 * A model folder or a results file can hold anything under an expected name: a FIFO (opening it
 * would block forever), a device (/dev/zero never ends), a file larger than memory. Every engine
 * reader goes through these, so each rule is written once. */
#pragma once

#include <glib.h>
#include <stdint.h>
#include <stddef.h>

G_BEGIN_DECLS

/* Opens `path` read-only without blocking on a FIFO and checks it is a regular file of at most
 * `limit` bytes. Returns the descriptor (close it) and its size, or -1 with a LENS_ERROR naming
 * the file. */
int lens_file_open_regular (const char *path, uint64_t limit, uint64_t *size, GError **error);

/* Reads such a file whole into a NUL-terminated buffer (g_free it); *len excludes the NUL. */
char *lens_file_read (const char *path, size_t limit, size_t *len, GError **error);

/* Maps such a file read-only. An empty file gives an empty mapping. */
GMappedFile *lens_file_map (const char *path, uint64_t limit, GError **error);

/* Maps in the pages of a fresh block of `len` bytes at `p` that is about to be written whole,
 * in one system call (Linux's MADV_POPULATE_WRITE) instead of one page fault per 4 KiB page
 * written: in a fresh process on this VM a fault took about 2.5 us, and loading GPT-2's
 * tokenizer wrote 2,500 new pages. Only a hint: contents are unchanged, small blocks and other
 * systems are left alone. */
void lens_memory_prefault (void *p, size_t len);

G_END_DECLS
