/* Unit tests for lens-safetensors: one test per rejection rule, plus bit-exact loading of F32,
 * F16 and BF16 (aligned and unaligned), metadata, and single/sharded weight stores. Hostile files
 * are built in memory by the small writer below. */
#include "lens-error.h"
#include "lens-safetensors.h"

#include <glib/gstdio.h>
#include <sys/stat.h>
#include <math.h>
#include <string.h>

/* ---- writer ---- */

/* Copies a JSON template, turning ' into " so the tests stay readable. */
static char *
q (const char *s)
{
  char *r = g_strdup (s);
  for (char *p = r; *p; p++)
    if (*p == '\'')
      *p = '"';
  return r;
}

/* A safetensors file: 8-byte little-endian `declared` length, `hlen` header bytes, then data. */
static GBytes *
build_raw (uint64_t declared, const void *hdr, size_t hlen, const void *data, size_t data_len)
{
  GByteArray *a = g_byte_array_new ();
  uint64_t le = GUINT64_TO_LE (declared);
  g_byte_array_append (a, (const guint8 *) &le, 8);
  if (hlen)
    g_byte_array_append (a, hdr, (guint) hlen);
  if (data_len)
    g_byte_array_append (a, data, (guint) data_len);
  return g_byte_array_free_to_bytes (a);
}

/* A file whose header is `json_template` (with ' for ") padded with spaces so that the data
 * section starts at an offset that is `misalign` modulo 8. */
static GBytes *
build (const char *json_template, size_t misalign, const void *data, size_t data_len)
{
  g_autofree char *json = q (json_template);
  GString *h = g_string_new (json);
  while ((8 + h->len) % 8 != misalign % 8)
    g_string_append_c (h, ' ');
  GBytes *b = build_raw (h->len, h->str, h->len, data, data_len);
  g_string_free (h, TRUE);
  return b;
}

static GBytes *
build_plain (const char *json_template, size_t data_len)
{
  g_autofree guint8 *zeros = g_malloc0 (MAX (data_len, 1));
  return build (json_template, 0, zeros, data_len);
}

/* Parses from an exactly-sized heap copy so ASan catches any read past the end. */
static LensSafetensors *
parse (GBytes *b, guint8 **copy, GError **error)
{
  gsize n = 0;
  const guint8 *d = g_bytes_get_data (b, &n);
  *copy = g_memdup2 (d, n);
  return lens_safetensors_parse (*copy, n, "t.safetensors", error);
}

static void
expect_fail (GBytes *b, int code, const char *needle)
{
  g_autoptr (GError) error = NULL;
  g_autofree guint8 *copy = NULL;
  LensSafetensors *st = parse (b, &copy, &error);
  g_bytes_unref (b);
  if (st != NULL)
    g_error ("parse succeeded; expected an error containing '%s'", needle);
  g_assert_nonnull (error);
  if (!g_error_matches (error, LENS_ERROR, code))
    g_error ("wrong error code %d for: %s", error->code, error->message);
  if (strstr (error->message, needle) == NULL)
    g_error ("error '%s' does not contain '%s'", error->message, needle);
  g_assert_true (g_str_has_prefix (error->message, "t.safetensors"));
  g_assert_null (strchr (error->message, '\n'));
}

static LensSafetensors *
expect_ok (GBytes *b, guint8 **copy)
{
  g_autoptr (GError) error = NULL;
  LensSafetensors *st = parse (b, copy, &error);
  g_bytes_unref (b);
  g_assert_no_error (error);
  g_assert_nonnull (st);
  return st;
}

#define F32_1 "{'a':{'dtype':'F32','shape':[1],'data_offsets':[0,4]}}"

/* ---- rejection rules ---- */

static void
test_too_small (void)
{
  expect_fail (g_bytes_new ("\x02\0\0\0", 4), LENS_ERROR_FORMAT, "too small");
  expect_fail (g_bytes_new ("", 0), LENS_ERROR_FORMAT, "too small");
}

static void
test_header_too_large (void)
{
  g_autofree char *json = q ("{}");
  expect_fail (build_raw (100000001, json, 2, NULL, 0), LENS_ERROR_FORMAT, "exceeds the limit");
  expect_fail (build_raw (G_MAXUINT64, json, 2, NULL, 0), LENS_ERROR_FORMAT, "exceeds the limit");
}

static void
test_header_past_end (void)
{
  g_autofree char *json = q (F32_1);
  expect_fail (build_raw (strlen (json) + 5, json, strlen (json), NULL, 0), LENS_ERROR_FORMAT,
               "extends past the end of the file");
}

static void
test_header_start (void)
{
  expect_fail (build_raw (2, "[]", 2, NULL, 0), LENS_ERROR_FORMAT, "does not start with '{'");
  expect_fail (build_raw (3, " {}", 3, NULL, 0), LENS_ERROR_FORMAT, "does not start with '{'");
  expect_fail (build_raw (0, "", 0, NULL, 0), LENS_ERROR_FORMAT, "does not start with '{'");
}

static void
test_header_utf8 (void)
{
  const char hdr[] = "{\"a\xff\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0]}}";
  expect_fail (build_raw (sizeof hdr - 1, hdr, sizeof hdr - 1, NULL, 0), LENS_ERROR_FORMAT,
               "invalid UTF-8");
  const char nul[] = "{}\0 ";
  expect_fail (build_raw (4, nul, 4, NULL, 0), LENS_ERROR_FORMAT, "NUL byte");
  /* An overlong encoding of '/' and a UTF-16 surrogate encoded in UTF-8. */
  const char overlong[] = "{\"\xc0\xaf\":null}";
  expect_fail (build_raw (sizeof overlong - 1, overlong, sizeof overlong - 1, NULL, 0),
               LENS_ERROR_FORMAT, "invalid UTF-8");
  const char surr[] = "{\"\xed\xa0\x80\":null}";
  expect_fail (build_raw (sizeof surr - 1, surr, sizeof surr - 1, NULL, 0), LENS_ERROR_FORMAT,
               "invalid UTF-8");
}

