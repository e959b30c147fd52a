/* lens-config-private.h: the typed readers of config.json fields, shared by the families' readers
 * in lens-arch.c. Each sets "PATH: field "KEY" ..." errors naming the file and the field. */
#pragma once

#include <glib.h>
#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>

#include "lens-config.h"

G_BEGIN_DECLS

/* TRUE when `key` is present; *v is then its value, which is NULL for a JSON null. */
gboolean lens_config_field (json_object *obj, const char *key, json_object **v);

/* An integer `key` in lo..hi. Absent: an error when `required`; absent or null when not
 * required: *out is left alone and *present (when given) is FALSE. `where` prefixes the key in
 * messages ("rope_scaling."), or NULL. */
gboolean lens_config_int (json_object *obj, const char *path, const char *where, const char *key,
                          gboolean required, int64_t lo, int64_t hi, int *out, gboolean *present,
                          GError **error);
/* A number (integer or not) `key` in lo..hi (exclusive of lo when `lo_open`). Absent or null:
 * *out = dflt. */
gboolean lens_config_double (json_object *obj, const char *path, const char *where, const char *key,
                             double lo, gboolean lo_open, double hi, double dflt, double *out,
                             GError **error);
/* true/false `key`; absent: *out = dflt. */
gboolean lens_config_bool (json_object *obj, const char *path, const char *where, const char *key,
                           bool dflt, bool *out, GError **error);
/* A string `key` (*len bytes, may contain NUL); absent or null: *out = NULL. */
gboolean lens_config_string (json_object *obj, const char *path, const char *where, const char *key,
                             const char **out, size_t *len, GError **error);
/* Whether the string s (len bytes, or NULL) is exactly `value`. */
gboolean lens_config_string_is (const char *s, size_t len, const char *value);
/* Refuses `key` when present with a value other than `allowed` (true/false) because the engine
 * does not compute what that setting changes. */
gboolean lens_config_refuse_flag (json_object *obj, const char *path, const char *key, bool allowed,
                                  GError **error);

G_END_DECLS
