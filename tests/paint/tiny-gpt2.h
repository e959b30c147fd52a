/* tiny-gpt2.h: writes a small random GPT-2 checkpoint (config.json, model.safetensors,
 * vocab.json, merges.txt) into an existing folder, for tests that need a live result. */
#pragma once

void write_tiny_gpt2 (const char *dir);