static void
test_header_json_strict (void)
{
  /* Things json-c's own strict mode lets through. */
  const char *bad[] = {
      "{'a':{'dtype':'F32','shape':[1],'data_offsets':[0,4],}}", /* trailing comma */
      "{'a':{'dtype':'F32','shape':[1],'data_offsets':[0,4]}",   /* unterminated */
      "{'a':{'dtype':'F32','shape':[1.],'data_offsets':[0,4]}}", /* "1." */
      "{'a':{'dtype':'F32','shape':[01],'data_offsets':[0,4]}}", /* leading zero */
      "{'a':{'dtype':'F32','shape':[NaN],'data_offsets':[0,4]}}",
      "{'a':{'dtype':'F32','shape':[1],'data_offsets':[0,4]} /* c */}",
      "{'a':{'dtype':'F32','shape':[1],'data_offsets':[0,+4]}}",
      "{'\\ud800':{'dtype':'F32','shape':[1],'data_offsets':[0,4]}}", /* lone surrogate */
      "{'\\udc00\\ud800':{'dtype':'F32','shape':[1],'data_offsets':[0,4]}}",
      "{'\\x41':{'dtype':'F32','shape':[1],'data_offsets':[0,4]}}", /* bad escape */
      "{'a\tb':{'dtype':'F32','shape':[1],'data_offsets':[0,4]}}",  /* raw control char */
      "{'a':{'dtype':'F32','shape':[1],'data_offsets':[0,4]}} x",   /* trailing garbage */
      "{'a':{'dtype':'F32','shape':[1],'data_offsets':[0,4]}}{}",
      "{'a' {'dtype':'F32','shape':[1],'data_offsets':[0,4]}}",
      "{a:{'dtype':'F32','shape':[1],'data_offsets':[0,4]}}",
      "{'a':{'dtype':'F32','shape':[1],'data_offsets':[0,4]}}\v",
      "{'a':{'dtype':'F32','shape':[1],'data_offsets':[0,tru]}}",
  };
  for (size_t i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autofree char *json = q (bad[i]);
      guint8 data[4] = {0};
      expect_fail (build_raw (strlen (json), json, strlen (json), data, 4), LENS_ERROR_FORMAT,
                   "invalid JSON");
    }
  /* Single quotes, which json-c accepts even in strict mode. */
  const char sq[] = "{'a':{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}";
  guint8 data[4] = {0};
  expect_fail (build_raw (sizeof sq - 1, sq, sizeof sq - 1, data, 4), LENS_ERROR_FORMAT,
               "invalid JSON");
}

static void
test_header_depth (void)
{
  GString *s = g_string_new ("{\"__metadata__\":{\"x\":");
  for (int i = 0; i < 200; i++)
    g_string_append_c (s, '[');
  for (int i = 0; i < 200; i++)
    g_string_append_c (s, ']');
  g_string_append (s, "}}");
  expect_fail (build_raw (s->len, s->str, s->len, NULL, 0), LENS_ERROR_FORMAT, "nested too deeply");
  g_string_free (s, TRUE);
  /* Long arrays are cut off before json-c builds them (a valid shape has at most 8 entries). */
  s = g_string_new ("{\"a\":{\"dtype\":\"U8\",\"shape\":[1");
  for (int i = 0; i < 1000000; i++)
    g_string_append (s, ",1");
  g_string_append (s, "],\"data_offsets\":[0,1]}}");
  expect_fail (build_raw (s->len, s->str, s->len, "", 1), LENS_ERROR_FORMAT,
               "array has more than 64 elements");
  g_string_free (s, TRUE);
}

static void
test_duplicate_names (void)
{
  expect_fail (build_plain ("{'a':{'dtype':'F32','shape':[1],'data_offsets':[0,4]},"
                            "'a':{'dtype':'F32','shape':[1],'data_offsets':[4,8]}}",
                            8),
               LENS_ERROR_FORMAT, "duplicate key \"a\"");
  /* The same name spelled with an escape is still the same name. */
  expect_fail (build_plain ("{'ab':{'dtype':'F32','shape':[1],'data_offsets':[0,4]},"
                            "'\\u0061b':{'dtype':'F32','shape':[1],'data_offsets':[4,8]}}",
                            8),
               LENS_ERROR_FORMAT, "duplicate key \"ab\"");
  /* Duplicate fields inside an entry, and in the metadata. */
  expect_fail (
      build_plain ("{'a':{'dtype':'F32','dtype':'F16','shape':[1],'data_offsets':[0,4]}}", 4),
      LENS_ERROR_FORMAT, "duplicate key \"dtype\"");
  expect_fail (build_plain ("{'__metadata__':{'k':'1','k':'2'}}", 0), LENS_ERROR_FORMAT,
               "duplicate key \"k\"");
}

static void
test_nul_in_name (void)
{
  expect_fail (build_plain ("{'a\\u0000b':{'dtype':'F32','shape':[1],'data_offsets':[0,4]}}", 4),
               LENS_ERROR_FORMAT, "NUL character");
}

static void
test_metadata_types (void)
{
  expect_fail (build_plain ("{'__metadata__':{'format':1}}", 0), LENS_ERROR_FORMAT,
               "__metadata__ entry \"format\" must be a string");
  expect_fail (build_plain ("{'__metadata__':{'format':{'x':'y'}}}", 0), LENS_ERROR_FORMAT,
               "must be a string");
  expect_fail (build_plain ("{'__metadata__':['pt']}", 0), LENS_ERROR_FORMAT,
               "__metadata__ must be an object");
  expect_fail (build_plain ("{'__metadata__':'pt'}", 0), LENS_ERROR_FORMAT,
               "__metadata__ must be an object");
}

