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

G_END_DECLS
