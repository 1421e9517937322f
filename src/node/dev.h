/*
 * dev.h — the live view's development controls (--http-dev, dev.c): what http.c and view.c
 * call. The node's own checks (node_dev_paused, node_dev_drops) are in node_internal.h.
 */
#ifndef CHORUS_NODE_DEV_H
#define CHORUS_NODE_DEV_H

#include <stddef.h>

#include "metrics/json.h"

struct node;

/* Carries out POST /dev/ACTION?QUERY (pause, partition, heal) and returns the HTTP status,
 * with a one-line answer in text. The caller checked everything about the request itself
 * (--http-dev, loopback, the header a browser sends only after a preflight). */
int node_dev_act(struct node *node, const char *action, const char *query, char *text,
                 size_t text_cap);
/* The "dev" member of the view's state: whether the controls are on, and what holds now. */
void node_dev_write_state(struct json *w, const struct node *node);

#endif