static void
test_entry_fields (void)
{
  expect_fail (build_plain ("{'a':[0,4]}", 4), LENS_ERROR_FORMAT, "entry must be an object");
  expect_fail (build_plain ("{'a':{'shape':[1],'data_offsets':[0,4]}}", 4), LENS_ERROR_FORMAT,
               "missing field \"dtype\"");
  expect_fail (build_plain ("{'a':{'dtype':'F32','data_offsets':[0,4]}}", 4), LENS_ERROR_FORMAT,
               "missing field \"shape\"");
  expect_fail (build_plain ("{'a':{'dtype':'F32','shape':[1]}}", 4), LENS_ERROR_FORMAT,
               "missing field \"data_offsets\"");
  expect_fail (build_plain ("{'a':{'dtype':'F32','shape':[1],'data_offsets':[0,4],'x':1}}", 4),
               LENS_ERROR_FORMAT, "unexpected field \"x\"");
}

static void
test_dtype (void)
{
  expect_fail (build_plain ("{'a':{'dtype':'F4','shape':[1],'data_offsets':[0,1]}}", 1),
               LENS_ERROR_UNSUPPORTED, "tensor \"a\": unknown dtype \"F4\"");
  expect_fail (build_plain ("{'a':{'dtype':'f32','shape':[1],'data_offsets':[0,4]}}", 4),
               LENS_ERROR_UNSUPPORTED, "unknown dtype \"f32\"");
  expect_fail (build_plain ("{'a':{'dtype':4,'shape':[1],'data_offsets':[0,4]}}", 4),
               LENS_ERROR_FORMAT, "dtype must be a string");
  expect_fail (build_plain ("{'a':{'dtype':'F32\\u0000','shape':[1],'data_offsets':[0,4]}}", 4),
               LENS_ERROR_UNSUPPORTED, "unknown dtype \"F32\\x00\"");
}

static void
test_shape_entries (void)
{
  expect_fail (build_plain ("{'a':{'dtype':'F32','shape':4,'data_offsets':[0,16]}}", 16),
               LENS_ERROR_FORMAT, "shape must be an array");
  expect_fail (build_plain ("{'a':{'dtype':'F32','shape':[-1],'data_offsets':[0,4]}}", 4),
               LENS_ERROR_FORMAT, "shape entry 0 is -1; it must be a non-negative integer");
  expect_fail (build_plain ("{'a':{'dtype':'F32','shape':[1,1.0],'data_offsets':[0,4]}}", 4),
               LENS_ERROR_FORMAT, "shape entry 1 is a non-integer number");
  expect_fail (build_plain ("{'a':{'dtype':'F32','shape':['1'],'data_offsets':[0,4]}}", 4),
               LENS_ERROR_FORMAT, "must be a non-negative integer");
  expect_fail (build_plain ("{'a':{'dtype':'F32','shape':[null],'data_offsets':[0,4]}}", 4),
               LENS_ERROR_FORMAT, "must be a non-negative integer");
  expect_fail (
      build_plain ("{'a':{'dtype':'F32','shape':[0, 99999999999999999999],'data_offsets':[0,0]}}",
                   0),
      LENS_ERROR_FORMAT, "shape entry 1");
  expect_fail (
      build_plain ("{'a':{'dtype':'F32','shape':[1,1,1,1,1,1,1,1,1],'data_offsets':[0,4]}}", 4),
      LENS_ERROR_UNSUPPORTED, "9 dimensions");
}

static void
test_offsets_entries (void)
{
  expect_fail (build_plain ("{'a':{'dtype':'F32','shape':[1],'data_offsets':[0]}}", 4),
               LENS_ERROR_FORMAT, "two integers");
  expect_fail (build_plain ("{'a':{'dtype':'F32','shape':[1],'data_offsets':[0,4,8]}}", 8),
               LENS_ERROR_FORMAT, "two integers");
  expect_fail (build_plain ("{'a':{'dtype':'F32','shape':[1],'data_offsets':{'0':4}}}", 4),
               LENS_ERROR_FORMAT, "two integers");
  expect_fail (build_plain ("{'a':{'dtype':'F32','shape':[1],'data_offsets':[-4,0]}}", 4),
               LENS_ERROR_FORMAT, "data_offsets entry 0 is -4");
  expect_fail (build_plain ("{'a':{'dtype':'F32','shape':[1],'data_offsets':[0,4.0]}}", 4),
               LENS_ERROR_FORMAT, "data_offsets entry 1");
  expect_fail (build_plain ("{'a':{'dtype':'F32','shape':[1],'data_offsets':[0,'4']}}", 4),
               LENS_ERROR_FORMAT, "data_offsets entry 1");
  expect_fail (build_plain ("{'a':{'dtype':'F32','shape':[0],'data_offsets':[4,0]}}", 4),
               LENS_ERROR_FORMAT, "data_offsets [4, 0] end before they begin");
  expect_fail (build_plain ("{'a':{'dtype':'F32','shape':[1],'data_offsets':[18446744073709551612,"
                            "99999999999999999999]}}",
                            4),
               LENS_ERROR_FORMAT, "tensor \"a\"");
}

