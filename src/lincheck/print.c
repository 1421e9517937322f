/*
 * print.c — verdicts and operations in the words a person reads.
 *
 * Offending operations are printed as the JSON lines they came from (with their line numbers),
 * so that a report can be pasted back into a file and checked again.
 */
#include <assert.h>
#include <inttypes.h>

#include "lincheck/internal.h"

static void print_string(const char *string, FILE *out)
{
    fputc('"', out);
    for (const unsigned char *c = (const unsigned char *)string; *c != '\0'; c++) {
        switch (*c) {
        case '"': fputs("\\\"", out); break;
        case '\\': fputs("\\\\", out); break;
        case '\n': fputs("\\n", out); break;
        case '\r': fputs("\\r", out); break;
        case '\t': fputs("\\t", out); break;
        default:
            if (*c < 0x20) fprintf(out, "\\u%04x", *c);
            else fputc(*c, out);
        }
    }
    fputc('"', out);
}

static const char *print_kind_name(enum lincheck_kind kind)
{
    switch (kind) {
    case LINCHECK_GET: return "get";
    case LINCHECK_PUT: return "put";
    case LINCHECK_DEL: return "del";
    case LINCHECK_CAS: return "cas";
    case LINCHECK_INCR: return "incr";
    case LINCHECK_PUSH: return "push";
    case LINCHECK_POP: return "pop";
    case LINCHECK_SADD: return "sadd";
    case LINCHECK_SREM: return "srem";
    case LINCHECK_SISMEMBER: return "sismember";
    }
    return "?";
}

static void print_output(const struct lincheck_op *op, FILE *out)
{
    if (!op->returned) {
        fputs("null", out);
        return;
    }
    switch (op->kind) {
    case LINCHECK_GET:
    case LINCHECK_POP:
        if (op->output_null) fputs("null", out);
        else print_string(op->output_value, out);
        break;
    case LINCHECK_PUT: fputs("\"ok\"", out); break;
    case LINCHECK_CAS: fputs(op->output_ok ? "\"ok\"" : "\"fail\"", out); break;
    case LINCHECK_DEL:
    case LINCHECK_INCR:
    case LINCHECK_PUSH:
    case LINCHECK_SADD:
    case LINCHECK_SREM:
    case LINCHECK_SISMEMBER: fprintf(out, "%" PRId64, op->output_int); break;
    }
}

void lincheck_op_print_json(const struct lincheck_op *op, FILE *out)
{
    fprintf(out, "{\"client\":%" PRIu64 ",\"op\":\"%s\",\"key\":", op->client,
            print_kind_name(op->kind));
    print_string(op->key, out);
    if (op->expect != NULL) {
        fputs(",\"expect\":", out);
        print_string(op->expect, out);
    }
    if (op->value != NULL) {
        fputs(",\"value\":", out);
        print_string(op->value, out);
    }
    fprintf(out, ",\"call\":%" PRId64 ",\"return\":", op->call_ns);
    if (op->returned) fprintf(out, "%" PRId64, op->return_ns);
    else fputs("null", out);
    fputs(",\"output\":", out);
    print_output(op, out);
    fputc('}', out);
}

void lincheck_result_print(const struct lincheck_history *history,
                           const struct lincheck_result *result, FILE *out)
{
    switch (result->verdict) {
    case LINCHECK_OK:
        fprintf(out, "linearizable (%u operations, %u keys, %" PRIu64 " states, %.3f s)\n",
                lincheck_history_count(history), result->keys_checked, result->states_explored,
                result->seconds);
        return;
    case LINCHECK_UNKNOWN:
        fprintf(out, "unknown: %s while checking key ", result->message);
        print_string(result->key, out);
        fprintf(out, " (%" PRIu64 " states, %.3f s)\n", result->states_explored, result->seconds);
        return;
    case LINCHECK_VIOLATION:
        break;
    }
    fputs("NOT linearizable: key ", out);
    print_string(result->key, out);
    fprintf(out, ": %u operation%s cannot be ordered, whatever the others did in their intervals%s:\n",
            result->op_count, result->op_count == 1 ? "" : "s",
            result->minimal ? " (each one is needed)" : " (shrinking budget ran out)");
    for (uint32_t i = 0; i < result->op_count && i < LINCHECK_RESULT_OPS_MAX; i++) {
        const struct lincheck_op *op = lincheck_history_op(history, result->op_index[i]);
        if (op->line != 0) fprintf(out, "  line %u: ", op->line);
        else fprintf(out, "  op %u: ", result->op_index[i]);
        lincheck_op_print_json(op, out);
        fputc('\n', out);
    }
    if (result->op_count > LINCHECK_RESULT_OPS_MAX)
        fprintf(out, "  ... and %u more\n", result->op_count - LINCHECK_RESULT_OPS_MAX);
}
