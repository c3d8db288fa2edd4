/* kp_grammar.h: grammars, the declared search space of expression search.

   A grammar is read from a small line-based text file (docs/grammar.md is the
   reference of the format): named types, typed operators from kp_op_table,
   terminals (input variables, free constants, named constants such as pi),
   exact literals, forbidden parent/child and ancestor/descendant pairs,
   and limits on length and depth. The RNN policy and genetic programming
   share one grammar, so a rule holds for both by construction (as DSO's
   priors do).

   Symbols. After kp_grammar_bind the grammar is a flat list of symbols, the
   vocabulary of the policy: each has an expression token (operator id,
   KP_TOK_VAR + i or KP_TOK_CONST), an arity, argument types, a result type
   and a cost. `terminal inputs` expands into one symbol per input variable,
   in place. No two symbols have the same token (same literal value, same
   variable) and the same result type, so an expression maps back to its
   symbols unambiguously, top-down from the start type.

   Generation. kp_gstate_t holds the state of a prefix (preorder) expression
   being written one symbol at a time. kp_gstate_allowed gives the mask of
   the symbols that may come next: type-correct, not forbidden by the parent
   or any ancestor, and such that the expression can still be completed
   within the length and depth limits. The mask is never empty before the
   expression is complete, so a sampler that only draws allowed symbols
   never gets stuck and always ends with a valid expression.

   Ownership: kp_grammar_init/kp_grammar_clear; kp_gstate_t is a value type
   (copy with `=`) that borrows the grammar it was initialised with, which
   must not change (be reloaded or rebound) while the state is in use.
   A grammar is read-only after load and bind: any number of threads may
   share it. Reentrant. */
#ifndef KP_GRAMMAR_H
#define KP_GRAMMAR_H

#include <stdint.h>

#include "kp_error.h"
#include "kp_expr.h"
#include "kp_rng.h"