static void
test_size_mismatch (void)
{
  expect_fail (build_plain ("{'h.0.attn.c_attn.weight':{'dtype':'F32','shape':[3,4],"
                            "'data_offsets':[0,12]}}",
                            12),
               LENS_ERROR_FORMAT,
               "t.safetensors: tensor \"h.0.attn.c_attn.weight\": data_offsets [0, 12] do not "
               "match shape [3, 4] x F32 (48 bytes)");
  expect_fail (build_plain ("{'a':{'dtype':'BF16','shape':[3],'data_offsets':[0,5]}}", 5),
               LENS_ERROR_FORMAT, "do not match shape [3] x BF16 (6 bytes)");
  /* A scalar (shape []) holds one element. */
  expect_fail (build_plain ("{'a':{'dtype':'F64','shape':[],'data_offsets':[0,4]}}", 4),
               LENS_ERROR_FORMAT, "do not match shape [] x F64 (8 bytes)");
}

static void
test_size_overflow (void)
{
  /* 2^32 * 2^32 overflows the element count even though a later dimension is 0. */
  expect_fail (build_plain ("{'a':{'dtype':'U8','shape':[4294967296,4294967296,0],"
                            "'data_offsets':[0,0]}}",
                            0),
               LENS_ERROR_FORMAT, "overflows");
  /* 2^62 elements fit, 2^62 * 4 bytes do not. */
  expect_fail (build_plain ("{'a':{'dtype':'F32','shape':[4611686018427387904],"
                            "'data_offsets':[0,0]}}",
                            0),
               LENS_ERROR_FORMAT, "overflows");
  /* Wraps to exactly 4 bytes modulo 2^64 if multiplied without checks. */
  expect_fail (build_plain ("{'a':{'dtype':'F32','shape':[4611686018427387905],"
                            "'data_offsets':[0,4]}}",
                            4),
               LENS_ERROR_FORMAT, "overflows");
}

static void
test_offsets_past_data (void)
{
  expect_fail (build_plain ("{'a':{'dtype':'F32','shape':[2],'data_offsets':[0,8]}}", 4),
               LENS_ERROR_FORMAT, "extend past the end of the data section (4 bytes)");
}

static void
test_gap_at_start (void)
{
  expect_fail (build_plain ("{'a':{'dtype':'F32','shape':[1],'data_offsets':[4,8]}}", 8),
               LENS_ERROR_FORMAT, "leave a gap: bytes 0..4");
}

static void
test_gap_between (void)
{
  expect_fail (build_plain ("{'a':{'dtype':'F32','shape':[1],'data_offsets':[0,4]},"
                            "'b':{'dtype':'F32','shape':[1],'data_offsets':[6,10]}}",
                            10),
               LENS_ERROR_FORMAT, "tensor \"b\": data_offsets [6, 10] leave a gap: bytes 4..6");
}

static void
test_overlap (void)
{
  expect_fail (build_plain ("{'b':{'dtype':'F32','shape':[2],'data_offsets':[0,8]},"
                            "'a':{'dtype':'F32','shape':[1],'data_offsets':[4,8]}}",
                            8),
               LENS_ERROR_FORMAT, "overlap tensor \"b\" [0, 8]");
  /* The same range twice. */
  expect_fail (build_plain ("{'a':{'dtype':'F32','shape':[1],'data_offsets':[0,4]},"
                            "'b':{'dtype':'F32','shape':[1],'data_offsets':[0,4]}}",
                            4),
               LENS_ERROR_FORMAT, "overlap");
}

static void
test_trailing_data (void)
{
  expect_fail (build_plain (F32_1, 5), LENS_ERROR_FORMAT,
               "the tensors cover 4 bytes but the data section after the header has 5 bytes");
  expect_fail (build_plain ("{}", 1), LENS_ERROR_FORMAT, "cover 0 bytes");
  expect_fail (build_plain ("{'__metadata__':{'format':'pt'}}", 3), LENS_ERROR_FORMAT,
               "cover 0 bytes");
}

/* ---- accepted files ---- */

static void
test_f32_values (void)
{
  const uint32_t bits[] = {0x3f800000u, 0x80000000u, 0x7f800000u, 0xff800000u,
                           0x7fc00001u, 0x00000001u, 0x7f7fffffu, 0xc0490fdbu};
  uint8_t data[sizeof bits];
  for (size_t i = 0; i < G_N_ELEMENTS (bits); i++)
    {
      uint32_t le = GUINT32_TO_LE (bits[i]);
      memcpy (data + 4 * i, &le, 4);
    }
  for (size_t mis = 0; mis < 4; mis++)
    {
      g_autofree guint8 *copy = NULL;
      LensSafetensors *st = expect_ok (
          build ("{'w':{'dtype':'F32','shape':[2,4],'data_offsets':[0,32]}}", mis, data, 32),
          &copy);
      const LensTensor *t = lens_safetensors_find (st, "w");
      g_assert_nonnull (t);
      g_assert_cmpint (t->dtype, ==, LENS_DTYPE_F32);
      g_assert_cmpint (t->n_dims, ==, 2);
      g_assert_cmpint (t->shape[0], ==, 2);
      g_assert_cmpint (t->shape[1], ==, 4);
      g_assert_cmpuint (t->n_elements, ==, 8);
      g_assert_cmpuint (t->n_bytes, ==, 32);
      g_assert_cmpstr (t->file, ==, "t.safetensors");
      g_assert_cmpuint (((uintptr_t) t->data - (uintptr_t) copy) % 8, ==, mis);
      float out[8];
      g_autoptr (GError) error = NULL;
      g_assert_true (lens_tensor_to_f32 (t, out, &error));
      g_assert_no_error (error);
      for (int i = 0; i < 8; i++)
        {
          uint32_t b;
          memcpy (&b, &out[i], 4);
          g_assert_cmphex (b, ==, bits[i]);
        }
      /* Heap copies are 8-aligned, so the data is 4-aligned exactly when mis is 0. */
      const float *direct = lens_tensor_f32_direct (t);
      if (mis == 0)
        {
          g_assert_true (direct == t->data);
          g_assert_cmpmem (direct, 32, out, 32);
        }
      else
        g_assert_null (direct);
      lens_safetensors_free (st);
    }
}

