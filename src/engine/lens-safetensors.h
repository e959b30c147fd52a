/* lens-safetensors.h: validated, memory-mapped safetensors files (single or sharded).
 *
 * Nothing in a file is trusted: every rule of the reference reader is checked before any tensor
 * data is touched (header length, strict UTF-8 JSON, dtypes, shapes, offsets contiguous from 0 to
 * the end of the file, byte sizes with overflow checks, duplicate names). */
#pragma once

#include <glib.h>
#include <stdint.h>
#include <stddef.h>

G_BEGIN_DECLS

#define LENS_SAFETENSORS_MAX_HEADER 100000000u
#define LENS_SAFETENSORS_MAX_DIMS 8

typedef enum
{
  LENS_DTYPE_BOOL,
  LENS_DTYPE_U8,
  LENS_DTYPE_I8,
  LENS_DTYPE_I16,
  LENS_DTYPE_U16,
  LENS_DTYPE_F16,
  LENS_DTYPE_BF16,
  LENS_DTYPE_I32,
  LENS_DTYPE_U32,
  LENS_DTYPE_F32,
  LENS_DTYPE_I64,
  LENS_DTYPE_U64,
  LENS_DTYPE_F64,
  LENS_DTYPE_F8_E4M3,
  LENS_DTYPE_F8_E5M2,
} LensDType;

typedef struct
{
  const char *name; /* owned by the file object */
  LensDType dtype;
  int n_dims;
  int64_t shape[LENS_SAFETENSORS_MAX_DIMS];
  uint64_t n_elements;
  uint64_t n_bytes;
  const void *data; /* points into the mapping; may be unaligned */
  const char *file; /* the shard it lives in, for error messages */
} LensTensor;

typedef struct LensSafetensors LensSafetensors;

/* Maps `path` read-only and validates it. */
LensSafetensors *lens_safetensors_open (const char *path, GError **error);
/* Validates an in-memory file (the fuzz harness uses this); `buf` must outlive the result.
 * `name` only appears in error messages. */
LensSafetensors *lens_safetensors_parse (const uint8_t *buf, size_t len, const char *name,
                                         GError **error);
void lens_safetensors_free (LensSafetensors *st);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (LensSafetensors, lens_safetensors_free)

size_t lens_safetensors_n_tensors (const LensSafetensors *st);
const LensTensor *lens_safetensors_tensor (const LensSafetensors *st, size_t i);
const LensTensor *lens_safetensors_find (const LensSafetensors *st, const char *name);

/* All the weights of a model folder: `model.safetensors`, or `model.safetensors.index.json` with
 * its shards (each shard validated; the index may only name shards inside the folder). */
typedef struct LensWeightStore LensWeightStore;

LensWeightStore *lens_weight_store_open (const char *dir, GError **error);
void lens_weight_store_free (LensWeightStore *ws);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (LensWeightStore, lens_weight_store_free)
/* Looks a tensor up by name across all shards; NULL when absent. */
const LensTensor *lens_weight_store_find (const LensWeightStore *ws, const char *name);
/* Total bytes of all mapped files. */
uint64_t lens_weight_store_size (const LensWeightStore *ws);
/* Reads one byte of every 4 KiB of the mapped files, once per store: threads calling this at the
 * same time share the work, and each returns when nothing is left to hand out. The first access
 * to a page costs: a read from disk when the file is not cached, mapping the page into the
 * process, and on virtual machines whose host shadows the guest's page tables about 1 us per page
 * even when cached (120 ms for GPT-2 small, measured here). lens_model_load runs this beside the
 * tokenizer's parsing so that the first forward pass does not pay it. */
void lens_weight_store_touch (LensWeightStore *ws);
/* Makes every lens_weight_store_touch return after the chunk it is on (a failed load need not
 * read the rest of the weights). */
void lens_weight_store_touch_stop (LensWeightStore *ws);

size_t lens_dtype_size (LensDType dtype);
const char *lens_dtype_name (LensDType dtype);

/* Converts a float tensor (F32, F16 or BF16) to f32 in `dst` (n_elements floats). Handles
 * unaligned data. Returns FALSE with an error for any other dtype. */
gboolean lens_tensor_to_f32 (const LensTensor *t, float *dst, GError **error);
/* A pointer to f32 data when the tensor is F32 and 4-byte aligned (no copy needed), else NULL. */
const float *lens_tensor_f32_direct (const LensTensor *t);

G_END_DECLS
