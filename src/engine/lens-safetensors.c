#include "lens-safetensors.h"
#include "lens-convert.h"
#include "lens-file.h"
#include "lens-error.h"
#include "lens-json.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

struct LensSafetensors
{
  char *path; /* as given; LensTensor.file points here */
  void *map;  /* our own mapping, or NULL when parsing a caller's buffer */
  size_t map_len;
  const uint8_t *buf;
  size_t len;
  LensTensor *tensors; /* sorted by data offset */
  size_t n_tensors;
  GStringChunk *names;
  GHashTable *by_name; /* name -> LensTensor* */
};

static const struct
{
  const char *name;
  size_t size;
} dtype_info[] = {
    [LENS_DTYPE_BOOL] = {"BOOL", 1},       [LENS_DTYPE_U8] = {"U8", 1},
    [LENS_DTYPE_I8] = {"I8", 1},           [LENS_DTYPE_I16] = {"I16", 2},
    [LENS_DTYPE_U16] = {"U16", 2},         [LENS_DTYPE_F16] = {"F16", 2},
    [LENS_DTYPE_BF16] = {"BF16", 2},       [LENS_DTYPE_I32] = {"I32", 4},
    [LENS_DTYPE_U32] = {"U32", 4},         [LENS_DTYPE_F32] = {"F32", 4},
    [LENS_DTYPE_I64] = {"I64", 8},         [LENS_DTYPE_U64] = {"U64", 8},
    [LENS_DTYPE_F64] = {"F64", 8},         [LENS_DTYPE_F8_E4M3] = {"F8_E4M3", 1},
    [LENS_DTYPE_F8_E5M2] = {"F8_E5M2", 1},
};

#define N_DTYPES G_N_ELEMENTS (dtype_info)

size_t
lens_dtype_size (LensDType dtype)
{
  return (size_t) dtype < N_DTYPES ? dtype_info[dtype].size : 0;
}

const char *
lens_dtype_name (LensDType dtype)
{
  return (size_t) dtype < N_DTYPES ? dtype_info[dtype].name : "?";
}

static gboolean
dtype_from_name (const char *name, size_t len, LensDType *out)
{
  for (size_t i = 0; i < N_DTYPES; i++)
    if (strlen (dtype_info[i].name) == len && memcmp (dtype_info[i].name, name, len) == 0)
      {
        *out = (LensDType) i;
        return TRUE;
      }
  return FALSE;
}

void
lens_safetensors_free (LensSafetensors *st)
{
  if (st == NULL)
    return;
  g_clear_pointer (&st->by_name, g_hash_table_unref);
  if (st->names)
    g_string_chunk_free (st->names);
  g_free (st->tensors);
  if (st->map)
    munmap (st->map, st->map_len);
  g_free (st->path);
  g_free (st);
}

static char *
format_shape (const LensTensor *t)
{
  GString *s = g_string_new ("[");
  for (int d = 0; d < t->n_dims; d++)
    g_string_append_printf (s, d ? ", %" G_GINT64_FORMAT : "%" G_GINT64_FORMAT, t->shape[d]);
  g_string_append_c (s, ']');
  return g_string_free (s, FALSE);
}

/* Sets "FILE: tensor "NAME": <message>". */
G_GNUC_PRINTF (5, 6)
static void
tensor_error (GError **error, int code, const char *file, const char *tensor, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  g_autofree char *msg = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  g_autofree char *desc = lens_json_describe (tensor, -1);
  g_set_error (error, LENS_ERROR, code, "%s: tensor %s: %s", file, desc, msg);
}

/* Reads a JSON integer that must be >= 0 and fit in int64 (json-c saturates larger literals to
 * INT64_MAX or UINT64_MAX, which then fail here or in the size checks). */
static gboolean
get_count (json_object *v, uint64_t *out)
{
  if (!json_object_is_type (v, json_type_int))
    return FALSE;
  int64_t i = json_object_get_int64 (v);
  if (i < 0)
    return FALSE;
  if (i == INT64_MAX)
    {
      *out = json_object_get_uint64 (v);
      return TRUE;
    }
  *out = (uint64_t) i;
  return TRUE;
}

/* "-1" for integers (json-c prints saturated literals as the saturated value), else the type. */
static char *
describe_value (json_object *v)
{
  if (json_object_is_type (v, json_type_int))
    return g_strdup (json_object_to_json_string_ext (v, JSON_C_TO_STRING_PLAIN));
  return g_strdup (lens_json_type_name (v));
}