/* binary16 -> double by the textbook formula, independent of the bit manipulation under test. */
static double
f16_reference (uint16_t h)
{
  int sign = h >> 15, exp = (h >> 10) & 31, mant = h & 1023;
  double v;
  if (exp == 0)
    v = ldexp (mant, -24);
  else if (exp == 31)
    v = mant ? NAN : INFINITY;
  else
    v = ldexp (1024 + mant, exp - 25);
  return sign ? -v : v;
}

static void
test_f16_all_values (void)
{
  /* Every binary16 bit pattern, stored at an odd offset. */
  g_autofree uint8_t *data = g_malloc (65536 * 2);
  for (uint32_t i = 0; i < 65536; i++)
    {
      uint16_t le = GUINT16_TO_LE ((uint16_t) i);
      memcpy (data + 2 * i, &le, 2);
    }
  for (size_t mis = 0; mis < 2; mis++)
    {
      g_autofree guint8 *copy = NULL;
      LensSafetensors *st
          = expect_ok (build ("{'h':{'dtype':'F16','shape':[256,256],'data_offsets':[0,131072]}}",
                              mis * 3, data, 131072),
                       &copy);
      const LensTensor *t = lens_safetensors_find (st, "h");
      g_assert_nonnull (t);
      g_assert_null (lens_tensor_f32_direct (t));
      g_autofree float *out = g_new (float, 65536);
      g_autoptr (GError) error = NULL;
      g_assert_true (lens_tensor_to_f32 (t, out, &error));
      for (uint32_t i = 0; i < 65536; i++)
        {
          double ref = f16_reference ((uint16_t) i);
          uint32_t got;
          memcpy (&got, &out[i], 4);
          if (isnan (ref))
            {
              /* NaN: sign and payload kept, quiet bit where binary16 had it. */
              uint32_t want = ((i & 0x8000u) << 16) | 0x7f800000u | ((i & 0x3ffu) << 13);
              g_assert_cmphex (got, ==, want);
            }
          else
            {
              float reff = (float) ref; /* exact: binary16 values are all representable */
              uint32_t want;
              memcpy (&want, &reff, 4);
              if (got != want)
                g_error ("F16 0x%04x: got 0x%08x, want 0x%08x", i, got, want);
            }
        }
      lens_safetensors_free (st);
    }
  /* A few landmarks, so the reference formula itself is checked. */
  g_assert_cmpfloat (f16_reference (0x3c00), ==, 1.0);
  g_assert_cmpfloat (f16_reference (0x0001), ==, ldexp (1, -24));
  g_assert_cmpfloat (f16_reference (0x03ff), ==, ldexp (1023, -24));
  g_assert_cmpfloat (f16_reference (0x0400), ==, ldexp (1, -14));
  g_assert_cmpfloat (f16_reference (0x7bff), ==, 65504.0);
  g_assert_cmpfloat (f16_reference (0xc000), ==, -2.0);
  g_assert_true (isinf (f16_reference (0xfc00)) && f16_reference (0xfc00) < 0);
}

static void
test_bf16_values (void)
{
  const uint16_t h[]
      = {0x3f80, 0xbf80, 0x0001, 0x8001, 0x7f80, 0xff80, 0x7fc1, 0x4049, 0x0000, 0x8000, 0x7f7f};
  uint8_t data[sizeof h];
  for (size_t i = 0; i < G_N_ELEMENTS (h); i++)
    {
      uint16_t le = GUINT16_TO_LE (h[i]);
      memcpy (data + 2 * i, &le, 2);
    }
  for (size_t mis = 0; mis < 2; mis++)
    {
      g_autofree guint8 *copy = NULL;
      LensSafetensors *st = expect_ok (
          build ("{'b':{'dtype':'BF16','shape':[11],'data_offsets':[0,22]}}", mis, data, 22),
          &copy);
      const LensTensor *t = lens_safetensors_tensor (st, 0);
      g_assert_cmpstr (t->name, ==, "b");
      float out[11];
      g_assert_true (lens_tensor_to_f32 (t, out, NULL));
      for (size_t i = 0; i < G_N_ELEMENTS (h); i++)
        {
          uint32_t got;
          memcpy (&got, &out[i], 4);
          g_assert_cmphex (got, ==, (uint32_t) h[i] << 16);
        }
      lens_safetensors_free (st);
    }
}

