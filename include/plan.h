/*
 * plan.h: runs that send nothing.  --dry-run reads and validates every
 * line exactly as a real run would (the dispatcher's dispatch_line, with
 * its error records and warnings), and reports what the run would send:
 * lines, requests, requests by endpoint and by model, the prompt tokens as
 * --tpm estimates them, the most completion tokens the requests allow, and
 * with prices a cost range.  --emit-requests writes each valid line as the
 * Batch API request line splitgpt would send ({"custom_id", "method",
 * "url", "body"}: defaults applied, ids assigned), for the OpenAI Batch
 * API or vLLM's run-batch; an invalid line is named on stderr and left
 * out.  Neither forks a worker or touches libcurl; memory is bounded as
 * in a real run.
 */
#ifndef SPLITGPT_PLAN_H
#define SPLITGPT_PLAN_H

#include "parent.h"	/* struct parent */

/* Read the whole input and write its records (the dry run's error
 * records, or the request lines); the report on stderr (unless -q) and
 * in --stats.  Returns the exit status. */
int plan_run(struct parent *pp);

#endif