static gboolean
parse_tensor (LensSafetensors *st, const char *name, json_object *entry, uint64_t data_len,
              LensTensor *t, uint64_t *begin_out, uint64_t *end_out, GError **error)
{
  const char *file = st->path;
  if (!json_object_is_type (entry, json_type_object))
    {
      tensor_error (error, LENS_ERROR_FORMAT, file, name, "entry must be an object, not %s",
                    lens_json_type_name (entry));
      return FALSE;
    }
  json_object_object_foreach (entry, key, val)
  {
    (void) val;
    if (strcmp (key, "dtype") != 0 && strcmp (key, "shape") != 0
        && strcmp (key, "data_offsets") != 0)
      {
        g_autofree char *kd = lens_json_describe (key, -1);
        tensor_error (error, LENS_ERROR_FORMAT, file, name,
                      "unexpected field %s (expected dtype, shape, data_offsets)", kd);
        return FALSE;
      }
  }
  json_object *jdtype, *jshape, *joffsets;
  if (!json_object_object_get_ex (entry, "dtype", &jdtype))
    {
      tensor_error (error, LENS_ERROR_FORMAT, file, name, "missing field \"dtype\"");
      return FALSE;
    }
  if (!json_object_object_get_ex (entry, "shape", &jshape))
    {
      tensor_error (error, LENS_ERROR_FORMAT, file, name, "missing field \"shape\"");
      return FALSE;
    }
  if (!json_object_object_get_ex (entry, "data_offsets", &joffsets))
    {
      tensor_error (error, LENS_ERROR_FORMAT, file, name, "missing field \"data_offsets\"");
      return FALSE;
    }

  if (!json_object_is_type (jdtype, json_type_string))
    {
      tensor_error (error, LENS_ERROR_FORMAT, file, name, "dtype must be a string, not %s",
                    lens_json_type_name (jdtype));
      return FALSE;
    }
  const char *dname = json_object_get_string (jdtype);
  size_t dlen = (size_t) json_object_get_string_len (jdtype);
  if (!dtype_from_name (dname, dlen, &t->dtype))
    {
      g_autofree char *dd = lens_json_describe (dname, (gssize) dlen);
      tensor_error (error, LENS_ERROR_UNSUPPORTED, file, name, "unknown dtype %s", dd);
      return FALSE;
    }

  if (!json_object_is_type (jshape, json_type_array))
    {
      tensor_error (error, LENS_ERROR_FORMAT, file, name, "shape must be an array, not %s",
                    lens_json_type_name (jshape));
      return FALSE;
    }
  size_t n_dims = json_object_array_length (jshape);
  if (n_dims > LENS_SAFETENSORS_MAX_DIMS)
    {
      tensor_error (error, LENS_ERROR_UNSUPPORTED, file, name,
                    "shape has %zu dimensions (at most %d are supported)", n_dims,
                    LENS_SAFETENSORS_MAX_DIMS);
      return FALSE;
    }
  t->n_dims = (int) n_dims;
  uint64_t n_elements = 1;
  gboolean overflow = FALSE;
  for (size_t d = 0; d < n_dims; d++)
    {
      json_object *jd = json_object_array_get_idx (jshape, d);
      uint64_t dim;
      if (!get_count (jd, &dim) || dim > (uint64_t) INT64_MAX)
        {
          g_autofree char *td = describe_value (jd);
          tensor_error (error, LENS_ERROR_FORMAT, file, name,
                        "shape entry %zu is %s; it must be a non-negative integer", d, td);
          return FALSE;
        }
      t->shape[d] = (int64_t) dim;
      /* Like the reference reader: overflow anywhere in the running product is an error, even if
       * a later dimension is zero. */
      if (!overflow && __builtin_mul_overflow (n_elements, dim, &n_elements))
        overflow = TRUE;
    }
  uint64_t n_bytes = 0;
  if (overflow
      || __builtin_mul_overflow (n_elements, (uint64_t) lens_dtype_size (t->dtype), &n_bytes))
    {
      g_autofree char *sd = format_shape (t);
      tensor_error (error, LENS_ERROR_FORMAT, file, name,
                    "shape %s x %s overflows 64-bit size arithmetic", sd,
                    lens_dtype_name (t->dtype));
      return FALSE;
    }
  t->n_elements = n_elements;
  t->n_bytes = n_bytes;

  if (!json_object_is_type (joffsets, json_type_array) || json_object_array_length (joffsets) != 2)
    {
      tensor_error (error, LENS_ERROR_FORMAT, file, name,
                    "data_offsets must be an array of two integers");
      return FALSE;
    }
  uint64_t off[2];
  for (int k = 0; k < 2; k++)
    {
      json_object *jo = json_object_array_get_idx (joffsets, (size_t) k);
      if (!get_count (jo, &off[k]))
        {
          g_autofree char *td = describe_value (jo);
          tensor_error (error, LENS_ERROR_FORMAT, file, name,
                        "data_offsets entry %d is %s; it must be a non-negative integer", k, td);
          return FALSE;
        }
    }
  if (off[0] > off[1])
    {
      tensor_error (error, LENS_ERROR_FORMAT, file, name,
                    "data_offsets [%" G_GUINT64_FORMAT ", %" G_GUINT64_FORMAT
                    "] end before they begin",
                    off[0], off[1]);
      return FALSE;
    }
  if (off[1] - off[0] != n_bytes)
    {
      g_autofree char *sd = format_shape (t);
      tensor_error (error, LENS_ERROR_FORMAT, file, name,
                    "data_offsets [%" G_GUINT64_FORMAT ", %" G_GUINT64_FORMAT
                    "] do not match shape %s x %s (%" G_GUINT64_FORMAT " bytes)",
                    off[0], off[1], sd, lens_dtype_name (t->dtype), n_bytes);
      return FALSE;
    }
  if (off[1] > data_len)
    {
      tensor_error (error, LENS_ERROR_FORMAT, file, name,
                    "data_offsets [%" G_GUINT64_FORMAT ", %" G_GUINT64_FORMAT
                    "] extend past the end of the data section (%" G_GUINT64_FORMAT " bytes)",
                    off[0], off[1], data_len);
      return FALSE;
    }
  *begin_out = off[0];
  *end_out = off[1];
  return TRUE;
}

