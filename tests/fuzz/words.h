/* SPDX-License-Identifier: MIT */
/*
 * tests/fuzz/words.h - a command line's words from a fuzz input, for the
 * harnesses that run hv's commands (cli_fuzz.c, cmd_fuzz.c).
 */
#ifndef HV_FUZZ_WORDS_H
#define HV_FUZZ_WORDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FUZZ_MAX_WORDS 24
#define FUZZ_MAX_WORD  200

/*
 * Cut data[*pos..size) into at most FUZZ_MAX_WORDS words, each ended by a
 * newline or a NUL and cut at FUZZ_MAX_WORD bytes (the rest of a longer word
 * is skipped). With nul_ends, a NUL ends the list instead of a word: the
 * words stop there and *pos is left just past it (what follows is the
 * harness's file). words[w] holds word w and argv[w] points to it; returns
 * the number of words.
 */
static inline int fuzz_words(const uint8_t *data, size_t size, size_t *pos, bool nul_ends,
			     char words[][FUZZ_MAX_WORD + 1], char **argv)
{
	size_t i = *pos;
	int w;

	for (w = 0; w < FUZZ_MAX_WORDS && i < size && !(nul_ends && data[i] == '\0'); w++) {
		size_t n = 0;

		while (i < size && data[i] != '\n' && data[i] != '\0' && n < FUZZ_MAX_WORD)
			words[w][n++] = (char)data[i++];
		words[w][n] = '\0';
		argv[w] = words[w];
		while (i < size && data[i] != '\n' && data[i] != '\0')
			i++;  /* the rest of an over-long word */
		if (i < size && (data[i] == '\n' || !nul_ends))
			i++;
	}
	if (nul_ends) {
		while (i < size && data[i] != '\0')
			i++;  /* words beyond FUZZ_MAX_WORDS */
		i += i < size;
	}
	*pos = i;
	return w;
}

#endif /* HV_FUZZ_WORDS_H */
