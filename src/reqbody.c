/*
 * reqbody.c: request bodies (reqbody.h).
 */
#include "reqbody.h"

#include <stdlib.h>	/* bsearch */
#include <string.h>	/* strcmp, strlen */

#include "ratelimit.h"	/* estimate_tokens */

int json_has(json_object *o, const char *key)
{
	return json_object_object_get_ex(o, key, NULL);
}

void add_if_missing(json_object *o, const char *key, json_object *v)
{
	if (json_has(o, key))
		json_object_put(v);
	else
		json_object_object_add(o, key, v);
}

static json_object *message(const char *role, const char *text, size_t n)
{
	json_object *m = json_object_new_object();

	json_object_object_add(m, "role", json_object_new_string(role));
	json_object_object_add(m, "content", json_object_new_string_len(text, n));
	return m;
}

/* Put a system message first unless the conversation has one already. */
void add_system(json_object *body, const char *system)
{
	json_object *msgs, *fresh;
	size_t i, n;

	if (!json_object_object_get_ex(body, "messages", &msgs) ||
	    !json_object_is_type(msgs, json_type_array))
		return;
	n = json_object_array_length(msgs);
	for (i = 0; i < n; i++) {
		json_object *m = json_object_array_get_idx(msgs, i), *role;
		const char *r;

		if (!json_object_object_get_ex(m, "role", &role))
			continue;
		r = json_object_get_string(role);
		if (r && (!strcmp(r, "system") || !strcmp(r, "developer")))
			return;
	}
	fresh = json_object_new_array_ext(n + 1);
	json_object_array_add(fresh, message("system", system, strlen(system)));
	for (i = 0; i < n; i++)
		json_object_array_add(fresh,
		    json_object_get(json_object_array_get_idx(msgs, i)));
	json_object_object_add(body, "messages", fresh);
}

/* A body for one prompt text, shaped for the endpoint's kind. */
json_object *prompt_body(enum endpoint kind, const char *text, size_t n,
    const char *system)
{
	json_object *body = json_object_new_object();
	json_object *msgs;

	switch (kind) {
	case EP_COMPLETIONS:
		json_object_object_add(body, "prompt",
		    json_object_new_string_len(text, n));
		break;
	case EP_EMBEDDINGS:
	case EP_RESPONSES:
	case EP_MODERATIONS:
		json_object_object_add(body, "input",
		    json_object_new_string_len(text, n));
		break;
	default:
		msgs = json_object_new_array_ext(2);
		if (system)
			json_object_array_add(msgs,
			    message("system", system, strlen(system)));
		json_object_array_add(msgs, message("user", text, n));
		json_object_object_add(body, "messages", msgs);
	}
	return body;
}

/*
 * The request parameters splitgpt knows, in strcmp order: the OpenAI
 * chat/completions, completions, embeddings, responses and moderations
 * endpoints', and the common extensions of OpenAI-compatible servers
 * (vLLM's sampling and guided decoding, llama.cpp server's, Ollama's).
 * A prompt object's other members are refused as typos (classify.c).
 */
