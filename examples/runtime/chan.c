/*
 * chan.c: minirt's async channel and oneshot.
 *
 * The channel is a bounded ring of pointers under a pthread mutex, with
 * one receiver waker slot and a list of waiting senders' wakers. Every
 * registered waker is a clone, handed back by a wake by value when the
 * condition it waits for happens, or dropped when the channel goes —
 * never leaked and never double-counted, so taskscope's live-waker count
 * for a task blocked on a channel is exactly its registrations. A channel
 * is reported as a CHANNEL resource. The oneshot is the same idea for a
 * single reply, light enough to make one per request.
 */
#include <errno.h>
#include <stdlib.h>

#include "internal.h"

struct minirt_chan {
	pthread_mutex_t lock;
	void **buf;
	size_t cap, head, len;
	int closed;
	minirt_item_drop_fn item_drop;
	struct minirt_waker rx;        /* the receiver, when it waits */
	struct minirt_waker *tx;       /* senders waiting for room */
	size_t ntx, txcap;
	uint64_t res_id;
};

enum { OS_EMPTY = 0, OS_FULL = 1, OS_TAKEN = 2, OS_CLOSED = 3 };

int minirt_chan_new_at(size_t capacity, minirt_item_drop_fn item_drop, struct taskscope_site *site,
		       struct minirt_chan **out)
{
	struct minirt_chan *ch;

	if (!out || capacity == 0 || capacity > (1u << 24))
		return -EINVAL;
	ch = calloc(1, sizeof(*ch));
	if (!ch)
		return -ENOMEM;
	ch->buf = calloc(capacity, sizeof(*ch->buf));
	if (!ch->buf) {
		free(ch);
		return -ENOMEM;
	}
	pthread_mutex_init(&ch->lock, NULL);
	ch->cap = capacity;
	ch->item_drop = item_drop;
	ch->res_id = minirt_i_next_id();
	if (site)
		taskscope_resource_new(ch->res_id, TASKSCOPE_RES_CHANNEL, site);
	*out = ch;
	return 0;
}

void minirt_chan_free(struct minirt_chan *ch)
{
	if (!ch)
		return;
	for (; ch->len > 0; ch->len--) {
		void *item = ch->buf[ch->head];
		ch->head = (ch->head + 1) % ch->cap;
		if (ch->item_drop)
			ch->item_drop(item);
	}
	minirt_waker_drop(&ch->rx);
	for (size_t i = 0; i < ch->ntx; i++)
		minirt_waker_drop(&ch->tx[i]);
	taskscope_resource_drop(ch->res_id);
	pthread_mutex_destroy(&ch->lock);
	free(ch->tx);
	free(ch->buf);
	free(ch);
}

/* With the lock held: register the sender's waker unless it already is. */
static int tx_register(struct minirt_chan *ch, const struct minirt_waker *w)
{
	for (size_t i = 0; i < ch->ntx; i++)
		if (minirt_waker_will_wake(&ch->tx[i], w))
			return 0;
	if (ch->ntx == ch->txcap) {
		size_t ncap = ch->txcap ? ch->txcap * 2 : 4;
		struct minirt_waker *n = realloc(ch->tx, ncap * sizeof(*n));
		if (!n)
			return -ENOMEM;
		ch->tx = n;
		ch->txcap = ncap;
	}
	ch->tx[ch->ntx++] = minirt_waker_clone(w);
	return 0;
}

/* With the lock held: queue an item and take the receiver's waker. */
static struct minirt_waker push_locked(struct minirt_chan *ch, void *item)
{
	struct minirt_waker rx = ch->rx;

	ch->buf[(ch->head + ch->len) % ch->cap] = item;
	ch->len++;
	ch->rx.task = NULL;
	return rx;
}

int minirt_chan_send(struct minirt_chan *ch, struct minirt_cx *cx, void *item)
{
	struct minirt_waker rx;
	int r;

	pthread_mutex_lock(&ch->lock);
	if (ch->closed) {
		pthread_mutex_unlock(&ch->lock);
		return -EPIPE;
	}
	if (ch->len == ch->cap) {
		r = tx_register(ch, &cx->waker);
		pthread_mutex_unlock(&ch->lock);
		return r < 0 ? r : MINIRT_PENDING;
	}
	rx = push_locked(ch, item);
	pthread_mutex_unlock(&ch->lock);
	minirt_waker_wake(&rx);
	return MINIRT_READY;
}

