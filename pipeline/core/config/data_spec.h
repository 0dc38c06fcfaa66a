/* data_spec.h - where a run's data comes from and which part of it to use.
 *
 * A plain description parsed from the run config (data.calibration,
 * data.evaluation); tokenize/ turns it into token ids.
 */
#ifndef SQ_CONFIG_DATA_SPEC_H
#define SQ_CONFIG_DATA_SPEC_H

typedef struct {
    const char *path;
    const char *format;   /* "text", "u16", "u32", "hdf5" (dataset name in dataset) */
    const char *dataset;  /* for hdf5: the dataset path, default "tokens" */
    double start, end;    /* fraction of the file to use, [start, end); start = end = 0
                             means [0, 1).  Cut at int(fraction * length) as Python does.
                             Text with a word/char tokenizer: by characters (code
                             points) of the file decoded as Python's open(path,
                             encoding='utf-8') reads it, universal newlines included;
                             text with "bytes": by bytes; u16/u32/hdf5: by tokens. */
} sq_data_spec;

#endif