static void
test_layout_and_metadata (void)
{
  /* Listed out of offset order, with metadata, a scalar, a zero-size tensor and an int tensor;
   * trailing spaces and other JSON whitespace after the header are fine. */
  uint8_t data[4 + 8 + 2];
  for (size_t i = 0; i < sizeof data; i++)
    data[i] = (uint8_t) i;
  g_autofree guint8 *copy = NULL;
  LensSafetensors *st
      = expect_ok (build ("{'__metadata__':{'format':'pt','note':'\\u00e9\\ud83d\\ude00'},"
                          " 'c':{'dtype':'BF16','shape':[1],'data_offsets':[12,14]},"
                          " 'empty':{'dtype':'F16','shape':[3,0],'data_offsets':[4,4]},"
                          " 'a':{'dtype':'F32','shape':[],'data_offsets':[0,4]},"
                          " 'i':{'dtype':'I64','shape':[1,1],'data_offsets':[4,12]}} \n\t\r ",
                          0, data, sizeof data),
                   &copy);
  g_assert_cmpuint (lens_safetensors_n_tensors (st), ==, 4);
  const char *order[] = {"a", "empty", "i", "c"};
  for (size_t i = 0; i < 4; i++)
    g_assert_cmpstr (lens_safetensors_tensor (st, i)->name, ==, order[i]);
  g_assert_null (lens_safetensors_tensor (st, 4));
  g_assert_null (lens_safetensors_find (st, "__metadata__"));
  g_assert_null (lens_safetensors_find (st, "missing"));
  const LensTensor *a = lens_safetensors_find (st, "a");
  g_assert_cmpint (a->n_dims, ==, 0);
  g_assert_cmpuint (a->n_elements, ==, 1);
  const LensTensor *e = lens_safetensors_find (st, "empty");
  g_assert_cmpuint (e->n_elements, ==, 0);
  g_assert_cmpuint (e->n_bytes, ==, 0);
  float dummy;
  g_assert_true (lens_tensor_to_f32 (e, &dummy, NULL));
  const LensTensor *it = lens_safetensors_find (st, "i");
  g_assert_cmpint (it->dtype, ==, LENS_DTYPE_I64);
  g_assert_true ((const uint8_t *) it->data - (const uint8_t *) a->data == 4);
  g_autoptr (GError) error = NULL;
  float f[1];
  g_assert_false (lens_tensor_to_f32 (it, f, &error));
  g_assert_error (error, LENS_ERROR, LENS_ERROR_UNSUPPORTED);
  g_assert_nonnull (strstr (error->message, "t.safetensors: tensor \"i\": dtype I64"));
  lens_safetensors_free (st);
  g_clear_pointer (&copy, g_free);

  /* Null metadata is allowed (the reference reads it as an absent map); so is an empty file. */
  lens_safetensors_free (expect_ok (build_plain ("{'__metadata__':null}", 0), &copy));
  g_clear_pointer (&copy, g_free);
  st = expect_ok (build_raw (2, "{}", 2, NULL, 0), &copy);
  g_assert_cmpuint (lens_safetensors_n_tensors (st), ==, 0);
  lens_safetensors_free (st);
}

static void
test_dtype_table (void)
{
  const char *names[] = {"BOOL", "U8",  "I8",  "I16", "U16", "F16",     "BF16",   "I32",
                         "U32",  "F32", "I64", "U64", "F64", "F8_E4M3", "F8_E5M2"};
  const size_t sizes[] = {1, 1, 1, 2, 2, 2, 2, 4, 4, 4, 8, 8, 8, 1, 1};
  for (int d = LENS_DTYPE_BOOL; d <= LENS_DTYPE_F8_E5M2; d++)
    {
      g_assert_cmpstr (lens_dtype_name (d), ==, names[d]);
      g_assert_cmpuint (lens_dtype_size (d), ==, sizes[d]);
      /* Each name is accepted in a file and gives that dtype. */
      g_autofree char *json = g_strdup_printf (
          "{'x':{'dtype':'%s','shape':[2],'data_offsets':[0,%zu]}}", names[d], 2 * sizes[d]);
      g_autofree guint8 *copy = NULL;
      LensSafetensors *st = expect_ok (build_plain (json, 2 * sizes[d]), &copy);
      g_assert_cmpint (lens_safetensors_find (st, "x")->dtype, ==, d);
      lens_safetensors_free (st);
    }
}

/* ---- files and folders ---- */

static void
write_file (const char *dir, const char *name, GBytes *b)
{
  g_autofree char *p = g_build_filename (dir, name, NULL);
  gsize n;
  const char *d = g_bytes_get_data (b, &n);
  g_assert_true (g_file_set_contents (p, d ? d : "", (gssize) n, NULL));
  g_bytes_unref (b);
}

static void
write_text (const char *dir, const char *name, const char *json_template)
{
  g_autofree char *json = q (json_template);
  write_file (dir, name, g_bytes_new (json, strlen (json)));
}

static void
remove_tree (const char *dir)
{
  GDir *d = g_dir_open (dir, 0, NULL);
  const char *n;
  while (d && (n = g_dir_read_name (d)))
    {
      g_autofree char *p = g_build_filename (dir, n, NULL);
      if (g_file_test (p, G_FILE_TEST_IS_DIR))
        remove_tree (p);
      else
        g_unlink (p);
    }
  if (d)
    g_dir_close (d);
  g_rmdir (dir);
}

static void
expect_store_fail (const char *dir, int code, const char *needle)
{
  g_autoptr (GError) error = NULL;
  LensWeightStore *ws = lens_weight_store_open (dir, &error);
  if (ws != NULL)
    g_error ("store opened; expected an error containing '%s'", needle);
  g_assert_nonnull (error);
  if (!g_error_matches (error, LENS_ERROR, code))
    g_error ("wrong error code %d for: %s", error->code, error->message);
  if (strstr (error->message, needle) == NULL)
    g_error ("error '%s' does not contain '%s'", error->message, needle);
  g_assert_null (strchr (error->message, '\n'));
}

static GBytes *
one_f32 (const char *name, float v)
{
  g_autofree char *json
      = g_strdup_printf ("{'%s':{'dtype':'F32','shape':[1],'data_offsets':[0,4]}}", name);
  return build (json, 0, &v, 4);
}

