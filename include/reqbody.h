/*
 * reqbody.h: request bodies as json-c objects: the body made for one
 * prompt, a system message put first, the request parameters splitgpt
 * knows, and what a body is estimated to cost (ratelimit.h).  The
 * classifier (classify.h) uses them.
 */
#ifndef SPLITGPT_REQBODY_H
#define SPLITGPT_REQBODY_H

#include <json-c/json.h>	/* json_object */
#include <stddef.h>	/* size_t */

#include "api.h"	/* enum endpoint */

/* Whether object o has member key. */
int json_has(json_object *o, const char *key);

/* Add key: v to o unless o has key (then v is released). */
void add_if_missing(json_object *o, const char *key, json_object *v);

/* Put a system message first in body's messages unless the conversation
 * has one already (a "system" or "developer" role). */
void add_system(json_object *body, const char *system);

/* A body for one prompt text (n bytes), shaped for the endpoint's kind,
 * with the system message first where there is one (chat). */
json_object *prompt_body(enum endpoint kind, const char *text, size_t n,
    const char *system);

/* Whether key is a request parameter splitgpt knows: one of the OpenAI
 * API's endpoints or of the common OpenAI-compatible servers. */
int known_param(const char *key);

/* The table known_param searches (sorted by strcmp), and its length. */
const char *const *request_params(size_t *n);

/* "a string", "an array", ...: for messages. */
const char *type_name(json_object *v);

/* A body's estimated prompt tokens and the most output tokens it asks
 * for, times n (ratelimit.h). */
void estimate(json_object *body, long long *prompt_est, long long *max_out);

#endif
