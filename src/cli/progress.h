/* Build progress as the user asked for it (--progress, BUILDKIT_PROGRESS):
 * plain lines with step times, a live line on a terminal, JSON lines, or
 * nothing (-q). The builder reports events; this is where they are shown. */
#ifndef CLI_PROGRESS_H
#define CLI_PROGRESS_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "builder/build.h"

enum cli_progress_mode {
	CLI_PROGRESS_AUTO,      /* tty when stderr is a terminal, else plain */
	CLI_PROGRESS_PLAIN,
	CLI_PROGRESS_TTY,
	CLI_PROGRESS_QUIET,     /* -q: only the image id, on stdout */
	CLI_PROGRESS_RAWJSON,   /* one JSON object per line and event (BUILDFILE.md) */
};

struct cli_progress {
	enum cli_progress_mode mode;    /* never AUTO once started */
	bool layer;                     /* the current step made a layer of LAYER_SIZE bytes */
	uint64_t layer_size;
	/* tty: a thread copies stdout (a pipe now) to the real one (out_fd)
	 * and redraws the running step's line on stderr. */
	pthread_t ticker;
	bool ticking;
	bool started;                   /* between start and stop */
	pthread_mutex_t lock;           /* line, t0, drawn, stop */
	bool stop;
	bool drawn;                     /* the status line is on the screen */
	char line[160];                 /* the running step ("" when none) */
	struct timespec t0;
	int pipe_r, out_fd;
};

/* "auto" | "plain" | "tty" | "quiet" | "rawjson": 0, or -1. */
int cli_progress_parse(const char *s, enum cli_progress_mode *out);
/* Resolve AUTO and start (the tty ticker). */
void cli_progress_start(struct cli_progress *p, enum cli_progress_mode mode);
/* bf_build_opts.on_event. */
void cli_progress_event(void *ctx, const struct bf_event *ev);
/* The last word: the image built (rawjson: an "image" event; else the id
 * line, on stdout). TAGS as given. */
void cli_progress_image(struct cli_progress *p, const char *image_id, const char *manifest,
			char *const *tags, size_t ntags);
/* Stop (the status line is gone, stdout restored); again: nothing. */
void cli_progress_stop(struct cli_progress *p);

#endif
