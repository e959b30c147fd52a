/* Unit tests for lens-config: GPT-2 config.json parsing, defaults, and one test per rejection rule
 * (types, ranges, unsupported model types and options, malformed JSON). */
#include "lens-arch.h"
#include "lens-config.h"
#include "lens-json.h"
#include "lens-error.h"

#include <glib/gstdio.h>
#include <sys/stat.h>
#include <string.h>

/* GPT-2 small's config.json as Hugging Face ships it (with ' for "). */
static const char gpt2_config[]
    = "{'activation_function':'gelu_new','architectures':['GPT2LMHeadModel'],'attn_pdrop':0.1,"
      "'bos_token_id':50256,'embd_pdrop':0.1,'eos_token_id':50256,'initializer_range':0.02,"
      "'layer_norm_epsilon':1e-05,'model_type':'gpt2','n_ctx':1024,'n_embd':768,'n_head':12,"
      "'n_layer':12,'n_positions':1024,'resid_pdrop':0.1,'summary_activation':null,"
      "'summary_first_dropout':0.1,'summary_proj_to_labels':true,'summary_type':'cls_index',"
      "'summary_use_proj':true,'task_specific_params':{'text-generation':{'do_sample':true,"
      "'max_length':50}},'vocab_size':50257}";

static char *
q (const char *s)
{
  char *r = g_strdup (s);
  for (char *p = r; *p; p++)
    if (*p == '\'')
      *p = '"';
  return r;
}

/* A minimal valid config with `extra` (", 'key':value" pairs) appended; keys in `extra` must not
 * repeat the base ones. */
static char *
config_with (const char *extra)
{
  g_autofree char *t = g_strdup_printf ("{'model_type':'gpt2','n_layer':2,'n_embd':8,'n_head':2,"
                                        "'n_positions':16,'vocab_size':50%s}",
                                        extra);
  return q (t);
}

static gboolean
parse (const char *json, LensConfig *c, GError **error)
{
  /* Exactly sized, not NUL-terminated, so ASan catches reads past `len`. */
  size_t n = strlen (json);
  g_autofree char *copy = g_memdup2 (json, n);
  return lens_config_parse (copy, n, "config.json", c, error);
}

static void
expect_fail_json (const char *json, int code, const char *needle)
{
  LensConfig c;
  g_autoptr (GError) error = NULL;
  if (parse (json, &c, &error))
    g_error ("parse succeeded for %s; expected '%s'", json, needle);
  g_assert_nonnull (error);
  if (!g_error_matches (error, LENS_ERROR, code))
    g_error ("wrong error code %d for: %s", error->code, error->message);
  if (strstr (error->message, needle) == NULL)
    g_error ("error '%s' does not contain '%s'", error->message, needle);
  g_assert_true (g_str_has_prefix (error->message, "config.json: "));
  g_assert_null (strchr (error->message, '\n'));
}

/* Replaces `key`'s value in the minimal config by `value` (or adds the key). */
static void
expect_fail_field (const char *key, const char *value, int code, const char *needle)
{
  GString *s = g_string_new ("{");
  const char *keys[] = {"model_type", "n_layer", "n_embd", "n_head", "n_positions", "vocab_size"};
  const char *vals[] = {"'gpt2'", "2", "8", "2", "16", "50"};
  gboolean replaced = FALSE;
  for (size_t i = 0; i < G_N_ELEMENTS (keys); i++)
    {
      gboolean mine = strcmp (keys[i], key) == 0;
      replaced |= mine;
      g_string_append_printf (s, "%s'%s':%s", i ? "," : "", keys[i], mine ? value : vals[i]);
    }
  if (!replaced)
    g_string_append_printf (s, ",'%s':%s", key, value);
  g_string_append_c (s, '}');
  g_autofree char *json = q (s->str);
  g_string_free (s, TRUE);
  expect_fail_json (json, code, needle);
}

static void
expect_ok (const char *json, LensConfig *c)
{
  g_autoptr (GError) error = NULL;
  gboolean ok = parse (json, c, &error);
  g_assert_no_error (error);
  g_assert_true (ok);
}

static void
test_gpt2_small (void)
{
  g_autofree char *json = q (gpt2_config);
  LensConfig c;
  expect_ok (json, &c);
  g_assert_cmpstr (c.model_type, ==, "gpt2");
  g_assert_cmpint (c.n_layer, ==, 12);
  g_assert_cmpint (c.n_embd, ==, 768);
  g_assert_cmpint (c.n_head, ==, 12);
  g_assert_cmpint (c.n_positions, ==, 1024);
  g_assert_cmpint (c.vocab_size, ==, 50257);
  g_assert_cmpint (c.n_inner, ==, 3072);
  g_assert_cmpfloat (c.norm_eps, ==, 1e-5f);
  g_assert_true (c.tie_word_embeddings);
  g_assert_cmpstr (lens_config_architecture (&c), ==, "gpt2");
  g_assert_cmpint (c.n_kv_head, ==, 12);
  g_assert_cmpint (c.head_dim, ==, 64);
}

