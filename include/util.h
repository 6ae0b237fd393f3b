/*
 * util.h: the pieces every module of splitgpt shares.
 *
 * Messages: one vocabulary, on stderr, prefixed "splitgpt: ".  die() is for
 * fatal errors and exits with the status its caller names (EXIT_USAGE for
 * a bad option or setting, EXIT_INTERNAL for the rest); warnx() reports
 * and returns.
 * Messages are lowercase and say what failed and with what.
 *
 * Buffers: struct buf is a growable byte string that is always NUL
 * terminated (data[len] == 0) once anything was put in it, so it can be
 * handed to functions that want a C string.  A zero-initialised buf is empty
 * and valid.  Allocation failure is fatal: splitgpt has no useful way to go on
 * without memory, and a half-written record would break the one-line-per-input
 * promise.
 */
#ifndef SPLITGPT_UTIL_H
#define SPLITGPT_UTIL_H

#include <stddef.h>	/* size_t */
#include <signal.h>	/* sig_atomic_t */
#include <stdint.h>	/* uint64_t */
#include <sys/types.h>	/* ssize_t */

/* Exit statuses, documented in splitgpt(1) EXIT STATUS and --help. */
enum {
	EXIT_OK = 0,		/* every line succeeded */
	EXIT_FAILED = 1,	/* some lines got an error record */
	EXIT_USAGE = 2,		/* bad option or configuration */
	EXIT_HALTED = 3,	/* halted early; unsent lines got "not_sent" */
	EXIT_INTERNAL = 4,	/* input cut short, output not writable,
				 * fork failed... */
	EXIT_INTERRUPTED = 130	/* stopped by SIGINT or SIGTERM */
};

#if defined(__GNUC__)
#define PRINTF_LIKE(f, a) __attribute__((format(printf, f, a)))
#define NORETURN __attribute__((noreturn))
#else
#define PRINTF_LIKE(f, a)
#define NORETURN
#endif

/* The program name used in messages; "splitgpt" unless a test sets it. */
extern const char *progname;
/* Called before any message is written, if set: the progress line clears
 * itself there, so a message is never glued onto it. */
extern void (*before_message)(void);
/* Print the message (die_errno: and strerror(errno)), exit with status. */
void die(int status, const char *fmt, ...) PRINTF_LIKE(2, 3) NORETURN;
void die_errno(int status, const char *fmt, ...) PRINTF_LIKE(2, 3) NORETURN;
void warnx(const char *fmt, ...) PRINTF_LIKE(1, 2);
void warn_errno(const char *fmt, ...) PRINTF_LIKE(1, 2);

void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xmemdup(const void *p, size_t n);	/* adds a NUL after n bytes */

struct buf {
	char *data;
	size_t len;
	size_t cap;
};

/* Make room for n more bytes (plus the NUL) without changing len. */
void buf_grow(struct buf *b, size_t n);
void buf_add(struct buf *b, const void *p, size_t n);
void buf_adds(struct buf *b, const char *s);
void buf_addc(struct buf *b, char c);
void buf_addf(struct buf *b, const char *fmt, ...) PRINTF_LIKE(2, 3);
/*
 * Append s[0..n) as a JSON string literal, quotes included.  It is valid
 * JSON whatever the bytes: a byte that does not start a well-formed UTF-8
 * sequence is written as U+FFFD, as are NUL and other control bytes
 * escaped.  (A server's header or message may be any bytes at all.)
 */
void buf_add_json_string(struct buf *b, const char *s, size_t n);
void buf_reset(struct buf *b);		/* len = 0, keeps the memory */
void buf_release(struct buf *b);	/* frees, back to empty */
/* Drop the first n bytes, moving the rest to the front. */
void buf_consume(struct buf *b, size_t n);

/*
 * Read or write exactly n bytes on a blocking descriptor, riding out EINTR
 * and short transfers.  read_full returns n, 0 on end of file before any
 * byte, or -1 (errno set; EIO for end of file in the middle).
 */
ssize_t read_full(int fd, void *p, size_t n);
int write_full(int fd, const void *p, size_t n);
/* Whether the string s is in p[0..n) (which may hold any bytes). */
int has_bytes(const char *p, size_t n, const char *s);
/* Set O_NONBLOCK on fd; fatal if fcntl fails. */
void set_nonblock(int fd);

/* Milliseconds and microseconds on the monotonic clock. */
uint64_t now_ms(void);
uint64_t now_us(void);
/* Seconds on the monotonic clock, as the pacer counts them. */
double now_s(void);
/* Milliseconds since the epoch, for logs. */
uint64_t wall_ms(void);

/*
 * Parse a whole decimal number / a decimal duration in seconds ("1.5")
 * for option opt, dying with a message that names the option when it is
 * not a number or lies outside [min, max].
 */
long long parse_num(const char *opt, const char *s, long long min, long long max);
double parse_seconds(const char *opt, const char *s, double min, double max);
/* A decimal number, not necessarily whole ("0.15", "540"). */
double parse_real(const char *opt, const char *s, double min, double max);
/* Sizes with an optional K, M or G suffix (powers of 1024). */
long long parse_size(const char *opt, const char *s, long long min, long long max);

/*
 * UTF-8 validity, by the table of well-formed byte sequences in Unicode
 * 3.9 (no overlong forms, no surrogates, nothing above U+10FFFF):
 * utf8_seq_len is the length of the well-formed sequence that starts s
 * (1 for ASCII), or 0 if none does (n is 0, or the bytes are not one);
 * utf8_invalid_at the byte offset of the first ill-formed one, or -1.
 */
size_t utf8_seq_len(const char *s, size_t n);
long utf8_invalid_at(const char *s, size_t n);

/* 64-bit FNV-1a, for fingerprints that need not resist an adversary. */
uint64_t hash64(const void *p, size_t n);

#endif