static void
test_open_file (void)
{
  g_autofree char *dir = g_dir_make_tmp ("lens-st-XXXXXX", NULL);
  write_file (dir, "x.safetensors", one_f32 ("w", 2.5f));
  g_autofree char *p = g_build_filename (dir, "x.safetensors", NULL);
  g_autoptr (GError) error = NULL;
  LensSafetensors *st = lens_safetensors_open (p, &error);
  g_assert_no_error (error);
  const LensTensor *t = lens_safetensors_find (st, "w");
  g_assert_cmpstr (t->file, ==, p);
  g_assert_cmpfloat (lens_tensor_f32_direct (t)[0], ==, 2.5f);
  lens_safetensors_free (st);

  g_autofree char *missing = g_build_filename (dir, "nope.safetensors", NULL);
  g_assert_null (lens_safetensors_open (missing, &error));
  g_assert_error (error, LENS_ERROR, LENS_ERROR_IO);
  g_assert_true (g_str_has_prefix (error->message, missing));
  g_clear_error (&error);
  g_assert_null (lens_safetensors_open (dir, &error));
  g_assert_error (error, LENS_ERROR, LENS_ERROR_IO);
  g_clear_error (&error);
  /* A FIFO must be refused, not block waiting for a writer. */
  g_autofree char *fifo = g_build_filename (dir, "fifo.safetensors", NULL);
  g_assert_cmpint (mkfifo (fifo, 0600), ==, 0);
  g_assert_null (lens_safetensors_open (fifo, &error));
  g_assert_error (error, LENS_ERROR, LENS_ERROR_IO);
  g_assert_nonnull (strstr (error->message, "not a regular file"));
  g_clear_error (&error);
  write_file (dir, "empty.safetensors", g_bytes_new (NULL, 0));
  g_autofree char *empty = g_build_filename (dir, "empty.safetensors", NULL);
  g_assert_null (lens_safetensors_open (empty, &error));
  g_assert_error (error, LENS_ERROR, LENS_ERROR_FORMAT);
  g_assert_nonnull (strstr (error->message, "too small"));
  remove_tree (dir);
}

static void
test_store_single (void)
{
  g_autofree char *dir = g_dir_make_tmp ("lens-st-XXXXXX", NULL);
  expect_store_fail (dir, LENS_ERROR_IO, "no model.safetensors");
  /* A single file wins over an index. */
  write_text (dir, "model.safetensors.index.json", "{'weight_map':{'w':'missing.safetensors'}}");
  write_file (dir, "model.safetensors", one_f32 ("w", -1.0f));
  g_autoptr (GError) error = NULL;
  LensWeightStore *ws = lens_weight_store_open (dir, &error);
  g_assert_no_error (error);
  const LensTensor *t = lens_weight_store_find (ws, "w");
  g_assert_nonnull (t);
  float v;
  g_assert_true (lens_tensor_to_f32 (t, &v, NULL));
  g_assert_cmpfloat (v, ==, -1.0f);
  g_assert_null (lens_weight_store_find (ws, "x"));
  g_autofree char *p = g_build_filename (dir, "model.safetensors", NULL);
  struct stat sb;
  g_assert_cmpint (g_stat (p, &sb), ==, 0);
  g_assert_cmpuint (lens_weight_store_size (ws), ==, (uint64_t) sb.st_size);
  lens_weight_store_free (ws);

  /* A broken single file is reported with its path. */
  write_file (dir, "model.safetensors", build_plain (F32_1, 3));
  expect_store_fail (dir, LENS_ERROR_FORMAT, "model.safetensors: tensor \"a\"");
  remove_tree (dir);
  expect_store_fail (dir, LENS_ERROR_IO, "not a readable model folder");
}

static void
test_store_sharded (void)
{
  g_autofree char *dir = g_dir_make_tmp ("lens-st-XXXXXX", NULL);
  write_file (dir, "model-00001-of-00002.safetensors", one_f32 ("a", 1.0f));
  float bc[3] = {2.0f, 3.0f, 4.0f};
  write_file (dir, "model-00002-of-00002.safetensors",
              build ("{'b':{'dtype':'F32','shape':[1],'data_offsets':[0,4]},"
                     "'c':{'dtype':'F32','shape':[2],'data_offsets':[4,12]}}",
                     1, bc, 12));
  write_text (dir, "model.safetensors.index.json",
              "{'metadata':{'total_size':16},'weight_map':{"
              "'a':'model-00001-of-00002.safetensors',"
              "'b':'model-00002-of-00002.safetensors',"
              "'c':'model-00002-of-00002.safetensors'}}");
  g_autoptr (GError) error = NULL;
  LensWeightStore *ws = lens_weight_store_open (dir, &error);
  g_assert_no_error (error);
  g_assert_nonnull (ws);
  float v[2];
  g_assert_true (lens_tensor_to_f32 (lens_weight_store_find (ws, "a"), v, NULL));
  g_assert_cmpfloat (v[0], ==, 1.0f);
  g_assert_true (lens_tensor_to_f32 (lens_weight_store_find (ws, "c"), v, NULL));
  g_assert_cmpfloat (v[0], ==, 3.0f);
  g_assert_cmpfloat (v[1], ==, 4.0f);
  g_assert_true (g_str_has_suffix (lens_weight_store_find (ws, "b")->file,
                                   "model-00002-of-00002.safetensors"));
  g_assert_cmpuint (lens_weight_store_size (ws), >, 16);
  lens_weight_store_free (ws);
  remove_tree (dir);
}