static void
test_defaults_and_options (void)
{
  LensConfig c;
  g_autofree char *minimal = config_with ("");
  expect_ok (minimal, &c);
  g_assert_cmpint (c.n_inner, ==, 32);
  g_assert_cmpfloat (c.norm_eps, ==, 1e-5f);
  g_assert_true (c.tie_word_embeddings);

  g_autofree char *opts = config_with (",'n_inner':24,'layer_norm_epsilon':0.001,"
                                       "'activation_function':'gelu_pytorch_tanh',"
                                       "'tie_word_embeddings':false,'scale_attn_weights':true,"
                                       "'scale_attn_by_inverse_layer_idx':false,"
                                       "'reorder_and_upcast_attn':true");
  expect_ok (opts, &c);
  g_assert_cmpint (c.n_inner, ==, 24);
  g_assert_cmpfloat (c.norm_eps, ==, 0.001f);
  g_assert_false (c.tie_word_embeddings);

  g_autofree char *null_inner = config_with (",'n_inner':null,'layer_norm_epsilon':1");
  expect_ok (null_inner, &c);
  g_assert_cmpint (c.n_inner, ==, 32);
  g_assert_cmpfloat (c.norm_eps, ==, 1.0f);

  /* Old configs name the context length n_ctx; n_positions wins when both are present. */
  g_autofree char *old = q ("{'model_type':'gpt2','n_layer':1,'n_embd':4,'n_head':1,"
                            "'n_ctx':32,'vocab_size':5}");
  expect_ok (old, &c);
  g_assert_cmpint (c.n_positions, ==, 32);
  g_autofree char *both = config_with (",'n_ctx':32");
  expect_ok (both, &c);
  g_assert_cmpint (c.n_positions, ==, 16);

  /* Whitespace around the object is fine. */
  g_autofree char *ws = g_strdup_printf ("\n  %s\n", minimal);
  expect_ok (ws, &c);
}

static void
test_model_type (void)
{
  expect_fail_field ("model_type", "'bert'", LENS_ERROR_UNSUPPORTED,
                     "config.json: model_type \"bert\" is not supported (supported: gpt2, llama, "
                     "mistral, qwen2, qwen3, gemma, gemma2, gemma3_text, gemma3, gpt_neox, phi3, "
                     "olmo2)");
  expect_fail_field ("model_type", "'GPT2'", LENS_ERROR_UNSUPPORTED, "\"GPT2\" is not supported");
  expect_fail_field ("model_type", "'gpt2\\u0000x'", LENS_ERROR_UNSUPPORTED, "\"gpt2\\x00x\"");
  expect_fail_field ("model_type", "7", LENS_ERROR_FORMAT,
                     "field \"model_type\" must be a string, not an integer");
  expect_fail_json ("{\"n_layer\":1}", LENS_ERROR_FORMAT, "field \"model_type\" is missing");
}

static void
test_missing_fields (void)
{
  const char *req[] = {"n_layer", "n_embd", "n_head", "vocab_size"};
  for (size_t i = 0; i < G_N_ELEMENTS (req); i++)
    {
      g_autofree char *json = q ("{'model_type':'gpt2','n_layer':2,'n_embd':8,'n_head':2,"
                                 "'n_positions':16,'vocab_size':50}");
      /* Rename the key so it is absent. */
      g_autofree char *needle = g_strdup_printf ("\"%s\"", req[i]);
      char *at = strstr (json, needle);
      at[1] = 'X';
      g_autofree char *msg = g_strdup_printf ("field \"%s\" is missing", req[i]);
      expect_fail_json (json, LENS_ERROR_FORMAT, msg);
    }
  g_autofree char *nopos = q ("{'model_type':'gpt2','n_layer':2,'n_embd':8,'n_head':2,"
                              "'vocab_size':50}");
  expect_fail_json (nopos, LENS_ERROR_FORMAT, "\"n_positions\" is missing");
}