int minirt_chan_try_send(struct minirt_chan *ch, void *item)
{
	struct minirt_waker rx;

	pthread_mutex_lock(&ch->lock);
	if (ch->closed || ch->len == ch->cap) {
		int r = ch->closed ? -EPIPE : -EAGAIN;
		pthread_mutex_unlock(&ch->lock);
		return r;
	}
	rx = push_locked(ch, item);
	pthread_mutex_unlock(&ch->lock);
	minirt_waker_wake(&rx);
	return 0;
}

int minirt_chan_recv(struct minirt_chan *ch, struct minirt_cx *cx, void **item)
{
	struct minirt_waker tx = { NULL }, old = { NULL };

	pthread_mutex_lock(&ch->lock);
	if (ch->len > 0) {
		*item = ch->buf[ch->head];
		ch->head = (ch->head + 1) % ch->cap;
		ch->len--;
		if (ch->ntx > 0) { /* room for the longest waiting sender */
			tx = ch->tx[0];
			for (size_t i = 1; i < ch->ntx; i++)
				ch->tx[i - 1] = ch->tx[i];
			ch->ntx--;
		}
		pthread_mutex_unlock(&ch->lock);
		minirt_waker_wake(&tx);
		return MINIRT_READY;
	}
	if (ch->closed) {
		pthread_mutex_unlock(&ch->lock);
		return -EPIPE;
	}
	if (!minirt_waker_will_wake(&ch->rx, &cx->waker)) {
		old = ch->rx;
		ch->rx = minirt_waker_clone(&cx->waker);
	}
	pthread_mutex_unlock(&ch->lock);
	minirt_waker_drop(&old);
	return MINIRT_PENDING;
}

void minirt_chan_close(struct minirt_chan *ch)
{
	struct minirt_waker rx, *tx;
	size_t ntx;

	pthread_mutex_lock(&ch->lock);
	ch->closed = 1;
	rx = ch->rx;
	ch->rx.task = NULL;
	tx = ch->tx;
	ntx = ch->ntx;
	ch->tx = NULL;
	ch->ntx = ch->txcap = 0;
	pthread_mutex_unlock(&ch->lock);
	minirt_waker_wake(&rx);
	for (size_t i = 0; i < ntx; i++)
		minirt_waker_wake(&tx[i]);
	free(tx);
}

size_t minirt_chan_len(struct minirt_chan *ch)
{
	size_t n;
	pthread_mutex_lock(&ch->lock);
	n = ch->len;
	pthread_mutex_unlock(&ch->lock);
	return n;
}

void minirt_oneshot_init(struct minirt_oneshot *os)
{
	pthread_mutex_init(&os->lock, NULL);
	os->state = OS_EMPTY;
	os->value = NULL;
	os->waker.task = NULL;
}

void minirt_oneshot_fini(struct minirt_oneshot *os)
{
	minirt_waker_drop(&os->waker);
	pthread_mutex_destroy(&os->lock);
}

static int oneshot_complete(struct minirt_oneshot *os, int state, void *value)
{
	struct minirt_waker w;

	pthread_mutex_lock(&os->lock);
	if (os->state != OS_EMPTY) {
		pthread_mutex_unlock(&os->lock);
		return -EALREADY;
	}
	os->state = state;
	os->value = value;
	w = os->waker;
	os->waker.task = NULL;
	pthread_mutex_unlock(&os->lock);
	minirt_waker_wake(&w);
	return 0;
}

int minirt_oneshot_send(struct minirt_oneshot *os, void *value)
{
	return oneshot_complete(os, OS_FULL, value);
}

void minirt_oneshot_close(struct minirt_oneshot *os)
{
	(void)oneshot_complete(os, OS_CLOSED, NULL);
}

int minirt_oneshot_recv(struct minirt_oneshot *os, struct minirt_cx *cx, void **value)
{
	struct minirt_waker old = { NULL };
	int r = MINIRT_PENDING;

	pthread_mutex_lock(&os->lock);
	if (os->state == OS_FULL) {
		*value = os->value;
		os->state = OS_TAKEN;
		r = MINIRT_READY;
	} else if (os->state != OS_EMPTY) {
		r = -EPIPE;
	} else if (!minirt_waker_will_wake(&os->waker, &cx->waker)) {
		old = os->waker;
		os->waker = minirt_waker_clone(&cx->waker);
	}
	pthread_mutex_unlock(&os->lock);
	minirt_waker_drop(&old);
	return r;
}

void minirt_oneshot_forget(struct minirt_oneshot *os)
{
	struct minirt_waker w;

	pthread_mutex_lock(&os->lock);
	w = os->waker;
	os->waker.task = NULL;
	pthread_mutex_unlock(&os->lock);
	minirt_waker_drop(&w);
}
