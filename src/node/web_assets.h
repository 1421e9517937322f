/*
 * web_assets.h — the live view's static files (web/), compiled into the binary by
 * tools/web-embed.sh (the Makefile generates $(BUILD)/gen/web_assets.c), served by http.c.
 */
#ifndef CHORUS_NODE_WEB_ASSETS_H
#define CHORUS_NODE_WEB_ASSETS_H

#include <stddef.h>

struct web_asset {
    const char *path;         /* "/index.html": "/" and the file's name under web/ */
    const char *content_type;
    const unsigned char *data;
    size_t len;
};

extern const struct web_asset WEB_ASSETS[];
extern const unsigned WEB_ASSET_COUNT;

#endif