static void
test_int_types (void)
{
  const char *fields[] = {"n_layer", "n_embd", "n_head", "n_positions", "vocab_size"};
  const char *bad[] = {"'12'", "12.0", "1e1", "true", "null", "[12]", "{}"};
  const char *names[] = {
      "a string", "a non-integer number", "a non-integer number", "a boolean", "null", "an array",
      "an object"};
  for (size_t f = 0; f < G_N_ELEMENTS (fields); f++)
    for (size_t b = 0; b < G_N_ELEMENTS (bad); b++)
      {
        g_autofree char *msg
            = g_strdup_printf ("field \"%s\" must be an integer, not %s", fields[f], names[b]);
        expect_fail_field (fields[f], bad[b], LENS_ERROR_FORMAT, msg);
      }
  expect_fail_field ("n_inner", "'32'", LENS_ERROR_FORMAT,
                     "field \"n_inner\" must be an integer, not a string");
  g_autofree char *ctx = q ("{'model_type':'gpt2','n_layer':2,'n_embd':8,'n_head':2,"
                            "'n_ctx':'16','vocab_size':50}");
  expect_fail_json (ctx, LENS_ERROR_FORMAT, "field \"n_ctx\" must be an integer, not a string");
}

static void
test_ranges (void)
{
  expect_fail_field ("n_layer", "0", LENS_ERROR_FORMAT,
                     "\"n_layer\" = 0 is out of range (1..1024)");
  expect_fail_field ("n_layer", "1025", LENS_ERROR_FORMAT, "out of range");
  expect_fail_field ("n_layer", "-3", LENS_ERROR_FORMAT, "\"n_layer\" = -3 is out of range");
  expect_fail_field ("n_layer", "99999999999999999999", LENS_ERROR_FORMAT, "out of range");
  expect_fail_field ("n_layer", "-99999999999999999999", LENS_ERROR_FORMAT, "out of range");
  expect_fail_field ("n_layer", "4294967298", LENS_ERROR_FORMAT, "out of range");
  expect_fail_field ("n_embd", "65537", LENS_ERROR_FORMAT, "\"n_embd\" = 65537 is out of range");
  expect_fail_field ("n_head", "0", LENS_ERROR_FORMAT, "\"n_head\" = 0 is out of range");
  expect_fail_field ("n_head", "3", LENS_ERROR_FORMAT,
                     "n_embd (8) is not a multiple of n_head (3)");
  expect_fail_field ("vocab_size", "10000001", LENS_ERROR_FORMAT, "out of range");
  expect_fail_field ("vocab_size", "0", LENS_ERROR_FORMAT, "out of range");
  expect_fail_field ("n_positions", "1000001", LENS_ERROR_FORMAT, "out of range");
  expect_fail_field ("n_positions", "0", LENS_ERROR_FORMAT, "out of range");
  expect_fail_field ("n_inner", "0", LENS_ERROR_FORMAT, "\"n_inner\" = 0 is out of range");
  expect_fail_field ("n_inner", "262145", LENS_ERROR_FORMAT, "out of range");
  /* Upper bounds are accepted. */
  LensConfig c;
  g_autofree char *big = q ("{'model_type':'gpt2','n_layer':1024,'n_embd':65536,'n_head':65536,"
                            "'n_positions':1000000,'vocab_size':10000000,'n_inner':262144}");
  expect_ok (big, &c);
  g_assert_cmpint (c.n_inner, ==, 262144);
}

static void
test_epsilon (void)
{
  expect_fail_field ("layer_norm_epsilon", "0", LENS_ERROR_FORMAT, "out of range");
  expect_fail_field ("layer_norm_epsilon", "-1e-5", LENS_ERROR_FORMAT, "out of range");
  expect_fail_field ("layer_norm_epsilon", "2", LENS_ERROR_FORMAT, "out of range");
  expect_fail_field ("layer_norm_epsilon", "1e-300", LENS_ERROR_FORMAT, "out of range");
  expect_fail_field ("layer_norm_epsilon", "1e999", LENS_ERROR_FORMAT, "");
  expect_fail_field ("layer_norm_epsilon", "'1e-5'", LENS_ERROR_FORMAT,
                     "\"layer_norm_epsilon\" must be a number, not a string");
  expect_fail_field ("layer_norm_epsilon", "null", LENS_ERROR_FORMAT, "must be a number");
}

static void
test_activation (void)
{
  expect_fail_field ("activation_function", "'relu'", LENS_ERROR_UNSUPPORTED,
                     "activation_function \"relu\" is not supported (supported: gelu_new, "
                     "gelu_pytorch_tanh)");
  expect_fail_field ("activation_function", "'gelu'", LENS_ERROR_UNSUPPORTED, "\"gelu\"");
  expect_fail_field ("activation_function", "'gelu_new\\u0000'", LENS_ERROR_UNSUPPORTED,
                     "not supported");
  expect_fail_field ("activation_function", "1", LENS_ERROR_FORMAT, "must be a string");
}