typedef struct
{
  uint64_t begin, end;
  size_t index; /* into the unsorted tensor array */
} Span;

static int
span_cmp (const void *pa, const void *pb, void *user_data)
{
  const Span *a = pa, *b = pb;
  const LensTensor *tensors = user_data;
  if (a->begin != b->begin)
    return a->begin < b->begin ? -1 : 1;
  if (a->end != b->end)
    return a->end < b->end ? -1 : 1;
  return strcmp (tensors[a->index].name, tensors[b->index].name);
}

static gboolean
check_metadata (const char *file, json_object *meta, GError **error)
{
  /* The reference reader takes `__metadata__` as Option<HashMap<String, String>>: null is fine. */
  if (json_object_is_type (meta, json_type_null))
    return TRUE;
  if (!json_object_is_type (meta, json_type_object))
    {
      g_set_error (error, LENS_ERROR, LENS_ERROR_FORMAT,
                   "%s: __metadata__ must be an object of strings, not %s", file,
                   lens_json_type_name (meta));
      return FALSE;
    }
  json_object_object_foreach (meta, key, val)
  {
    if (!json_object_is_type (val, json_type_string))
      {
        g_autofree char *kd = lens_json_describe (key, -1);
        g_set_error (error, LENS_ERROR, LENS_ERROR_FORMAT,
                     "%s: __metadata__ entry %s must be a string, not %s", file, kd,
                     lens_json_type_name (val));
        return FALSE;
      }
  }
  return TRUE;
}