#ifdef __cplusplus
extern "C" {
#endif

#define KP_GRAMMAR_NAME_MAX 64  /* grammar, type and symbol names (truncated) */
#define KP_GRAMMAR_MAX_TYPES 16
#define KP_GRAMMAR_MAX_DECLS 256 /* symbols declared in the file */
#define KP_GRAMMAR_DEFAULT_LENGTH 30
#define KP_GRAMMAR_DEFAULT_DEPTH 10

/* Constraint classes: every symbol belongs to one; `forbid` rules name
   classes. Operators are their own class (their enum kp_op id). */
enum {
    KP_GCLASS_INPUTS = KP_OP_COUNT, /* every input variable */
    KP_GCLASS_CONST,                /* free constants */
    KP_GCLASS_LITERAL,              /* exact literals */
    KP_GCLASS_COUNT,
    KP_GCLASS_ROOT = KP_GCLASS_COUNT /* "parent" of the root: no rules */
};

enum kp_gsym_kind {
    KP_GSYM_OP,      /* an operator of kp_op_table (incl. nullary pi, E) */
    KP_GSYM_VAR,     /* input variable (before bind: the `inputs` template) */
    KP_GSYM_CONST,   /* free constant, tuned by the optimiser */
    KP_GSYM_LITERAL  /* exact rational num/den */
};

typedef struct {
    char name[KP_GRAMMAR_NAME_MAX]; /* "sin", "x0", "const", "1/2" */
    int kind;         /* enum kp_gsym_kind */
    int cls;          /* constraint class (op id or KP_GCLASS_*) */
    kp_tok_t tok;     /* operator id, KP_TOK_VAR + i or KP_TOK_CONST */
    int arity;        /* 0, 1 or 2 */
    int arg_type[2];  /* types of the arguments, in order */
    int type;         /* result type */
    int cost;         /* complexity contribution, >= 0 */
    int64_t num, den; /* literals: num/den in lowest terms, den > 0;
                         free constants: den == 0 */
} kp_gsym_t;

typedef struct {
    char name[KP_GRAMMAR_NAME_MAX];
    char source[KP_ERROR_FILE_MAX];  /* file it was loaded from */
    int max_len;                     /* tokens, 1..KP_EXPR_MAX_LEN */
    int max_depth;                   /* levels, a leaf alone has depth 1 */
    int ntypes;
    char type_name[KP_GRAMMAR_MAX_TYPES][KP_GRAMMAR_NAME_MAX];
    int start;                       /* type of a whole expression */
    uint32_t forbid_child[KP_GCLASS_COUNT + 1]; /* per parent class: bit c */
    uint32_t forbid_desc[KP_GCLASS_COUNT + 1];  /* per ancestor class */
    int ndecl;                       /* declared symbols (templates) */
    kp_gsym_t decl[KP_GRAMMAR_MAX_DECLS];
    int bound;                       /* kp_grammar_bind succeeded */
    int nvars;
    int nsym;                        /* the vocabulary (heap) */
    kp_gsym_t *sym;
    uint32_t leaf_cls[KP_GRAMMAR_MAX_TYPES]; /* classes of arity-0 symbols
                                                of each type */
    int nnonleaf;                    /* indices of symbols with arity > 0 */
    int nonleaf[KP_GRAMMAR_MAX_DECLS];
    /* Lookup of a token's symbol by result type (-1: none): operators,
       variable 0 of each type (variable i is var_base + i), free constants,
       and the list of literal symbols. */
    int op_sym[KP_OP_COUNT][KP_GRAMMAR_MAX_TYPES];
    int var_base[KP_GRAMMAR_MAX_TYPES];
    int const_sym[KP_GRAMMAR_MAX_TYPES];
    int nlit;
    int lit[KP_GRAMMAR_MAX_DECLS];
} kp_grammar_t;

/* Sets g to an empty, unloaded grammar. */
void kp_grammar_init(kp_grammar_t *g);
/* Frees what g owns; g may be initialised again. */
void kp_grammar_clear(kp_grammar_t *g);

/* Parses the grammar text (NUL-terminated); source_name names it in errors
   (NULL: "<string>"). Replaces g's previous contents; g is unbound after it.
   KP_EINPUT with file, line and column of the offending word for every
   error: unknown directive, operator or type, wrong number of argument
   types, bad number or cost, duplicate declaration, missing `->`, limit out
   of range, no terminal, a type no finite expression can have, or limits
   and constraints that leave no expression at all. On error g is left
   empty (unloaded). */
int kp_grammar_load_string(kp_grammar_t *g, const char *text,
                           const char *source_name, kp_error_t *err);

/* Reads and parses the file at path. KP_EINPUT if it cannot be read. */
int kp_grammar_load_file(kp_grammar_t *g, const char *path, kp_error_t *err);

/* Loads a grammar by name or path. A name containing '/' or ending in
   ".grammar" is a path. A bare NAME is resolved to NAME.grammar in, in
   order: every directory of $KEPLER_GRAMMAR_PATH (colon-separated),
   KP_SRCDIR "/grammars" (the source tree, so uninstalled binaries work),
   KP_DATADIR "/grammars" (installed). KP_EINPUT if not found. */
int kp_grammar_load(kp_grammar_t *g, const char *name_or_path,
                    kp_error_t *err);

/* Binds g to nvars input variables named names[0..nvars-1] (names may be
   NULL: x0, x1, ...): builds the symbol list, `terminal inputs` expanding
   into one symbol per variable. May be called again to rebind.
   0 <= nvars <= KP_MAX_VARS. KP_EINPUT if g is not loaded, nvars is out of
   range, or no expression fits the limits with these inputs (e.g. nvars is
   0 and inputs were the only terminal). */
int kp_grammar_bind(kp_grammar_t *g, int nvars, const char *const *names,
                    kp_error_t *err);

/* Accessors. Before bind the symbol list holds the declarations, with one
   placeholder symbol for each `terminal inputs`. */
const char *kp_grammar_name(const kp_grammar_t *g);
int kp_grammar_max_length(const kp_grammar_t *g);
int kp_grammar_max_depth(const kp_grammar_t *g);
int kp_grammar_nsymbols(const kp_grammar_t *g);
const kp_gsym_t *kp_grammar_symbol(const kp_grammar_t *g, int i);
/* The index of the type called name, or -1. */
int kp_grammar_type(const kp_grammar_t *g, const char *name);
/* The symbol of input variable var, or -1 (not bound, or inputs absent). */
int kp_grammar_var_symbol(const kp_grammar_t *g, int var);

/* Fills sym[0..e->len-1] with the symbol of each token of e, inferring the
   expected type top-down from the start type, or -1 where no symbol has the
   token and the expected type (children of such a node are matched to any
   symbol with their token). Returns the number of -1 entries. e must be a
   complete expression. */
int kp_grammar_expr_symbols(const kp_grammar_t *g, const kp_expr_t *e,
                            int *sym);

/* The symbol of the token of e at position pos (0 <= pos < e->len), as
   kp_grammar_expr_symbols computes it, or -1. O(e->len). */
int kp_grammar_symbol_at(const kp_grammar_t *g, const kp_expr_t *e, int pos);

/* KP_OK if e obeys g: g bound, e valid (kp_expr_check), length and depth
   within the limits, every token a symbol of the right type, no forbidden
   parent/child or ancestor/descendant pair. Otherwise KP_EINPUT with a
   message naming the rule and the token position (err->line and col 0). */
int kp_grammar_check_expr(const kp_grammar_t *g, const kp_expr_t *e,
                          kp_error_t *err);

/* The complexity of e: the sum of the costs of its symbols; a token that
   is not a symbol of g (or of the right type) costs 1. */
int kp_grammar_complexity(const kp_grammar_t *g, const kp_expr_t *e);

/* Builds e from n symbols in prefix order (free constants start at 1.0).
   KP_EINPUT if a symbol index is out of range or the list is not exactly
   one complete expression (kp_expr_finish). Does not check the rules. */
int kp_grammar_build_expr(kp_expr_t *e, const kp_grammar_t *g,
                          const int *sym, int n, kp_error_t *err);

/* ---- incremental prefix generation ---- */

/* A pending argument slot of the expression being written. */
typedef struct {
    uint32_t forbid; /* classes banned here by ancestors' descendant rules */
    int32_t parent;  /* symbol of the parent, -1 at the root */
    int32_t sibling; /* symbol at the root of the previous sibling, or -1 */
    int32_t ppos;    /* token position of the parent, -1 at the root */
    int16_t depth;   /* 1 at the root */
    int16_t type;    /* type the slot needs */
    int32_t est;     /* fewest tokens that can complete the slot */
} kp_gslot_t;

typedef struct {
    int len;        /* symbols pushed */
    int nslot;      /* pending slots (a stack: the top is filled next) */
    int pending;    /* sum of est over pending slots */
    int max_len;    /* limits in force (see kp_gstate_set_max_len) */
    int max_depth;
    int sym[KP_EXPR_MAX_LEN];
    kp_gslot_t slot[KP_EXPR_MAX_LEN];
} kp_gstate_t;

/* Starts an empty expression of g's start type. KP_EINPUT if g is not
   bound. */
int kp_gstate_init(kp_gstate_t *s, const kp_grammar_t *g, kp_error_t *err);

/* Lowers the length limit of a fresh state (no symbol pushed yet) to
   max_len. KP_EINPUT if max_len exceeds the grammar's limit or is below
   the shortest expression the grammar allows. */
int kp_gstate_set_max_len(kp_gstate_t *s, const kp_grammar_t *g, int max_len,
                          kp_error_t *err);

/* Sets mask[i] (i < kp_grammar_nsymbols(g)) to 1 if symbol i may come next
   and 0 otherwise; returns the number allowed, which is 0 only when the
   expression is done. */
int kp_gstate_allowed(const kp_gstate_t *s, const kp_grammar_t *g,
                      uint8_t *mask);

/* Appends symbol sym. KP_EINPUT (s unchanged) if sym is not allowed. */
int kp_gstate_push(kp_gstate_t *s, const kp_grammar_t *g, int sym,
                   kp_error_t *err);

/* 1 when the expression is complete. */
int kp_gstate_done(const kp_gstate_t *s);

/* For conditioning a policy on the next token: the symbol of its parent and
   of its previous sibling (root symbol of the sibling subtree), -1 if none
   or when done. kp_gstate_type is the type the next token must have (-1
   when done); kp_gstate_depth its depth (1 at the root, 0 when done). */
int kp_gstate_parent(const kp_gstate_t *s);
int kp_gstate_sibling(const kp_gstate_t *s);
int kp_gstate_type(const kp_gstate_t *s);
int kp_gstate_depth(const kp_gstate_t *s);

/* The fewest tokens a complete expression extending s can have. */
int kp_gstate_min_length(const kp_gstate_t *s);

/* Builds e from a complete state. KP_EINPUT if s is not done. */
int kp_gstate_to_expr(kp_expr_t *e, const kp_grammar_t *g,
                      const kp_gstate_t *s, kp_error_t *err);

/* Sets e to a random expression of g with length at most max_len (and g's
   limits), drawn symbol by symbol through kp_gstate_allowed: a target length
   is drawn uniformly in [min_len, max_len], operators are drawn uniformly
   while the expression is shorter than the target, then the shortest
   completions. min_len is honoured unless the depth limit or the rules make
   it unreachable (after 32 attempts the longest expression is returned).
   KP_EINPUT if g is not bound, min_len > max_len, or max_len is below the
   shortest expression of g; KP_ENOMEM. */
int kp_grammar_random_expr(kp_expr_t *e, const kp_grammar_t *g, int min_len,
                           int max_len, kp_rng_t *rng, kp_error_t *err);

#ifdef __cplusplus
}
#endif
#endif