static void
test_flags (void)
{
  expect_fail_field ("tie_word_embeddings", "1", LENS_ERROR_FORMAT,
                     "field \"tie_word_embeddings\" must be true or false, not an integer");
  expect_fail_field ("tie_word_embeddings", "'true'", LENS_ERROR_FORMAT, "must be true or false");
  expect_fail_field ("scale_attn_by_inverse_layer_idx", "true", LENS_ERROR_UNSUPPORTED,
                     "\"scale_attn_by_inverse_layer_idx\": true is not supported");
  expect_fail_field ("scale_attn_weights", "false", LENS_ERROR_UNSUPPORTED,
                     "\"scale_attn_weights\": false is not supported");
  expect_fail_field ("add_cross_attention", "true", LENS_ERROR_UNSUPPORTED, "not supported");
  expect_fail_field ("scale_attn_weights", "'yes'", LENS_ERROR_FORMAT, "must be true or false");
}

static void
test_bad_json (void)
{
  expect_fail_json ("", LENS_ERROR_FORMAT, "invalid JSON");
  expect_fail_json ("[]", LENS_ERROR_FORMAT, "expected a JSON object, not an array");
  expect_fail_json ("\"gpt2\"", LENS_ERROR_FORMAT, "expected a JSON object");
  expect_fail_json ("null", LENS_ERROR_FORMAT, "");
  expect_fail_json ("{'model_type':'gpt2'}", LENS_ERROR_FORMAT, "invalid JSON");
  g_autofree char *trailing = config_with ("");
  g_autofree char *t2 = g_strconcat (trailing, "x", NULL);
  expect_fail_json (t2, LENS_ERROR_FORMAT, "unexpected text after the end");
  g_autofree char *t3 = g_strconcat (trailing, ",", NULL);
  expect_fail_json (t3, LENS_ERROR_FORMAT, "invalid JSON");
  g_autofree char *t4 = g_strndup (trailing, strlen (trailing) - 1);
  expect_fail_json (t4, LENS_ERROR_FORMAT, "unexpected end");
  expect_fail_json ("{\"model_type\":\"gpt2\",\"n_layer\":2,\"n_layer\":3}", LENS_ERROR_FORMAT,
                    "duplicate key \"n_layer\"");
  expect_fail_json ("{\"model_type\":\"gp\xfft2\"}", LENS_ERROR_FORMAT, "invalid UTF-8");
  expect_fail_json ("{\"n_layer\":NaN}", LENS_ERROR_FORMAT, "invalid JSON");
  /* A duplicate deep inside an ignored field is still a malformed file. */
  g_autofree char *deep = config_with (",'task_specific_params':{'x':{'a':1,'a':2}}");
  expect_fail_json (deep, LENS_ERROR_FORMAT, "duplicate key \"a\"");
}

static void
test_load (void)
{
  g_autofree char *dir = g_dir_make_tmp ("lens-config-XXXXXX", NULL);
  g_autofree char *path = g_build_filename (dir, "config.json", NULL);
  g_autofree char *json = q (gpt2_config);
  g_assert_true (g_file_set_contents (path, json, -1, NULL));
  LensConfig c;
  g_autoptr (GError) error = NULL;
  g_assert_true (lens_config_load (path, &c, &error));
  g_assert_no_error (error);
  g_assert_cmpint (c.n_layer, ==, 12);

  g_assert_true (g_file_set_contents (path, "{\"model_type\":\"bert\"}", -1, NULL));
  g_assert_false (lens_config_load (path, &c, &error));
  g_assert_error (error, LENS_ERROR, LENS_ERROR_UNSUPPORTED);
  g_autofree char *want = g_strdup_printf ("%s: model_type \"bert\" is not supported", path);
  g_assert_true (g_str_has_prefix (error->message, want));
  g_clear_error (&error);

  g_unlink (path);
  g_assert_false (lens_config_load (path, &c, &error));
  g_assert_error (error, LENS_ERROR, LENS_ERROR_IO);
  g_assert_true (g_str_has_prefix (error->message, path));
  g_clear_error (&error);
  g_assert_cmpint (mkfifo (path, 0600), ==, 0);
  g_assert_false (lens_config_load (path, &c, &error));
  g_assert_error (error, LENS_ERROR, LENS_ERROR_IO);
  g_assert_nonnull (strstr (error->message, "not a regular file"));
  g_clear_error (&error);
  g_unlink (path);
  g_assert_false (lens_config_load (dir, &c, &error));
  g_assert_error (error, LENS_ERROR, LENS_ERROR_IO);
  g_assert_nonnull (strstr (error->message, "not a regular file"));
  g_clear_error (&error);
  g_rmdir (dir);
}

/* lens_json_parse hands json-c a text whose escaped surrogate pairs are already UTF-8: json-c 0.16
 * turns 32 of every 1024 of them (here U+1DA04 and U+2D800, CJK Extension F) into U+FFFD. Other
 * escapes, including an escaped backslash before "ud836", stay as they were. */