static void
test_store_index_errors (void)
{
  g_autofree char *dir = g_dir_make_tmp ("lens-st-XXXXXX", NULL);
  write_file (dir, "s1.safetensors", one_f32 ("a", 1.0f));
  write_file (dir, "s2.safetensors", one_f32 ("a", 2.0f));
  const char *idx = "model.safetensors.index.json";

  write_text (dir, idx, "{'weight_map':{'a':'../s1.safetensors'}}");
  expect_store_fail (dir, LENS_ERROR_FORMAT, "not a plain file name");
  write_text (dir, idx, "{'weight_map':{'a':'sub/s1.safetensors'}}");
  expect_store_fail (dir, LENS_ERROR_FORMAT, "not a plain file name");
  write_text (dir, idx, "{'weight_map':{'a':'..'}}");
  expect_store_fail (dir, LENS_ERROR_FORMAT, "not a plain file name");
  write_text (dir, idx, "{'weight_map':{'a':'/etc/passwd'}}");
  expect_store_fail (dir, LENS_ERROR_FORMAT, "not a plain file name");
  write_text (dir, idx, "{'weight_map':{'a':''}}");
  expect_store_fail (dir, LENS_ERROR_FORMAT, "not a plain file name");
  write_text (dir, idx, "{'weight_map':{'a':'s1.safetensors\\u0000x'}}");
  expect_store_fail (dir, LENS_ERROR_FORMAT, "not a plain file name");
  /* a missing shard whose name has a newline would split the "cannot open" message */
  write_text (dir, idx, "{'weight_map':{'a':'s1\\n.safetensors'}}");
  expect_store_fail (dir, LENS_ERROR_FORMAT, "not a plain file name");
  write_text (dir, idx, "{'weight_map':{'a':'.'}}");
  expect_store_fail (dir, LENS_ERROR_FORMAT, "not a plain file name");
  write_text (dir, idx, "{'weight_map':{'a':'s1\\u0085.safetensors'}}"); /* NEXT LINE (C1) */
  expect_store_fail (dir, LENS_ERROR_FORMAT, "not a plain file name");
  write_text (dir, idx, "{'weight_map':{'a':'s1\\u2028.safetensors'}}"); /* LINE SEPARATOR */
  expect_store_fail (dir, LENS_ERROR_FORMAT, "not a plain file name");
  write_text (dir, idx, "{'weight_map':{'a':1}}");
  expect_store_fail (dir, LENS_ERROR_FORMAT, "must be a file name string");
  write_text (dir, idx, "{'weight_map':{}}");
  expect_store_fail (dir, LENS_ERROR_FORMAT, "weight_map is empty");
  write_text (dir, idx, "{'weights':{}}");
  expect_store_fail (dir, LENS_ERROR_FORMAT, "\"weight_map\"");
  write_text (dir, idx, "{'weight_map':{'a':'s1.safetensors','a':'s2.safetensors'}}");
  expect_store_fail (dir, LENS_ERROR_FORMAT, "duplicate key \"a\"");
  write_text (dir, idx, "{'weight_map':{'a':'s1.safetensors'}");
  expect_store_fail (dir, LENS_ERROR_FORMAT, "invalid JSON");
  write_text (dir, idx, "{'weight_map':{'a':'s1.safetensors','b':'s1.safetensors'}}");
  expect_store_fail (
      dir, LENS_ERROR_FORMAT,
      "tensor \"b\" is listed in shard \"s1.safetensors\", which does not contain it");
  write_text (dir, idx, "{'weight_map':{'a':'s1.safetensors','b':'s2.safetensors'}}");
  expect_store_fail (dir, LENS_ERROR_FORMAT, "is also in");
  g_autofree char *fifo = g_build_filename (dir, "model.safetensors.index.json", NULL);
  g_unlink (fifo);
  g_assert_cmpint (mkfifo (fifo, 0600), ==, 0);
  expect_store_fail (dir, LENS_ERROR_IO, "not a regular file");
  g_unlink (fifo);
  write_text (dir, idx, "{'weight_map':{'a':'s3.safetensors'}}");
  expect_store_fail (dir, LENS_ERROR_IO, "s3.safetensors: cannot open");
  /* A broken shard is reported with the shard's path. */
  write_file (dir, "s3.safetensors", build_plain (F32_1, 8));
  expect_store_fail (dir, LENS_ERROR_FORMAT, "s3.safetensors: the tensors cover 4 bytes");
  remove_tree (dir);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/safetensors/reject/too-small", test_too_small);
  g_test_add_func ("/safetensors/reject/header-too-large", test_header_too_large);
  g_test_add_func ("/safetensors/reject/header-past-end", test_header_past_end);
  g_test_add_func ("/safetensors/reject/header-start", test_header_start);
  g_test_add_func ("/safetensors/reject/header-utf8", test_header_utf8);
  g_test_add_func ("/safetensors/reject/header-json-strict", test_header_json_strict);
  g_test_add_func ("/safetensors/reject/header-depth", test_header_depth);
  g_test_add_func ("/safetensors/reject/duplicate-names", test_duplicate_names);
  g_test_add_func ("/safetensors/reject/nul-in-name", test_nul_in_name);
  g_test_add_func ("/safetensors/reject/metadata-types", test_metadata_types);
  g_test_add_func ("/safetensors/reject/entry-fields", test_entry_fields);
  g_test_add_func ("/safetensors/reject/dtype", test_dtype);
  g_test_add_func ("/safetensors/reject/shape-entries", test_shape_entries);
  g_test_add_func ("/safetensors/reject/offset-entries", test_offsets_entries);
  g_test_add_func ("/safetensors/reject/size-mismatch", test_size_mismatch);
  g_test_add_func ("/safetensors/reject/size-overflow", test_size_overflow);
  g_test_add_func ("/safetensors/reject/offsets-past-data", test_offsets_past_data);
  g_test_add_func ("/safetensors/reject/gap-at-start", test_gap_at_start);
  g_test_add_func ("/safetensors/reject/gap-between", test_gap_between);
  g_test_add_func ("/safetensors/reject/overlap", test_overlap);
  g_test_add_func ("/safetensors/reject/trailing-data", test_trailing_data);
  g_test_add_func ("/safetensors/load/f32-values", test_f32_values);
  g_test_add_func ("/safetensors/load/f16-all-values", test_f16_all_values);
  g_test_add_func ("/safetensors/load/bf16-values", test_bf16_values);
  g_test_add_func ("/safetensors/load/layout-and-metadata", test_layout_and_metadata);
  g_test_add_func ("/safetensors/load/dtype-table", test_dtype_table);
  g_test_add_func ("/safetensors/file/open", test_open_file);
  g_test_add_func ("/safetensors/store/single", test_store_single);
  g_test_add_func ("/safetensors/store/sharded", test_store_sharded);
  g_test_add_func ("/safetensors/store/index-errors", test_store_index_errors);
  return g_test_run ();
}
