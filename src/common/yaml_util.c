/* yaml_util.c: typed values and errors over libyaml documents (see yaml_util.h). */
#include "common/yaml_util.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "common/regfile.h"
#include "common/xalloc.h"

void errors_add(struct errors *errs, const char *fmt, ...)
{
	char *msg;
	va_list ap;
	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = xstrdup("(out of memory formatting an error)");
	va_end(ap);
	errs->msgs = xreallocarray(errs->msgs, errs->n + 1, sizeof(*errs->msgs));
	errs->msgs[errs->n++] = msg;
}

void errors_clear(struct errors *errs)
{
	for (size_t i = 0; i < errs->n; i++)
		free(errs->msgs[i]);
	free(errs->msgs);
	errs->msgs = NULL;
	errs->n = 0;
}

void errors_print(const struct errors *errs, const char *prefix)
{
	for (size_t i = 0; i < errs->n; i++) {
		fputs(prefix, stderr);
		put_printable(stderr, errs->msgs[i]);
		fputc('\n', stderr);
	}
}

unsigned yml_line(const yaml_node_t *node)
{
	return (unsigned)node->start_mark.line + 1;
}

void yml_error(struct yaml_ctx *c, const yaml_node_t *node, const char *key, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	errors_add(c->errs, "%s:%u: %s: %s", c->file, yml_line(node), key, msg);
}

int parse_duration(const char *s, int64_t *out_us)
{
	char *end;
	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	bool huge = errno != 0;   /* ERANGE: checked once the unit is known to be one */
	int64_t unit = 1;
	if (*end) {
		switch (*end++) {
		case 's': unit = 1; break;
		case 'm': unit = 60; break;
		case 'h': unit = 3600; break;
		case 'd': unit = 86400; break;
		case 'w': unit = 604800; break;
		default: return -1;
		}
		if (*end)
			return -1;
	}
	/* Ten years is longer than any sensible sanction and keeps us far from overflow. */
	if (huge || v > 315360000LL / unit)
		return -2;
	*out_us = (int64_t)v * unit * 1000000LL;
	return 0;
}

const char *yml_scalar(struct yaml_ctx *c, yaml_node_t *node, const char *key)
{
	if (!node || node->type != YAML_SCALAR_NODE) {
		if (node)
			yml_error(c, node, key, "expected a single value");
		return NULL;
	}
	return (const char *)node->data.scalar.value;
}

void yml_string(struct yaml_ctx *c, yaml_node_t *node, const char *key, char **out)
{
	const char *s = yml_scalar(c, node, key);
	if (!s)
		return;
	free(*out);
	*out = xstrdup(s);
}

void yml_uint(struct yaml_ctx *c, yaml_node_t *node, const char *key, uint64_t min, uint64_t max, uint64_t *out)
{
	const char *s = yml_scalar(c, node, key);
	if (!s)
		return;
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (*s < '0' || *s > '9' || *end || errno || v < min || v > max) {
		yml_error(c, node, key, "'%s' is not a whole number from %llu to %llu", s,
			  (unsigned long long)min, (unsigned long long)max);
		return;
	}
	*out = v;
}

void yml_duration(struct yaml_ctx *c, yaml_node_t *node, const char *key, int64_t *out)
{
	const char *s = yml_scalar(c, node, key);
	if (!s)
		return;
	int64_t us;
	int rc = parse_duration(s, &us);
	if (rc == -2) {
		yml_error(c, node, key, "'%s' is longer than ten years", s);
		return;
	}
	if (rc != 0 || us <= 0) {
		yml_error(c, node, key, "'%s' is not a duration (e.g. 600, 90s, 10m, 2h, 1d, 1w)", s);
		return;
	}
	*out = us;
}

void yml_bool(struct yaml_ctx *c, yaml_node_t *node, const char *key, bool *out)
{
	const char *s = yml_scalar(c, node, key);
	if (!s)
		return;
	if (strcmp(s, "yes") == 0 || strcmp(s, "true") == 0)
		*out = true;
	else if (strcmp(s, "no") == 0 || strcmp(s, "false") == 0)
		*out = false;
	else
		yml_error(c, node, key, "'%s' is not yes or no", s);
}