static void
test_json_surrogate_pairs (void)
{
  const char *text = "{\"k\": \"\\ud836\\ude04 \\uD876\\uDC00 \\ud83d\\ude00 \\u00e9 \\\\ud836 "
                     "\\\"\", \"\\ud836\\ude04\": 1}";
  g_autoptr (GError) error = NULL;
  json_object *obj = lens_json_parse (text, strlen (text), "t.json", &error);
  g_assert_no_error (error);
  json_object *v = NULL;
  g_assert_true (json_object_object_get_ex (obj, "k", &v));
  g_assert_cmpstr (json_object_get_string (v), ==,
                   "\xf0\x9d\xa8\x84 \xf0\xad\xa0\x80 \xf0\x9f\x98\x80 \xc3\xa9 \\ud836 \"");
  g_assert_true (json_object_object_get_ex (obj, "\xf0\x9d\xa8\x84", NULL));
  json_object_put (obj);
}

/* ---- the Llama family ---- */

/* A minimal llama-family config of `type` with `extra` appended. */
static char *
llama_with (const char *type, const char *extra)
{
  g_autofree char *t = g_strdup_printf (
      "{'model_type':'%s','hidden_size':16,'intermediate_size':24,'num_hidden_layers':3,"
      "'num_attention_heads':4,'max_position_embeddings':64,'vocab_size':100%s}",
      type, extra);
  return q (t);
}

static void
test_llama_3_2 (void)
{
  /* Llama-3.2-1B's config.json as released */
  g_autofree char *json
      = q ("{'architectures':['LlamaForCausalLM'],'attention_bias':false,'attention_dropout':0.0,"
           "'bos_token_id':128000,'eos_token_id':128001,'head_dim':64,'hidden_act':'silu',"
           "'hidden_size':2048,'initializer_range':0.02,'intermediate_size':8192,"
           "'max_position_embeddings':131072,'mlp_bias':false,'model_type':'llama',"
           "'num_attention_heads':32,'num_hidden_layers':16,'num_key_value_heads':8,"
           "'pretraining_tp':1,'rms_norm_eps':1e-05,'rope_scaling':{'factor':32.0,"
           "'high_freq_factor':4.0,'low_freq_factor':1.0,'original_max_position_embeddings':8192,"
           "'rope_type':'llama3'},'rope_theta':500000.0,'tie_word_embeddings':true,"
           "'torch_dtype':'bfloat16','transformers_version':'4.45.0.dev0','use_cache':true,"
           "'vocab_size':128256}");
  LensConfig c;
  expect_ok (json, &c);
  g_assert_cmpstr (lens_config_architecture (&c), ==, "llama");
  g_assert_cmpint (c.n_layer, ==, 16);
  g_assert_cmpint (c.n_embd, ==, 2048);
  g_assert_cmpint (c.n_head, ==, 32);
  g_assert_cmpint (c.n_kv_head, ==, 8);
  g_assert_cmpint (c.head_dim, ==, 64);
  g_assert_cmpint (c.n_inner, ==, 8192);
  g_assert_cmpint (c.n_positions, ==, 131072);
  g_assert_cmpint (c.vocab_size, ==, 128256);
  g_assert_cmpfloat (c.norm_eps, ==, 1e-5f);
  g_assert_true (c.tie_word_embeddings);
  g_assert_false (c.attn_qkv_bias || c.attn_out_bias || c.mlp_bias);
  g_assert_cmpint (c.rope.type, ==, LENS_ROPE_LLAMA3);
  g_assert_cmpfloat (c.rope.theta, ==, 500000.0);
  g_assert_cmpfloat (c.rope.factor, ==, 32.0);
  g_assert_cmpfloat (c.rope.low_freq_factor, ==, 1.0);
  g_assert_cmpfloat (c.rope.high_freq_factor, ==, 4.0);
  g_assert_cmpint (c.rope.original_max_position_embeddings, ==, 8192);
  g_assert_cmpint (c.rope.rotary_dim, ==, 64);
  g_assert_cmpint (c.sliding_window, ==, 0);
  g_assert_cmpstr (c.torch_dtype, ==, "bfloat16");
}

