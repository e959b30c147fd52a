/* tiny-gpt2.h: writes a small random GPT-2 checkpoint (config.json, model.safetensors,
 * vocab.json, merges.txt) into an existing folder, for tests that need a live result. */
#pragma once

#define TINY_GPT2_N_LAYER 3
#define TINY_GPT2_N_EMBD 32
#define TINY_GPT2_N_HEAD 4
#define TINY_GPT2_N_POSITIONS 24
#define TINY_GPT2_VOCAB 300

void write_tiny_gpt2 (const char *dir);
/* Removes the files write_tiny_gpt2 wrote, then the (now empty) folder. */
void tiny_gpt2_remove (const char *dir);