/* Validates st->buf/st->len and fills the tensor table. */
static gboolean
parse_buffer (LensSafetensors *st, GError **error)
{
  const char *file = st->path;
  if (st->len < 8)
    {
      g_set_error (error, LENS_ERROR, LENS_ERROR_FORMAT,
                   "%s: file is %zu bytes, too small for a safetensors header", file, st->len);
      return FALSE;
    }
  uint64_t n;
  memcpy (&n, st->buf, 8);
  n = GUINT64_FROM_LE (n);
  if (n > LENS_SAFETENSORS_MAX_HEADER)
    {
      g_set_error (error, LENS_ERROR, LENS_ERROR_FORMAT,
                   "%s: header length %" G_GUINT64_FORMAT " exceeds the limit of %u bytes", file, n,
                   LENS_SAFETENSORS_MAX_HEADER);
      return FALSE;
    }
  if (n > st->len - 8)
    {
      g_set_error (error, LENS_ERROR, LENS_ERROR_FORMAT,
                   "%s: header length %" G_GUINT64_FORMAT
                   " extends past the end of the file (%zu bytes)",
                   file, n, st->len);
      return FALSE;
    }
  const char *hdr = (const char *) st->buf + 8;
  if (n == 0 || hdr[0] != '{')
    {
      g_set_error (error, LENS_ERROR, LENS_ERROR_FORMAT,
                   "%s: header does not start with '{' (not a safetensors file?)", file);
      return FALSE;
    }
  g_autofree char *hname = g_strdup_printf ("%s: header", file);
  /* A valid header is three levels deep (tensor table, entry, shape) and its longest array is a
   * shape of at most LENS_SAFETENSORS_MAX_DIMS entries; the limits leave room for clear errors
   * about slightly wrong files while capping what a hostile 100 MB header can make json-c
   * allocate. */
  json_object *root = lens_json_parse_limited (hdr, (size_t) n, hname, 8, 64, error);
  if (root == NULL)
    return FALSE;
  /* The header starts with '{' and is valid JSON, so root is an object. */
  g_assert (json_object_is_type (root, json_type_object));

  uint64_t data_len = st->len - 8 - n;
  size_t n_entries = (size_t) json_object_object_length (root);
  LensTensor *tensors = g_new0 (LensTensor, MAX (n_entries, 1));
  Span *spans = g_new0 (Span, MAX (n_entries, 1));
  size_t n_tensors = 0;
  gboolean ok = TRUE;
  st->names = g_string_chunk_new (256);

  json_object_object_foreach (root, key, val)
  {
    if (strcmp (key, "__metadata__") == 0)
      {
        if (!check_metadata (file, val, error))
          {
            ok = FALSE;
            break;
          }
        continue;
      }
    LensTensor *t = &tensors[n_tensors];
    Span *sp = &spans[n_tensors];
    if (!parse_tensor (st, key, val, data_len, t, &sp->begin, &sp->end, error))
      {
        ok = FALSE;
        break;
      }
    t->name = g_string_chunk_insert (st->names, key);
    t->file = st->path;
    sp->index = n_tensors;
    n_tensors++;
  }
  json_object_put (root);
  if (!ok)
    {
      g_free (tensors);
      g_free (spans);
      return FALSE;
    }

  /* Contiguous from 0 to the end of the file: no gaps, no overlaps, nothing trailing. */
  g_qsort_with_data (spans, (gint) n_tensors, sizeof (Span), span_cmp, tensors);
  uint64_t expected = 0;
  for (size_t i = 0; i < n_tensors && ok; i++)
    {
      const Span *sp = &spans[i];
      const LensTensor *t = &tensors[sp->index];
      if (sp->begin > expected)
        {
          tensor_error (error, LENS_ERROR_FORMAT, file, t->name,
                        "data_offsets [%" G_GUINT64_FORMAT ", %" G_GUINT64_FORMAT
                        "] leave a gap: bytes %" G_GUINT64_FORMAT "..%" G_GUINT64_FORMAT
                        " of the data section belong to no tensor",
                        sp->begin, sp->end, expected, sp->begin);
          ok = FALSE;
        }
      else if (sp->begin < expected)
        {
          const LensTensor *prev = &tensors[spans[i - 1].index];
          g_autofree char *pd = lens_json_describe (prev->name, -1);
          tensor_error (error, LENS_ERROR_FORMAT, file, t->name,
                        "data_offsets [%" G_GUINT64_FORMAT ", %" G_GUINT64_FORMAT
                        "] overlap tensor %s [%" G_GUINT64_FORMAT ", %" G_GUINT64_FORMAT "]",
                        sp->begin, sp->end, pd, spans[i - 1].begin, spans[i - 1].end);
          ok = FALSE;
        }
      expected = sp->end;
    }
  if (ok && expected != data_len)
    {
      g_set_error (error, LENS_ERROR, LENS_ERROR_FORMAT,
                   "%s: the tensors cover %" G_GUINT64_FORMAT
                   " bytes but the data section after the header has %" G_GUINT64_FORMAT " bytes",
                   file, expected, data_len);
      ok = FALSE;
    }
  if (!ok)
    {
      g_free (tensors);
      g_free (spans);
      return FALSE;
    }

  /* Store the table in offset order. */
  const uint8_t *data = st->buf + 8 + n;
  st->tensors = g_new (LensTensor, MAX (n_tensors, 1));
  st->n_tensors = n_tensors;
  st->by_name = g_hash_table_new (g_str_hash, g_str_equal);
  for (size_t i = 0; i < n_tensors; i++)
    {
      st->tensors[i] = tensors[spans[i].index];
      st->tensors[i].data = data + spans[i].begin;
      g_hash_table_insert (st->by_name, (gpointer) st->tensors[i].name, &st->tensors[i]);
    }
  g_free (tensors);
  g_free (spans);
  return TRUE;
}