static void
test_llama_family_defaults (void)
{
  LensConfig c;
  /* llama: kv heads default to the heads, head_dim to hidden / heads, untied, theta 1e4 */
  g_autofree char *llama = llama_with ("llama", ",'attention_bias':true,'mlp_bias':true");
  expect_ok (llama, &c);
  g_assert_cmpint (c.n_kv_head, ==, 4);
  g_assert_cmpint (c.head_dim, ==, 4);
  g_assert_false (c.tie_word_embeddings);
  g_assert_true (c.attn_qkv_bias && c.attn_out_bias && c.mlp_bias);
  g_assert_cmpint (c.rope.type, ==, LENS_ROPE_DEFAULT);
  g_assert_cmpfloat (c.rope.theta, ==, 10000.0);
  g_assert_cmpfloat (c.norm_eps, ==, 1e-6f);

  /* the newer spelling of the RoPE settings, and the legacy "type" key */
  g_autofree char *params = llama_with (
      "llama", ",'rope_parameters':{'rope_type':'linear','factor':4,'rope_theta':1e6}");
  expect_ok (params, &c);
  g_assert_cmpint (c.rope.type, ==, LENS_ROPE_LINEAR);
  g_assert_cmpfloat (c.rope.factor, ==, 4.0);
  g_assert_cmpfloat (c.rope.theta, ==, 1e6);
  g_autofree char *legacy = llama_with ("llama", ",'rope_scaling':{'type':'linear','factor':2.0}");
  expect_ok (legacy, &c);
  g_assert_cmpint (c.rope.type, ==, LENS_ROPE_LINEAR);
  /* rope_scaling wins over rope_parameters; llama3's original context defaults to the config's */
  g_autofree char *both = llama_with (
      "llama", ",'rope_scaling':{'rope_type':'llama3','factor':8,'low_freq_factor':1,"
               "'high_freq_factor':4},'rope_parameters':{'rope_type':'linear','factor':3}");
  expect_ok (both, &c);
  g_assert_cmpint (c.rope.type, ==, LENS_ROPE_LLAMA3);
  g_assert_cmpint (c.rope.original_max_position_embeddings, ==, 64);

  /* mistral: the window applies to every block; null means none */
  g_autofree char *mistral = llama_with ("mistral", ",'num_key_value_heads':2,'sliding_window':5");
  expect_ok (mistral, &c);
  g_assert_cmpint (c.sliding_window, ==, 5);
  g_assert_true (c.layer_sliding[0] && c.layer_sliding[2]);
  g_assert_false (c.attn_qkv_bias || c.attn_out_bias);
  g_autofree char *no_window = llama_with ("mistral", ",'sliding_window':null,'head_dim':null");
  expect_ok (no_window, &c);
  g_assert_cmpint (c.sliding_window, ==, 0);
  g_assert_false (c.layer_sliding[0]);
  g_autofree char *default_window = llama_with ("mistral", "");
  expect_ok (default_window, &c);
  g_assert_cmpint (c.sliding_window, ==, 4096);
  g_assert_true (c.layer_sliding[1]);

  /* qwen2: q/k/v biases; a window only with use_sliding_window, from max_window_layers on */
  g_autofree char *qwen2
      = llama_with ("qwen2", ",'sliding_window':4096,'use_sliding_window':false");
  expect_ok (qwen2, &c);
  g_assert_true (c.attn_qkv_bias);
  g_assert_false (c.attn_out_bias);
  g_assert_cmpint (c.sliding_window, ==, 0);
  g_assert_false (c.layer_sliding[2]);
  g_autofree char *qwen2w
      = llama_with ("qwen2", ",'sliding_window':8,'use_sliding_window':true,'max_window_layers':1");
  expect_ok (qwen2w, &c);
  g_assert_cmpint (c.sliding_window, ==, 8);
  g_assert_false (c.layer_sliding[0]);
  g_assert_true (c.layer_sliding[1] && c.layer_sliding[2]);

  /* qwen3: head_dim defaults to 128, independent of the hidden size; layer_types decide */
  g_autofree char *qwen3 = llama_with ("qwen3", "");
  expect_ok (qwen3, &c);
  g_assert_cmpint (c.head_dim, ==, 128);
  g_assert_false (c.attn_qkv_bias);
  g_autofree char *qwen3t = llama_with (
      "qwen3", ",'head_dim':8,'sliding_window':3,'use_sliding_window':true,'layer_types':"
               "['sliding_attention','full_attention','sliding_attention']");
  expect_ok (qwen3t, &c);
  g_assert_cmpint (c.head_dim, ==, 8);
  g_assert_true (c.layer_sliding[0] && !c.layer_sliding[1] && c.layer_sliding[2]);
}

static void
expect_llama_fail (const char *type, const char *extra, int code, const char *needle)
{
  g_autofree char *json = llama_with (type, extra);
  expect_fail_json (json, code, needle);
}