/* True when an earlier key of the same mapping has the same text. */
static bool key_seen(struct yaml_ctx *c, yaml_node_t *map, yaml_node_pair_t *upto, const char *key)
{
	for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < upto; p++) {
		yaml_node_t *k = yaml_document_get_node(c->doc, p->key);
		if (k && k->type == YAML_SCALAR_NODE && strcmp((const char *)k->data.scalar.value, key) == 0)
			return true;
	}
	return false;
}

void yml_for_each_pair(struct yaml_ctx *c, yaml_node_t *map, const char *what, yml_pair_fn fn, void *arg)
{
	if (map->type != YAML_MAPPING_NODE) {
		yml_error(c, map, what, "expected a mapping of keys to values");
		return;
	}
	for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
		yaml_node_t *k = yaml_document_get_node(c->doc, p->key);
		yaml_node_t *v = yaml_document_get_node(c->doc, p->value);
		const char *key = yml_scalar(c, k, what);
		c->key = k;
		if (key && key_seen(c, map, p, key))
			yml_error(c, k, key, "given twice (YAML would silently keep the last)");
		else if (key && v)
			fn(c, key, v, arg);
	}
}

void yml_for_each_item(struct yaml_ctx *c, yaml_node_t *seq, const char *key, yml_item_fn fn, void *arg)
{
	if (seq->type != YAML_SEQUENCE_NODE) {
		yml_error(c, seq, key, "expected a list, e.g. [a, b]");
		return;
	}
	for (yaml_node_item_t *it = seq->data.sequence.items.start; it < seq->data.sequence.items.top; it++) {
		yaml_node_t *item = yaml_document_get_node(c->doc, *it);
		if (item)
			fn(c, item, arg);
	}
}

void yml_unknown_key(struct yaml_ctx *c, yaml_node_t *value, const char *key, const char *where)
{
	yml_error(c, value, key, "unknown key in %s", where);
}

yaml_node_t *yml_open(struct yaml_ctx *c, yaml_parser_t *parser, yaml_document_t *doc,
		      const char *text, size_t len, bool *loaded)
{
	yaml_parser_initialize(parser);
	yaml_parser_set_input_string(parser, (const unsigned char *)text, len);
	*loaded = yaml_parser_load(parser, doc);
	if (!*loaded) {
		errors_add(c->errs, "%s:%zu: %s%s%s", c->file, parser->problem_mark.line + 1,
			   parser->problem ? parser->problem : "malformed YAML",
			   parser->context ? " " : "", parser->context ? parser->context : "");
		return NULL;
	}
	yaml_node_t *root = yaml_document_get_root_node(doc);
	if (!root) {
		errors_add(c->errs, "%s:1: the file is empty", c->file);
		return NULL;
	}
	/* One document per file: a second one (after "---") would be ignored. */
	yaml_document_t next;
	if (yaml_parser_load(parser, &next)) {
		if (yaml_document_get_root_node(&next))
			errors_add(c->errs, "%s:%zu: a second YAML document: one per file", c->file,
				   (size_t)yaml_document_get_root_node(&next)->start_mark.line + 1);
		yaml_document_delete(&next);
	}
	return root;
}

void yml_close(yaml_parser_t *parser, yaml_document_t *doc, bool loaded)
{
	if (loaded)
		yaml_document_delete(doc);
	yaml_parser_delete(parser);
}

char *read_small_file(const char *path, size_t max, size_t *len, struct errors *errs)
{
	/* A device will do: --config /dev/null is an empty configuration. */
	const char *why;
	int fd = regfile_open(path, REGFILE_OR_DEVICE, NULL, &why);
	FILE *f = fd < 0 ? NULL : fdopen(fd, "r");
	if (!f) {
		errors_add(errs, "%s: %s", path, fd < 0 ? why : strerror(errno));
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	char *buf = xmalloc(max + 1);
	errno = 0;
	*len = fread(buf, 1, max + 1, f);
	bool failed = ferror(f);
	int saved = errno;
	fclose(f);
	errno = saved;
	if (failed || *len > max) {
		errors_add(errs, "%s: %s", path, failed ? strerror(errno) : "too large");
		free(buf);
		return NULL;
	}
	buf[*len] = '\0';
	return buf;
}
