/* lens-file.c: regular files only, bounded in size, never blocking on open. */
#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lens-error.h"
#include "lens-file.h"

int
lens_file_open_regular (const char *path, uint64_t limit, uint64_t *size, GError **error)
{
  /* O_NONBLOCK: opening a FIFO planted under an expected name must not hang; it is refused
   * below as not a regular file. Reads from a regular file ignore the flag. */
  int fd = open (path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0)
    {
      int e = errno;
      g_set_error (error, LENS_ERROR, LENS_ERROR_IO, "%s: cannot open: %s", path, g_strerror (e));
      return -1;
    }
  struct stat sb;
  if (fstat (fd, &sb) != 0)
    {
      int e = errno;
      close (fd);
      g_set_error (error, LENS_ERROR, LENS_ERROR_IO, "%s: cannot stat: %s", path, g_strerror (e));
      return -1;
    }
  if (!S_ISREG (sb.st_mode))
    {
      close (fd);
      g_set_error (error, LENS_ERROR, LENS_ERROR_IO, "%s: not a regular file", path);
      return -1;
    }
  if (sb.st_size < 0 || (uint64_t) sb.st_size > limit)
    {
      close (fd);
      g_set_error (error, LENS_ERROR, LENS_ERROR_FORMAT,
                   "%s: file is %" G_GINT64_FORMAT
                   " bytes, more than the limit of %" G_GUINT64_FORMAT,
                   path, (gint64) sb.st_size, limit);
      return -1;
    }
  *size = (uint64_t) sb.st_size;
  return fd;
}

char *
lens_file_read (const char *path, size_t limit, size_t *len, GError **error)
{
  uint64_t size;
  int fd = lens_file_open_regular (path, limit, &size, error);
  if (fd < 0)
    return NULL;

  /* The file may change size after fstat: read at most size bytes and check for more. */
  char *buf = g_try_malloc ((size_t) size + 1);
  if (buf == NULL)
    {
      close (fd);
      g_set_error (error, LENS_ERROR, LENS_ERROR_IO,
                   "%s: out of memory for %" G_GUINT64_FORMAT " bytes", path, size);
      return NULL;
    }
  lens_memory_prefault (buf, (size_t) size + 1);
  size_t got = 0;
  while (got < size)
    {
      ssize_t n = read (fd, buf + got, (size_t) size - got);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        {
          int e = errno;
          close (fd);
          g_free (buf);
          g_set_error (error, LENS_ERROR, LENS_ERROR_IO, "%s: cannot read: %s", path,
                       g_strerror (e));
          return NULL;
        }
      if (n == 0)
        break;
      got += (size_t) n;
    }
  close (fd);
  buf[got] = '\0';
  *len = got;
  return buf;
}

GMappedFile *
lens_file_map (const char *path, uint64_t limit, GError **error)
{
  uint64_t size;
  int fd = lens_file_open_regular (path, limit, &size, error);
  if (fd < 0)
    return NULL;
  g_autoptr (GError) local = NULL;
  GMappedFile *file = g_mapped_file_new_from_fd (fd, FALSE, &local);
  close (fd);
  if (file == NULL)
    g_set_error (error, LENS_ERROR, LENS_ERROR_IO, "%s: cannot map: %s", path, local->message);
  return file;
}

/* Below this a block is likely in pages the heap has already mapped, and the call costs more
 * than the faults it saves. */
#define PREFAULT_MIN ((size_t) 64 << 10)

void
lens_memory_prefault (void *p, size_t len)
{
#ifdef MADV_POPULATE_WRITE
  if (len < PREFAULT_MIN)
    return;
  /* the whole pages inside the block: madvise takes a page-aligned start */
  uintptr_t page = (uintptr_t) sysconf (_SC_PAGESIZE);
  uintptr_t start = ((uintptr_t) p + page - 1) & ~(page - 1);
  uintptr_t end = ((uintptr_t) p + len) & ~(page - 1);
  if (end > start)
    madvise ((void *) start, end - start, MADV_POPULATE_WRITE); /* errors: the faults happen */
#else
  (void) p;
  (void) len;
#endif
}
