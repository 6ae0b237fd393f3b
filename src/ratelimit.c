/* ratelimit.c: the pacer, the token estimate, header values. */
#include "ratelimit.h"

#include <math.h>	/* isfinite */
#include <stdlib.h>	/* strtod */
#include <string.h>	/* memset */

#define LOW_WATER 0.2	/* pace published limits below this fraction */

void pacer_init(struct pacer *p, double rpm, double tpm, double now)
{
	memset(p, 0, sizeof(*p));
	p->rpm = rpm;
	p->tpm = tpm;
	p->req_tat = p->tok_tat = now;
	p->cooldown_until = 0;
	p->ratio = 1;
	p->last_sent = now;
}

static double maxd(double a, double b)
{
	return a > b ? a : b;
}

/* The wait what a server published asks for, for a cost of this much. */
static double published_wait(const struct published *c, double now,
    long long inflight, long long cost, double last_sent)
{
	long long left, used = c->used > inflight ? c->used : inflight;

	if (c->at <= 0 || now >= c->at + c->reset)
		return 0;	/* none, or its reset has passed */
	left = c->remaining - used;
	if (left < cost)
		return c->at + c->reset;	/* nothing left: the reset */
	if (left > c->limit * LOW_WATER)
		return 0;	/* plenty left: no pacing */
	/* Few left: spread them over the time to the reset. */
	return last_sent + (c->at + c->reset - last_sent) /
	    (double)(left > 0 ? left : 1);
}

/* The later of *t and u; if u, then *why = what. */
static void later(double *t, double u, const char **why, const char *what)
{
	if (u > *t) {
		*t = u;
		*why = what;
	}
}

static double ready_at(const struct pacer *p, double now, long long tokens,
    long long inflight, const char **why)
{
	double t = now;

	*why = NULL;
	if (p->rpm > 0)
		later(&t, p->req_tat + 60 / p->rpm, why, "--rpm");
	if (p->tpm > 0 && tokens > 0)
		later(&t, p->tok_tat + tokens * 60 / p->tpm, why, "--tpm");
	later(&t, p->cooldown_until, why, "a 429 asked every worker to wait");
	if (p->rpm <= 0)
		later(&t, published_wait(&p->req, now, inflight, 1,
		    p->last_sent), why, "the server's x-ratelimit-*-requests "
		    "headers say few or no requests are left until their reset");
	if (p->tpm <= 0 && tokens > 0)
		later(&t, published_wait(&p->tok, now, 0, tokens,
		    p->last_sent), why, "the server's x-ratelimit-*-tokens "
		    "headers say few or no tokens are left until their reset");
	return t;
}

double pacer_ready_at(const struct pacer *p, double now, long long tokens,
    long long inflight)
{
	const char *why;

	return ready_at(p, now, tokens, inflight, &why);
}

const char *pacer_why(const struct pacer *p, double now, long long tokens,
    long long inflight)
{
	const char *why;

	ready_at(p, now, tokens, inflight, &why);
	return why;
}

void pacer_cap(struct pacer *p, double max_wait)
{
	p->max_wait = max_wait;
}

/* A wait a server's header asks for, capped by pacer_cap. */
static double capped(const struct pacer *p, double wait)
{
	return p->max_wait > 0 && wait > p->max_wait ? p->max_wait : wait;
}

void pacer_sent(struct pacer *p, double now, long long tokens)
{
	p->req_tat = now;
	if (p->tpm > 0 && tokens > 0)
		p->tok_tat = maxd(p->tok_tat + tokens * 60 / p->tpm, now);
	p->req.used++;
	p->tok.used += tokens;
	p->last_sent = now;
}

/* Take a hint's figures for one channel, if they make sense and news. */
static void publish(struct published *c, double now, long long limit,
    long long remaining, double reset)
{
	/* Hints, not orders: figures that make no sense are dropped. */
	if (limit <= 0 || remaining < 0 || remaining > limit || reset <= 0)
		return;
	/* An older answer overtaken by newer ones says more is left than
	 * is: keep the lower figure until the reset. */
	if (c->at > 0 && now < c->at + c->reset &&
	    remaining > c->remaining - c->used)
		return;
	c->at = now;
	c->limit = limit;
	c->remaining = remaining;
	c->reset = reset;
	c->used = 0;
}