LensSafetensors *
lens_safetensors_parse (const uint8_t *buf, size_t len, const char *name, GError **error)
{
  g_return_val_if_fail (buf != NULL || len == 0, NULL);
  LensSafetensors *st = g_new0 (LensSafetensors, 1);
  st->path = g_strdup (name ? name : "(memory)");
  st->buf = buf ? buf : (const uint8_t *) "";
  st->len = len;
  if (!parse_buffer (st, error))
    {
      lens_safetensors_free (st);
      return NULL;
    }
  return st;
}

LensSafetensors *
lens_safetensors_open (const char *path, GError **error)
{
  uint64_t size;
  int fd = lens_file_open_regular (path, SIZE_MAX, &size, error);
  if (fd < 0)
    return NULL;
  LensSafetensors *st = g_new0 (LensSafetensors, 1);
  st->path = g_strdup (path);
  st->len = (size_t) size;
  if (st->len > 0)
    {
      /* Every weight is read by the first forward pass: start reading a file that is not in the
       * page cache now. lens_weight_store_touch maps the pages in. */
      void *map = mmap (NULL, st->len, PROT_READ, MAP_PRIVATE, fd, 0);
      if (map == MAP_FAILED)
        {
          int e = errno;
          close (fd);
          g_set_error (error, LENS_ERROR, LENS_ERROR_IO, "%s: cannot map: %s", path,
                       g_strerror (e));
          lens_safetensors_free (st);
          return NULL;
        }
      /* 2 MiB pages where the kernel can: a file read through this mapping is cached in 2 MiB
       * folios, and later loads map each with one entry instead of 512. On this VM touching a
       * mapped 4 KiB page for the first time costs about 1 us even when cached: GPT-2 small's
       * 475 MB took 250 ms to touch in 4 KiB folios and 7 ms in 2 MiB ones. */
      madvise (map, st->len, MADV_HUGEPAGE);
      madvise (map, st->len, MADV_WILLNEED);
      st->map = map;
      st->map_len = st->len;
      st->buf = map;
    }
  else
    st->buf = (const uint8_t *) "";
  close (fd);
  if (!parse_buffer (st, error))
    {
      lens_safetensors_free (st);
      return NULL;
    }
  return st;
}

size_t
lens_safetensors_n_tensors (const LensSafetensors *st)
{
  return st->n_tensors;
}

const LensTensor *
lens_safetensors_tensor (const LensSafetensors *st, size_t i)
{
  return i < st->n_tensors ? &st->tensors[i] : NULL;
}

const LensTensor *
lens_safetensors_find (const LensSafetensors *st, const char *name)
{
  return g_hash_table_lookup (st->by_name, name);
}

/* ---- Weight store ---- */

struct LensWeightStore
{
  GPtrArray *files;    /* LensSafetensors*, owned */
  GHashTable *by_name; /* name -> const LensTensor* */
  uint64_t total_size;
  gint touch_cursor; /* next chunk for lens_weight_store_touch */
};

void
lens_weight_store_free (LensWeightStore *ws)
{
  if (ws == NULL)
    return;
  g_clear_pointer (&ws->by_name, g_hash_table_unref);
  g_clear_pointer (&ws->files, g_ptr_array_unref);
  g_free (ws);
}

static LensWeightStore *
weight_store_new (void)
{
  LensWeightStore *ws = g_new0 (LensWeightStore, 1);
  ws->files = g_ptr_array_new_with_free_func ((GDestroyNotify) lens_safetensors_free);
  ws->by_name = g_hash_table_new (g_str_hash, g_str_equal);
  return ws;
}

/* Adds every tensor of `st` (which the store then owns); a name already present in another shard
 * is an error. */
