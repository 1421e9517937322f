/*
 * cluster_cmd.h — `chorus cluster add|remove|status`: membership change from the command line
 * (docs/membership.md, "Node level"), over CLUSTER MEET / FORGET / MEMBERS.
 */
#ifndef CHORUS_CLIENT_CLUSTER_CMD_H
#define CHORUS_CLIENT_CLUSTER_CMD_H

#include <stdio.h>

#include "client/conn.h"

void cluster_cmd_usage(FILE *out);
/* argv: the words after "cluster". Returns the exit status (0 done — with --wait, the cluster
 * balanced —, 1 refused or failed, 2 usage or connection error, 3 not done by the deadline). */
int cluster_cmd_run(const struct client_endpoint *endpoint, int timeout_ms, int argc,
                    char **argv, FILE *out, FILE *err);

#endif
