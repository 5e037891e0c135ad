/* The option list of `dln run --help` and docs/cli.md, generated from the concatenated
 * option table (dln/spec.h): one line per option, grouped by the module that owns it. */
#include <stdio.h>
#include <string.h>

#include "dln/spec.h"

static const char *type_meta(dln_opt_type t) {
  switch (t) {
    case DLN_OPT_INT:
    case DLN_OPT_LONG:
    case DLN_OPT_U64: return "INT";
    case DLN_OPT_DOUBLE: return "X";
    case DLN_OPT_BOOL: return "BOOL";
    case DLN_OPT_STRING: return "PATH";
    case DLN_OPT_ENUM: return "NAME";
    case DLN_OPT_INTLIST: return "INT,...";
    case DLN_OPT_DOUBLELIST: return "X,...";
    case DLN_OPT_STRLIST: return "NAME,...";
  }
  return "VALUE";
}

/* The heading of an owner's group. */
static void heading(FILE *fp, const char *kind, const char *owner) {
  if (kind) {
    fprintf(fp, "\n%s %s:\n", strcmp(kind, "task") == 0 ? "Task" : strcmp(kind, "init") == 0 ? "Initialization" : "Method", owner);
    return;
  }
  static const struct {
    const char *owner, *title;
  } fixed[] = {{"run", "The run"}, {"output", "Outputs (apply to a whole sweep)"}, {"data", "Data: the ground truth of the synthetic tasks"},
               {"network", "Network"}, {"init", "Initialization (shared)"}, {"training", "Training (every method)"}};
  for (size_t i = 0; i < sizeof fixed / sizeof *fixed; ++i)
    if (strcmp(owner, fixed[i].owner) == 0) {
      fprintf(fp, "\n%s:\n", fixed[i].title);
      return;
    }
  fprintf(fp, "\n%s:\n", owner);
}

void dln_spec_write_options(FILE *fp) {
  if (!fp) return;
  const char *owner = NULL;
  for (const dln_spec_option *o = dln_spec_options(); o->name; ++o) {
    if (!owner || strcmp(owner, o->owner) != 0) heading(fp, o->kind, owner = o->owner);
    char left[64], al[512];
    snprintf(left, sizeof left, "--%s=%s", o->name, type_meta(o->type));
    fprintf(fp, "  %-28s %s", left, o->help);
    if (o->row->allowed || o->row->choice) fprintf(fp, " {%s}", dln_option_allowed_text(o->row, al, sizeof al));
    fprintf(fp, " [default: %s]\n", o->defval && o->defval[0] ? o->defval : "none");
  }
}
