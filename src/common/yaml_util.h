/* yaml_util.h: what the YAML readers (rule files, pacto.conf) share on top
 * of libyaml's document API: typed values with bounds, mappings walked key
 * by key, and errors as "file:line: key: message" collected in a list.
 * Why: one place decides how a duration or a bounded number is written and
 * refused, so rule files and the config file cannot disagree. */
#ifndef PACTO_YAML_UTIL_H
#define PACTO_YAML_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <yaml.h>

#include "common/errors.h"

struct yaml_ctx {
	const char *file;
	yaml_document_t *doc;
	struct errors *errs;
	size_t nerrs_at_start;
	const yaml_node_t *key;     /* during yml_for_each_pair: the current key's node */
};

unsigned yml_line(const yaml_node_t *node);

void yml_error(struct yaml_ctx *c, const yaml_node_t *node, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* The scalar text of node, or NULL (with an error) when it is not a scalar. */
const char *yml_scalar(struct yaml_ctx *c, yaml_node_t *node, const char *key);

/* Each sets *out only when the value is valid, and reports it otherwise. */
void yml_string(struct yaml_ctx *c, yaml_node_t *node, const char *key, char **out);
void yml_uint(struct yaml_ctx *c, yaml_node_t *node, const char *key, uint64_t min, uint64_t max, uint64_t *out);
void yml_duration(struct yaml_ctx *c, yaml_node_t *node, const char *key, int64_t *out);
void yml_bool(struct yaml_ctx *c, yaml_node_t *node, const char *key, bool *out);

typedef void (*yml_pair_fn)(struct yaml_ctx *c, const char *key, yaml_node_t *value, void *arg);

/* Calls fn for each key of a mapping node; reports a node that is not one. */
void yml_for_each_pair(struct yaml_ctx *c, yaml_node_t *map, const char *what, yml_pair_fn fn, void *arg);

/* Calls fn for each item of a sequence node; reports a node that is not one. */
typedef void (*yml_item_fn)(struct yaml_ctx *c, yaml_node_t *item, void *arg);
void yml_for_each_item(struct yaml_ctx *c, yaml_node_t *seq, const char *key, yml_item_fn fn, void *arg);

void yml_unknown_key(struct yaml_ctx *c, yaml_node_t *value, const char *key, const char *where);

/* Parses text; returns the root node (NULL with an error for an empty
 * document or a syntax error). The caller owns parser and doc and must
 * delete both (yml_close) whatever the result. */
yaml_node_t *yml_open(struct yaml_ctx *c, yaml_parser_t *parser, yaml_document_t *doc,
		      const char *text, size_t len, bool *loaded);
void yml_close(yaml_parser_t *parser, yaml_document_t *doc, bool loaded);

/* Reads a whole small file (at most max bytes) into a NUL-terminated buffer.
 * Only a regular file or a character device (/dev/null) is read: a FIFO
 * would block, a socket or directory is no file (common/regfile.h). */
char *read_small_file(const char *path, size_t max, size_t *len, struct errors *errs);

/* Parses "600", "600s", "10m", "2h", "1d", "1w" into microseconds. Returns
 * 0, -1 when s is not such a duration, -2 when it is one longer than ten
 * years (315360000 s): a caller says "out of range", not "not a duration". */
int parse_duration(const char *s, int64_t *out_us) __attribute__((warn_unused_result));

#endif