static void
test_llama_family_reject (void)
{
  expect_llama_fail ("llama", ",'num_key_value_heads':3", LENS_ERROR_FORMAT,
                     "num_key_value_heads (3) does not divide num_attention_heads (4)");
  g_autofree char *odd = q ("{'model_type':'llama','hidden_size':18,'intermediate_size':24,"
                            "'num_hidden_layers':1,'num_attention_heads':4,"
                            "'max_position_embeddings':64,'vocab_size':100}");
  expect_fail_json (odd, LENS_ERROR_FORMAT,
                    "hidden_size (18) is not a multiple of num_attention_heads (4)");
  expect_llama_fail ("llama", ",'head_dim':7", LENS_ERROR_FORMAT, "even head dimension");
  expect_llama_fail ("llama", ",'rms_norm_eps':1e-55", LENS_ERROR_FORMAT,
                     "\"rms_norm_eps\" = 1e-55 is out of range");
  expect_llama_fail ("llama", ",'hidden_act':'relu'", LENS_ERROR_UNSUPPORTED,
                     "hidden_act \"relu\" is not supported");
  expect_llama_fail ("llama", ",'rope_scaling':{'rope_type':'yarn','factor':4}",
                     LENS_ERROR_UNSUPPORTED, "rope_scaling.rope_type\" \"yarn\" is not supported");
  expect_llama_fail ("llama", ",'rope_scaling':{'rope_type':'llama3','factor':8}",
                     LENS_ERROR_FORMAT, "\"rope_scaling.low_freq_factor\" is missing");
  expect_llama_fail ("llama", ",'rope_scaling':{'rope_type':'linear'}", LENS_ERROR_FORMAT,
                     "\"rope_scaling.factor\" is missing");
  expect_llama_fail ("llama", ",'rope_scaling':{'rope_type':'linear','factor':-1}",
                     LENS_ERROR_FORMAT, "\"rope_scaling.factor\" = -1 is out of range");
  expect_llama_fail ("llama", ",'rope_scaling':'linear'", LENS_ERROR_FORMAT,
                     "\"rope_scaling\" must be an object or null");
  expect_llama_fail ("llama", ",'rope_parameters':{'rope_theta':'big'}", LENS_ERROR_FORMAT,
                     "\"rope_parameters.rope_theta\" must be a number");
  expect_llama_fail ("mistral", ",'sliding_window':0", LENS_ERROR_FORMAT,
                     "\"sliding_window\" = 0 is out of range");
  expect_llama_fail ("qwen3", ",'layer_types':['full_attention']", LENS_ERROR_FORMAT,
                     "must be an array of 3 strings");
  expect_llama_fail ("qwen3", ",'layer_types':['full_attention','sliding_attention','x']",
                     LENS_ERROR_FORMAT,
                     "layer_types[1]\" is \"sliding_attention\" but there is "
                     "no sliding_window");
  g_autofree char *huge = q ("{'model_type':'llama','hidden_size':1000000000,"
                             "'intermediate_size':24,'num_hidden_layers':1,"
                             "'num_attention_heads':4,'max_position_embeddings':64,"
                             "'vocab_size':100}");
  expect_fail_json (huge, LENS_ERROR_FORMAT, "\"hidden_size\" = 1000000000 is out of range");
  g_autofree char *no_heads = q ("{'model_type':'llama','hidden_size':16,'intermediate_size':24,"
                                 "'num_hidden_layers':1,'num_attention_heads':0,"
                                 "'max_position_embeddings':64,'vocab_size':100}");
  expect_fail_json (no_heads, LENS_ERROR_FORMAT, "\"num_attention_heads\" = 0 is out of range");
  g_autofree char *missing = q ("{'model_type':'qwen2','hidden_size':16}");
  expect_fail_json (missing, LENS_ERROR_FORMAT, "\"num_hidden_layers\" is missing");
}

/* Configs that pass the families' readers' ranges but would compute garbage: each is refused with
 * the field named (found by review). */