static gboolean
weight_store_add (LensWeightStore *ws, LensSafetensors *st, GError **error)
{
  g_ptr_array_add (ws->files, st);
  ws->total_size += st->len;
  for (size_t i = 0; i < st->n_tensors; i++)
    {
      const LensTensor *t = &st->tensors[i];
      const LensTensor *prev = g_hash_table_lookup (ws->by_name, t->name);
      if (prev != NULL)
        {
          g_autofree char *nd = lens_json_describe (t->name, -1);
          g_set_error (error, LENS_ERROR, LENS_ERROR_FORMAT,
                       "%s: tensor %s is also in %s; tensor names must be unique across shards",
                       t->file, nd, prev->file);
          return FALSE;
        }
      g_hash_table_insert (ws->by_name, (gpointer) t->name, (gpointer) t);
    }
  return TRUE;
}

static gboolean
is_plain_file_name (const char *s, size_t len)
{
  if (len == 0 || strlen (s) != len || strchr (s, '/') != NULL || strchr (s, '\\') != NULL
      || strstr (s, "..") != NULL || strcmp (s, ".") == 0)
    return FALSE;
  /* UTF-8 without control characters (C0, DEL, C1, U+2028/9): the name ends up in messages that
   * must stay one line */
  if (!g_utf8_validate_len (s, len, NULL))
    return FALSE;
  for (const char *p = s; *p != '\0'; p = g_utf8_next_char (p))
    {
      if (lens_unichar_breaks_line (g_utf8_get_char (p)))
        return FALSE;
    }
  return TRUE;
}

static LensWeightStore *
open_sharded (const char *dir, const char *index_path, GError **error)
{
  size_t len = 0;
  g_autofree char *text = lens_file_read (index_path, LENS_SAFETENSORS_MAX_HEADER, &len, error);
  if (text == NULL)
    return NULL;
  json_object *root = lens_json_parse (text, len, index_path, error);
  if (root == NULL)
    return NULL;

  LensWeightStore *ws = weight_store_new ();
  GHashTable *shards = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  gboolean ok = TRUE;
  json_object *map = NULL;
  if (!json_object_is_type (root, json_type_object)
      || !json_object_object_get_ex (root, "weight_map", &map)
      || !json_object_is_type (map, json_type_object))
    {
      g_set_error (error, LENS_ERROR, LENS_ERROR_FORMAT,
                   "%s: expected an object with a \"weight_map\" object", index_path);
      ok = FALSE;
    }
  else if (json_object_object_length (map) == 0)
    {
      g_set_error (error, LENS_ERROR, LENS_ERROR_FORMAT, "%s: weight_map is empty", index_path);
      ok = FALSE;
    }

  /* First pass: check every entry and open each shard once. */
  if (ok)
    {
      json_object_object_foreach (map, tname, jshard)
      {
        g_autofree char *td = lens_json_describe (tname, -1);
        if (!json_object_is_type (jshard, json_type_string))
          {
            g_set_error (error, LENS_ERROR, LENS_ERROR_FORMAT,
                         "%s: weight_map entry %s must be a file name string, not %s", index_path,
                         td, lens_json_type_name (jshard));
            ok = FALSE;
            break;
          }
        const char *shard = json_object_get_string (jshard);
        size_t slen = (size_t) json_object_get_string_len (jshard);
        if (!is_plain_file_name (shard, slen))
          {
            g_autofree char *sd = lens_json_describe (shard, (gssize) slen);
            g_set_error (error, LENS_ERROR, LENS_ERROR_FORMAT,
                         "%s: weight_map entry %s names shard %s, which is not a plain file "
                         "name inside the model folder",
                         index_path, td, sd);
            ok = FALSE;
            break;
          }
        if (g_hash_table_contains (shards, shard))
          continue;
        g_autofree char *spath = g_build_filename (dir, shard, NULL);
        LensSafetensors *st = lens_safetensors_open (spath, error);
        if (st == NULL)
          {
            ok = FALSE;
            break;
          }
        g_hash_table_insert (shards, g_strdup (shard), st);
        if (!weight_store_add (ws, st, error))
          {
            ok = FALSE;
            break;
          }
      }
    }

  /* Second pass: every tensor the index lists is in the shard it names. */
  if (ok)
    {
      json_object_object_foreach (map, tname, jshard)
      {
        const char *shard = json_object_get_string (jshard);
        LensSafetensors *st = g_hash_table_lookup (shards, shard);
        if (lens_safetensors_find (st, tname) == NULL)
          {
            g_autofree char *td = lens_json_describe (tname, -1);
            g_autofree char *sd = lens_json_describe (shard, -1);
            g_set_error (error, LENS_ERROR, LENS_ERROR_FORMAT,
                         "%s: tensor %s is listed in shard %s, which does not contain it",
                         index_path, td, sd);
            ok = FALSE;
            break;
          }
      }
    }

  g_hash_table_unref (shards);
  json_object_put (root);
  if (!ok)
    {
      lens_weight_store_free (ws);
      return NULL;
    }
  return ws;
}

