/* progress_view.h - the running stage's progress under `squeeze run`
 * (progress_view.c), read from the stage's progress channel
 * (<instance>/progress, util/progress.h). */
#ifndef SQ_DRIVER_PROGRESS_VIEW_H
#define SQ_DRIVER_PROGRESS_VIEW_H

#include <stdbool.h>

typedef struct {
    char id[160];          /* the instance, "evaluate/int8" */
    char *path;            /* its progress file */
    bool terminal;         /* stderr is a terminal: one live line */
    bool drawn;            /* the live line is on the screen */
    int quarters;          /* plain lines: quarters of the loop already said */
    char what[64];         /* the loop the last line was about: a new loop starts its quarters again */
    double started, after, last_drawn;
} sq_progress_view;

/* Starts watching path (created by the stage when it reports progress). */
void sq_progress_view_start(sq_progress_view *view, const char *id, const char *path);
/* Reads the file and shows what is new: on a terminal a line rewritten in
 * place (percent, ETA), otherwise a plain line at each quarter of the loop.
 * Nothing in the first SQUEEZE_PROGRESS_AFTER seconds (default 1). */
void sq_progress_view_poll(sq_progress_view *view);
/* Clears the live line and removes the file. */
void sq_progress_view_finish(sq_progress_view *view);

#endif
