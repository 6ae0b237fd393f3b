/* reorder.c: the ring of finished results waiting for their turn. */
#include "reorder.h"

#include <stdlib.h>	/* free */

#include "util.h"	/* xcalloc */

void reorder_init(struct reorder *r, size_t window)
{
	size_t size = 1;

	while (size < window)
		size *= 2;
	r->slots = xcalloc(size, sizeof(*r->slots));
	r->size = size;
	r->window = window;
	r->next = 0;
	r->count = 0;
	r->bytes = 0;
}

void reorder_free(struct reorder *r)
{
	size_t i;

	for (i = 0; i < r->size; i++)
		free(r->slots[i].data);
	free(r->slots);
	r->slots = NULL;
}

int reorder_put(struct reorder *r, uint64_t seq, char *data, size_t len,
    size_t rawlen, int compressed, unsigned char tag)
{
	struct reorder_slot *s;

	if (seq < r->next || seq - r->next >= r->window) {
		free(data);
		return -1;
	}
	s = &r->slots[seq & (r->size - 1)];
	if (s->used) {
		free(data);
		return -1;
	}
	s->data = data;
	s->len = len;
	s->rawlen = rawlen;
	s->compressed = compressed;
	s->tag = tag;
	s->used = 1;
	r->count++;
	r->bytes += len;
	return 0;
}

int reorder_has(const struct reorder *r, uint64_t seq)
{
	if (seq < r->next)
		return 1;
	if (seq - r->next >= r->window)
		return 0;
	return r->slots[seq & (r->size - 1)].used;
}

int reorder_take(struct reorder *r, struct reorder_slot *out)
{
	struct reorder_slot *s = &r->slots[r->next & (r->size - 1)];

	if (!s->used)
		return 0;
	*out = *s;
	s->data = NULL;
	s->used = 0;
	r->count--;
	r->bytes -= out->len;
	r->next++;
	return 1;
}
