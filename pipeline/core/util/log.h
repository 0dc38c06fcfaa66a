/* log.h - leveled logging to stderr.
 *
 * Level from sq_log_set_level() or the SQUEEZE_LOG environment variable
 * (error, warn, info, debug).  Lines look like "[squeeze-compress] info: ...".
 * MPI programs log from rank 0 only unless the message is rank specific
 * (they call sq_log_set_rank()).
 */
#ifndef SQ_UTIL_LOG_H
#define SQ_UTIL_LOG_H

typedef enum { SQ_LOG_ERROR = 0, SQ_LOG_WARN, SQ_LOG_INFO, SQ_LOG_DEBUG } sq_log_level;

void sq_log_init(const char *program);
void sq_log_set_level(sq_log_level level);
void sq_log_set_rank(int rank);
sq_log_level sq_log_get_level(void);
/* The program name given to sq_log_init ("squeeze-evaluate"). */
const char *sq_log_program(void);
void sq_log(sq_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define sq_error(...) sq_log(SQ_LOG_ERROR, __VA_ARGS__)
#define sq_warn(...) sq_log(SQ_LOG_WARN, __VA_ARGS__)
#define sq_info(...) sq_log(SQ_LOG_INFO, __VA_ARGS__)
#define sq_debug(...) sq_log(SQ_LOG_DEBUG, __VA_ARGS__)

#endif