LensWeightStore *
lens_weight_store_open (const char *dir, GError **error)
{
  if (!g_file_test (dir, G_FILE_TEST_IS_DIR))
    {
      g_set_error (error, LENS_ERROR, LENS_ERROR_IO, "%s: not a readable model folder", dir);
      return NULL;
    }
  g_autofree char *single = g_build_filename (dir, "model.safetensors", NULL);
  if (g_file_test (single, G_FILE_TEST_EXISTS))
    {
      LensSafetensors *st = lens_safetensors_open (single, error);
      if (st == NULL)
        return NULL;
      LensWeightStore *ws = weight_store_new ();
      if (!weight_store_add (ws, st, error))
        {
          lens_weight_store_free (ws);
          return NULL;
        }
      return ws;
    }
  g_autofree char *index = g_build_filename (dir, "model.safetensors.index.json", NULL);
  if (g_file_test (index, G_FILE_TEST_EXISTS))
    return open_sharded (dir, index, error);
  g_set_error (error, LENS_ERROR, LENS_ERROR_IO,
               "%s: no model.safetensors or model.safetensors.index.json in this folder", dir);
  return NULL;
}

const LensTensor *
lens_weight_store_find (const LensWeightStore *ws, const char *name)
{
  return g_hash_table_lookup (ws->by_name, name);
}

uint64_t
lens_weight_store_size (const LensWeightStore *ws)
{
  return ws->total_size;
}

/* Touching goes by 2 MiB chunks handed out from an atomic cursor, so any number of threads can
 * share the work. */
#define TOUCH_CHUNK ((size_t) 2 << 20)

void
lens_weight_store_touch_stop (LensWeightStore *ws)
{
  /* past every chunk of any store: each toucher stops after its current chunk */
  g_atomic_int_set (&ws->touch_cursor, G_MAXINT / 2);
}

void
lens_weight_store_touch (LensWeightStore *ws)
{
  for (;;)
    {
      size_t off = (size_t) (guint) g_atomic_int_add (&ws->touch_cursor, 1) * TOUCH_CHUNK;
      const LensSafetensors *st = NULL;
      for (guint f = 0; f < ws->files->len && st == NULL; f++)
        {
          const LensSafetensors *file = g_ptr_array_index (ws->files, f);
          size_t span = (file->map_len + TOUCH_CHUNK - 1) / TOUCH_CHUNK * TOUCH_CHUNK;
          if (off < span)
            st = file;
          else
            off -= span;
        }
      if (st == NULL)
        return;
      const volatile uint8_t *p = st->map;
      size_t end = MIN (off + TOUCH_CHUNK, st->map_len);
#ifdef MADV_POPULATE_READ
      /* maps the chunk's pages in one call (Linux 5.14+; otherwise the reads below fault them) */
      madvise ((void *) (p + off), end - off, MADV_POPULATE_READ);
#endif
      uint8_t sink = 0;
      for (; off < end; off += 4096)
        sink ^= p[off];
      (void) sink;
    }
}

/* ---- Conversion ---- */

gboolean
lens_tensor_to_f32 (const LensTensor *t, float *dst, GError **error)
{
  switch (t->dtype)
    {
    case LENS_DTYPE_F32:
    case LENS_DTYPE_F16:
    case LENS_DTYPE_BF16:
      lens_convert_to_f32 (dst, t->data, t->dtype, (size_t) t->n_elements);
      return TRUE;
    default:
      tensor_error (error, LENS_ERROR_UNSUPPORTED, t->file ? t->file : "(memory)", t->name,
                    "dtype %s is not supported for weights (only F32, F16 and BF16)",
                    lens_dtype_name (t->dtype));
      return FALSE;
    }
}

const float *
lens_tensor_f32_direct (const LensTensor *t)
{
#if G_BYTE_ORDER == G_LITTLE_ENDIAN
  if (t->dtype == LENS_DTYPE_F32 && ((uintptr_t) t->data % G_ALIGNOF (float)) == 0)
    return t->data;
#endif
  return NULL;
}