static const char *const params[] = {
	"add_generation_prompt", "add_special_tokens", "allowed_token_ids",
	"audio", "background", "bad_words", "best_of", "cache_prompt",
	"cache_salt", "chat_template", "chat_template_kwargs",
	"continue_final_message", "conversation", "dimensions", "documents",
	"dry_allowed_length", "dry_base", "dry_multiplier",
	"dry_penalty_last_n", "dry_sequence_breakers", "dynatemp_exponent",
	"dynatemp_range", "echo", "encoding_format", "format",
	"frequency_penalty", "function_call", "functions", "grammar",
	"guided_choice", "guided_decoding_backend", "guided_grammar",
	"guided_json", "guided_regex", "guided_whitespace_pattern",
	"id_slot", "ignore_eos", "images", "include",
	"include_stop_str_in_output", "input", "instructions", "json_schema",
	"keep_alive", "length_penalty", "logit_bias", "logprobs", "lora",
	"max_completion_tokens", "max_output_tokens", "max_tokens",
	"max_tool_calls", "messages", "min_keep", "min_p", "min_tokens",
	"mirostat", "mirostat_eta", "mirostat_tau", "mm_processor_kwargs",
	"modalities", "model", "n", "n_keep", "n_predict", "n_probs",
	"options", "parallel_tool_calls", "prediction", "presence_penalty",
	"previous_response_id", "priority", "prompt", "prompt_cache_key",
	"prompt_cache_retention", "prompt_logprobs", "raw", "reasoning",
	"reasoning_effort", "reasoning_format", "repeat_last_n",
	"repeat_penalty", "repetition_penalty", "request_id",
	"response_format", "return_tokens_as_token_ids", "safety_identifier",
	"samplers", "seed", "service_tier", "skip_special_tokens",
	"spaces_between_special_tokens", "stop", "stop_token_ids", "store",
	"stream", "stream_options", "structural_tag", "structured_outputs",
	"suffix", "temperature", "template", "text", "think", "tool_choice",
	"tools", "top_k", "top_logprobs", "top_p", "truncate_prompt_tokens",
	"truncation", "typical_p", "use_beam_search", "user", "verbosity",
	"web_search_options", "xtc_probability", "xtc_threshold",
};

const char *const *request_params(size_t *n)
{
	*n = sizeof(params) / sizeof(*params);
	return params;
}

static int param_cmp(const void *key, const void *elem)
{
	return strcmp(key, *(const char *const *)elem);
}

int known_param(const char *key)
{
	return bsearch(key, params, sizeof(params) / sizeof(*params),
	    sizeof(*params), param_cmp) != NULL;
}

const char *type_name(json_object *v)
{
	switch (json_object_get_type(v)) {
	case json_type_null: return "null";
	case json_type_boolean: return "a boolean";
	case json_type_double:
	case json_type_int: return "a number";
	case json_type_array: return "an array";
	case json_type_object: return "an object";
	case json_type_string: return "a string";
	}
	return "a value";
}

/* Tokens in the text of a value: strings, and the text of its parts. */
static long long text_tokens(json_object *v, int depth)
{
	long long t = 0;
	size_t i;

	if (depth > 8)
		return 0;
	switch (json_object_get_type(v)) {
	case json_type_string:
		return estimate_tokens(json_object_get_string(v),
		    json_object_get_string_len(v));
	case json_type_array:
		for (i = 0; i < json_object_array_length(v); i++)
			t += text_tokens(json_object_array_get_idx(v, i),
			    depth + 1);
		return t;
	case json_type_object: {
		json_object *x;

		/* A message: its content; a part: its text; a message
		 * each costs a few tokens of its own. */
		if (json_object_object_get_ex(v, "content", &x))
			return 4 + text_tokens(x, depth + 1);
		if (json_object_object_get_ex(v, "text", &x))
			return text_tokens(x, depth + 1);
		return 0;
	}
	default:
		return 0;
	}
}

/* The request's token estimate: its prompt text, its output allowance. */
void estimate(json_object *body, long long *prompt_est, long long *max_out)
{
	static const char *const text_keys[] = { "messages", "prompt",
	    "input", "instructions", "system" };
	static const char *const out_keys[] = { "max_tokens",
	    "max_completion_tokens", "max_output_tokens" };
	json_object *x;
	long long n = 1;
	size_t k;

	*prompt_est = 0;
	*max_out = 0;
	for (k = 0; k < sizeof(text_keys) / sizeof(*text_keys); k++)
		if (json_object_object_get_ex(body, text_keys[k], &x))
			*prompt_est += text_tokens(x, 0);
	for (k = 0; k < sizeof(out_keys) / sizeof(*out_keys); k++)
		if (json_object_object_get_ex(body, out_keys[k], &x) &&
		    json_object_get_int64(x) > 0) {
			/* Absurd values are the server's to refuse; here they
			 * only must not overflow. */
			*max_out = json_object_get_int64(x);
			if (*max_out > 100000000)
				*max_out = 100000000;
			break;
		}
	if (json_object_object_get_ex(body, "n", &x) &&
	    json_object_get_int64(x) > 1 && json_object_get_int64(x) < 1000)
		n = json_object_get_int64(x);
	*max_out *= n;
}