static void
test_more_families_reject (void)
{
  g_autofree char *tiny_scalar
      = q ("{'model_type':'gemma2','hidden_size':16,'intermediate_size':32,"
           "'num_hidden_layers':2,'num_attention_heads':2,'head_dim':8,"
           "'max_position_embeddings':32,'vocab_size':100,"
           "'query_pre_attn_scalar':1e-300}");
  expect_fail_json (tiny_scalar, LENS_ERROR_FORMAT, "\"query_pre_attn_scalar\" = 1e-300 is out");
  g_autofree char *tiny_cap = q ("{'model_type':'gemma2','hidden_size':16,'intermediate_size':32,"
                                 "'num_hidden_layers':2,'num_attention_heads':2,'head_dim':8,"
                                 "'max_position_embeddings':32,'vocab_size':100,"
                                 "'attn_logit_softcapping':1e-300}");
  expect_fail_json (tiny_cap, LENS_ERROR_FORMAT, "\"attn_logit_softcapping\" = 1e-300 is out");
  g_autofree char *no_window = q ("{'model_type':'gemma2','hidden_size':16,'intermediate_size':32,"
                                  "'num_hidden_layers':2,'num_attention_heads':2,'head_dim':8,"
                                  "'max_position_embeddings':32,'vocab_size':100,"
                                  "'sliding_window':null}");
  expect_fail_json (no_window, LENS_ERROR_FORMAT,
                    "\"sliding_window\" is null, but block 0 uses sliding-window attention");
  g_autofree char *longrope1 = q (
      "{'model_type':'phi3','hidden_size':16,'intermediate_size':32,'num_hidden_layers':1,"
      "'num_attention_heads':2,'max_position_embeddings':32,'original_max_position_embeddings':1,"
      "'vocab_size':100,'rope_scaling':{'type':'longrope','short_factor':[1,1,1,1],"
      "'long_factor':[2,2,2,2]}}");
  expect_fail_json (longrope1, LENS_ERROR_FORMAT,
                    "\"original_max_position_embeddings\" = 1 is out of range");
  g_autofree char *no_rotation = q ("{'model_type':'gpt_neox','hidden_size':16,'intermediate_size':"
                                    "32,'num_hidden_layers':1,'num_attention_heads':2,"
                                    "'vocab_size':100,'rotary_pct':0.1}");
  expect_fail_json (no_rotation, LENS_ERROR_UNSUPPORTED, "\"rotary_pct\" = 0.1 rotates 0 of the 8");
  g_autofree char *odd_rotation = q ("{'model_type':'phi3','hidden_size':32,'intermediate_size':64,"
                                     "'num_hidden_layers':1,'num_attention_heads':2,"
                                     "'vocab_size':100,'partial_rotary_factor':0.33}");
  expect_fail_json (odd_rotation, LENS_ERROR_UNSUPPORTED, "\"partial_rotary_factor\" = 0.33");
  g_autofree char *local_longrope
      = q ("{'model_type':'gemma3_text','sliding_window':4,'rope_parameters':{'sliding_attention':"
           "{'rope_type':'longrope','short_factor':[1],'long_factor':[2],"
           "'original_max_position_embeddings':64}},'head_dim':2}");
  expect_fail_json (local_longrope, LENS_ERROR_UNSUPPORTED,
                    "\"rope_parameters.sliding_attention.rope_type\": only default and linear");
  /* a gemma3 folder's nested settings: the message says where */
  g_autofree char *nested = q ("{'model_type':'gemma3','text_config':{'rms_norm_eps':'small'}}");
  expect_fail_json (nested, LENS_ERROR_FORMAT,
                    "config.json: text_config: field \"rms_norm_eps\" must be a number");
}

static void
test_qwen_window_defaults (void)
{
  /* Qwen2Config / Qwen3Config: a 4096 window from block 28 on, when use_sliding_window is set */
  LensConfig c;
  g_autofree char *json = q ("{'model_type':'qwen2','hidden_size':16,'intermediate_size':24,"
                             "'num_hidden_layers':30,'num_attention_heads':4,"
                             "'max_position_embeddings':64,'vocab_size':100,"
                             "'use_sliding_window':true}");
  expect_ok (json, &c);
  g_assert_cmpint (c.sliding_window, ==, 4096);
  g_assert_false (c.layer_sliding[27]);
  g_assert_true (c.layer_sliding[28] && c.layer_sliding[29]);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/config/gpt2-small", test_gpt2_small);
  g_test_add_func ("/config/defaults-and-options", test_defaults_and_options);
  g_test_add_func ("/config/reject/model-type", test_model_type);
  g_test_add_func ("/config/reject/missing-fields", test_missing_fields);
  g_test_add_func ("/config/reject/int-types", test_int_types);
  g_test_add_func ("/config/reject/ranges", test_ranges);
  g_test_add_func ("/config/reject/epsilon", test_epsilon);
  g_test_add_func ("/config/reject/activation", test_activation);
  g_test_add_func ("/config/reject/flags", test_flags);
  g_test_add_func ("/config/reject/bad-json", test_bad_json);
  g_test_add_func ("/config/load", test_load);
  g_test_add_func ("/config/llama-3.2", test_llama_3_2);
  g_test_add_func ("/config/llama-family-defaults", test_llama_family_defaults);
  g_test_add_func ("/config/reject/llama-family", test_llama_family_reject);
  g_test_add_func ("/config/reject/more-families", test_more_families_reject);
  g_test_add_func ("/config/qwen-window-defaults", test_qwen_window_defaults);
  g_test_add_func ("/config/json-surrogate-pairs", test_json_surrogate_pairs);
  return g_test_run ();
}