void pacer_hint(struct pacer *p, double now, const struct ratelimit_hint *h)
{
	/* A pause for everyone, but not one after another: a 429 during a
	 * pause, or soon after one, says nothing new (the worker that got
	 * it still waits as told).  Without this, 429s at a steady 5% with
	 * a 1 s wait stopped all work for a second per 429. */
	double cooldown = capped(p, h->cooldown);

	if (cooldown > 0 && (p->cooldown_until == 0 ||
	    now >= p->cooldown_until + cooldown))
		p->cooldown_until = now + cooldown;
	publish(&p->req, now, h->limit_requests, h->remaining_requests,
	    capped(p, h->reset_requests));
	publish(&p->tok, now, h->limit_tokens, h->remaining_tokens,
	    capped(p, h->reset_tokens));
}

void pacer_usage(struct pacer *p, long long estimated, long long prompt_est,
    long long real_prompt, long long real_total)
{
	if (prompt_est > 0 && real_prompt > 0) {
		p->est_total += prompt_est;
		p->real_total += real_prompt;
		p->ratio = (double)p->real_total / p->est_total;
		if (p->ratio < 0.25)
			p->ratio = 0.25;
		if (p->ratio > 4)
			p->ratio = 4;
	}
	/* Settle the charge: a refund moves the schedule back, a shortfall
	 * forward.  Refunds never reach into the past. */
	if (p->tpm > 0 && real_total > 0 && estimated > 0)
		p->tok_tat += (real_total - estimated) * 60 / p->tpm;
}

long long pacer_correct(const struct pacer *p, long long prompt_est)
{
	return (long long)(prompt_est * p->ratio + 0.5);
}

long long estimate_tokens(const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;
	double t = 0;
	size_t i = 0;

	while (i < n) {
		unsigned c = u[i];

		if (c < 0x80) {
			t += 0.25;
			i++;
		} else if (c >= 0xe0 && c < 0xf0 && i + 2 < n) {
			unsigned cp = (c & 0x0f) << 12 | (u[i + 1] & 0x3f) << 6 |
			    (u[i + 2] & 0x3f);

			/* CJK, kana, hangul, fullwidth: about a token each. */
			if ((cp >= 0x2e80 && cp <= 0x9fff) ||
			    (cp >= 0xac00 && cp <= 0xd7af) ||
			    (cp >= 0xf900 && cp <= 0xfaff) ||
			    (cp >= 0xff00 && cp <= 0xffef))
				t += 1;
			else
				t += 0.5;
			i += 3;
		} else if (c >= 0xf0) {
			t += 1;		/* emoji and the like */
			i += 4;
		} else {
			t += 0.5;
			i += c >= 0xc0 ? 2 : 1;
		}
	}
	return (long long)ceil(t);
}

double parse_duration(const char *s)
{
	double total = 0;
	int parts = 0;

	while (*s == ' ')
		s++;
	if (*s == 0)
		return -1;
	while (*s && *s != ' ') {
		char *end;
		double v = strtod(s, &end);
		double unit;

		if (end == s || !isfinite(v) || v < 0 || *s == '+' || *s == '-')
			return -1;
		s = end;
		if (s[0] == 'h')
			unit = 3600, s++;
		else if (s[0] == 'm' && s[1] == 's')
			unit = 1e-3, s += 2;
		else if (s[0] == 'm')
			unit = 60, s++;
		else if (s[0] == 's')
			unit = 1, s++;
		else if (s[0] == 'u' && s[1] == 's')
			unit = 1e-6, s += 2;
		else if (s[0] == 'n' && s[1] == 's')
			unit = 1e-9, s += 2;
		else if ((unsigned char)s[0] == 0xc2 &&
		    (unsigned char)s[1] == 0xb5 && s[2] == 's')
			unit = 1e-6, s += 3;	/* µs */
		else if ((*s == 0 || *s == ' ') && parts == 0)
			unit = 1;	/* a bare number: seconds */
		else
			return -1;
		total += v * unit;
		parts++;
	}
	while (*s == ' ')
		s++;
	if (*s || !isfinite(total))
		return -1;
	return total;
}

long long parse_count(const char *s)
{
	long long v = 0;

	while (*s == ' ')
		s++;
	if (*s < '0' || *s > '9')
		return -1;
	for (; *s >= '0' && *s <= '9'; s++) {
		if (v > 1000000000000000LL)
			return -1;
		v = v * 10 + (*s - '0');
	}
	while (*s == ' ')
		s++;
	return *s ? -1 : v;
}
