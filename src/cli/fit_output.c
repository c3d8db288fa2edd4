/* fit_output.c: verification of the final front and the fit outputs. */
#include "fit_output.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "kp_constopt.h"
#include "kp_eval.h"
#include "kp_expr.h"
#include "kp_pareto.h"

void fit_problem_from_data(fit_problem_t *fp, const kp_data_t *d, int target)
{
    memset(fp, 0, sizeof *fp);
    fp->target = d->names[target];
    fp->nvars = d->ncols - 1;
    int n = fp->nvars > 0 ? fp->nvars : 1;
    fp->names = malloc(sizeof *fp->names * (size_t)n);
    fp->cols = malloc(sizeof *fp->cols * (size_t)n);
    fp->digits = malloc(sizeof *fp->digits * (size_t)n);
    fp->exp10 = malloc(sizeof *fp->exp10 * (size_t)n);
    if (!fp->names || !fp->cols || !fp->digits || !fp->exp10) {
        fputs("kepler: out of memory\n", stderr);
        exit(KP_EXIT_INTERNAL);
    }
    for (int j = 0, k = 0; j < d->ncols; j++) {
        if (j == target)
            continue;
        fp->names[k] = d->names[j];
        fp->cols[k] = d->cols[j];
        fp->digits[k] = kp_data_col_digits(d, j);
        fp->exp10[k] = kp_data_col_exp10(d, j);
        k++;
    }
    fp->vd.cols = fp->cols;
    fp->vd.nvars = fp->nvars;
    fp->vd.y = d->cols[target];
    fp->vd.nrows = d->nrows;
    fp->vd.digits = fp->digits;
    fp->vd.exp10 = fp->exp10;
    fp->vd.y_digits = kp_data_col_digits(d, target);
    fp->vd.y_exp10 = kp_data_col_exp10(d, target);
}

void fit_problem_clear(fit_problem_t *fp)
{
    free(fp->names);
    free(fp->cols);
    free(fp->digits);
    free(fp->exp10);
    memset(fp, 0, sizeof *fp);
}

/* PySR's choice of the "best" formula: among formulas whose loss is within
   1.5x of the most accurate eligible one, the one with the steepest drop of
   log loss per unit of complexity from its simpler neighbour on the front.
   An exact formula is always preferred, the simplest exact one first. A
   formula with more free constants than a tenth of the rows is not
   eligible: with that many parameters it can interpolate the data, so its
   loss says little about the law. */
static int eligible(const fit_entry_t *fe, size_t nrows)
{
    size_t cap = nrows / 10 > 1 ? nrows / 10 : 1;
    return (size_t)kp_expr_nfree(&fe->e) <= cap;
}

static int choose_best(const fit_report_t *rep, size_t nrows)
{
    if (rep->n == 0)
        return -1;
    for (int i = 0; i < rep->n; i++)
        if (rep->entry[i].v.exact)
            return i;
    double min_loss = INFINITY;
    for (int i = 0; i < rep->n; i++)
        if (eligible(&rep->entry[i], nrows) && rep->entry[i].v.mse < min_loss)
            min_loss = rep->entry[i].v.mse;
    int best = 0;
    double best_score = -INFINITY;
    for (int i = 0; i < rep->n; i++) {
        const fit_entry_t *e = &rep->entry[i];
        if (!eligible(e, nrows) || !(e->v.mse <= 1.5 * min_loss))
            continue;
        double score = 0;
        if (i > 0) {
            const fit_entry_t *p = &rep->entry[i - 1];
            double dl = log(p->v.mse + 1e-300) - log(e->v.mse + 1e-300);
            score = dl / (double)(e->complexity - p->complexity);
        } else {
            score = INFINITY; /* the simplest formula already this good */
        }
        if (score > best_score) {
            best_score = score;
            best = i;
        }
    }
    return best;
}

void fit_report_build(fit_report_t *rep, const kp_sr_result_t *res,
                      const kp_expr_t *proven, const kp_grammar_t *g,
                      const fit_problem_t *fp, const kp_sr_params_t *sr)
{
    memset(rep, 0, sizeof *rep);
    rep->evaluations = res->evaluations;
    rep->rows_evaluated = res->rows_evaluated;
    rep->seconds = res->seconds;
    rep->rounds = res->rounds;
    rep->interrupted = res->interrupted;
    const kp_pareto_entry_t **front =
        malloc(sizeof *front * (size_t)(res->archive.max_complexity + 1));
    kp_pareto_t final;
    int maxc = res->archive.max_complexity;
    fit_entry_t *byc = calloc((size_t)maxc + 1, sizeof *byc);
    if (front == NULL || byc == NULL || kp_pareto_init(&final, maxc) != KP_OK) {
        fputs("kepler: out of memory\n", stderr);
        exit(KP_EXIT_INTERNAL);
    }
    int nf = kp_pareto_front(&res->archive, front);
    const double *const *cols = fp->vd.cols;
    const double *y = fp->vd.y;
    size_t n = fp->vd.nrows;
    for (int i = 0; i < nf + (proven != NULL); i++) {
        kp_expr_t e = i < nf ? front[i]->e : *proven;
        double mse = i < nf ? front[i]->loss : NAN;
        /* Constants tuned on a mini-batch are re-tuned on all rows. */
        if (sr->batch_rows > 0 && n > sr->batch_rows && kp_expr_nfree(&e) > 0)
            kp_constopt_fit(&e, cols, y, NULL, n, NULL, NULL, &mse, NULL);
        kp_constopt_params_t sp;
        kp_constopt_params_default(&sp);
        sp.snap_aic = 1; /* exact constants win when the data cannot tell */
        kp_expr_t loose = e;
        double lmse = mse;
        kp_constopt_snap(&e, cols, y, NULL, n, 1e-6, &sp, &mse, NULL);
        /* On noisy data a fitted constant sits about one standard error
           from its true value, far beyond 1e-6: a second, wider pass
           takes 0.4993 for 1/2 when Schwarz's criterion (BIC), which
           picks the true model as the data grow, prefers the formula
           with fewer free constants (exact forms within 1e-6 went first,
           so 1/sqrt(2 pi) is not crowded out by 2/5). */
        if (kp_expr_nfree(&e) > 0 && n > 1) {
            kp_constopt_params_t wp = sp;
            wp.snap_penalty = log((double)n);
            /* BIC decides, so recognition may offer less significant
               forms: 1/2 for 0.49991 has only 11 bits to spare */
            wp.snap_min_bits = 4;
            /* and only simple ones, or every constant would "snap" to a
               nearby p/q with large p and q (246/617) */
            wp.snap_max_bits = 8;
            kp_constopt_snap(&e, cols, y, NULL, n, 1e-2, &wp, &mse, NULL);
        }
        kp_expr_simplify(&e);
        fit_entry_t fe;
        fe.e = e;
        if (kp_verify_fit(&fe.v, &e, &fp->vd, sr->threads, NULL) != KP_OK ||
            !isfinite(fe.v.mse))
            continue;
        if (!fe.v.exact && kp_expr_nfree(&loose) > 0) {
            /* As in the search: a snap the loss would refuse stands if
               the verifier proves the snapped formula exact. */
            kp_verify_result_t lv;
            sp.snap_loose = 1e4;
            kp_constopt_snap(&loose, cols, y, NULL, n, 1e-6, &sp, &lmse, NULL);
            kp_expr_simplify(&loose);
            if (kp_verify_fit(&lv, &loose, &fp->vd, sr->threads, NULL) ==
                    KP_OK && lv.exact) {
                fe.e = e = loose;
                fe.v = lv;
            }
        }
        fe.complexity = kp_grammar_complexity(g, &e);
        if (fe.complexity > maxc)
            fe.complexity = maxc;
        /* Exact beats any loss: rank exact formulas at loss 0. */
        if (kp_pareto_insert(&final, &e, fe.complexity,
                             fe.v.exact ? 0.0 : fe.v.mse))
            byc[fe.complexity] = fe;
    }
    int nfinal = kp_pareto_front(&final, front);
    rep->entry = calloc((size_t)(nfinal > 0 ? nfinal : 1), sizeof *rep->entry);
    for (int i = 0; i < nfinal; i++)
        rep->entry[rep->n++] = byc[front[i]->complexity];
    rep->best = choose_best(rep, n);
    kp_pareto_clear(&final);
    free(byc);
    free(front);
}

void fit_report_clear(fit_report_t *rep)
{
    free(rep->entry);
    memset(rep, 0, sizeof *rep);
}

/* kp_expr_print into a fresh heap string. */
static char *print_alloc(const kp_expr_t *e, int style, const fit_problem_t *fp)
{
    size_t need = kp_expr_print(NULL, 0, e, style, fp->names, fp->nvars);
    char *s = malloc(need + 1);
    if (s != NULL)
        kp_expr_print(s, need + 1, e, style, fp->names, fp->nvars);
    return s;
}

static json_t *json_number(double x)
{
    return isfinite(x) ? json_real(x) : json_null();
}

static json_t *entry_json(const fit_entry_t *fe, const fit_problem_t *fp)
{
    char *sym = print_alloc(&fe->e, KP_PRINT_SYMPY, fp);
    char *tex = print_alloc(&fe->e, KP_PRINT_LATEX, fp);
    json_t *o = json_object();
    json_object_set_new(o, "expr", json_string(sym ? sym : ""));
    json_object_set_new(o, "latex", json_string(tex ? tex : ""));
    json_object_set_new(o, "complexity", json_integer(fe->complexity));
    json_object_set_new(o, "mse", json_number(fe->v.mse));
    json_object_set_new(o, "r2", json_number(fe->v.r2));
    json_object_set_new(o, "exact", json_boolean(fe->v.exact));
    if (!fe->v.exact)
        json_object_set_new(o, "why_not_exact", json_string(fe->v.reason));
    free(sym);
    free(tex);
    return o;
}

/* Writes through a temporary file renamed into place, so an interrupted
   write never leaves a truncated output behind. */
typedef int (*writer_fn)(FILE *f, const void *ctx);
static int write_atomic(const char *path, writer_fn fn, const void *ctx)
{
    size_t len = strlen(path) + 16;
    char *tmp = malloc(len);
    if (tmp == NULL)
        return KP_EXIT_INTERNAL;
    snprintf(tmp, len, "%s.tmpXXXXXX", path);
    int fd = mkstemp(tmp);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    int ok = f != NULL && fn(f, ctx) == 0;
    if (f != NULL) {
        ok = fflush(f) == 0 && ok;
        ok = fsync(fileno(f)) == 0 && ok;
        ok = fclose(f) == 0 && ok;
    }
    if (ok)
        ok = rename(tmp, path) == 0;
    if (!ok) {
        kp_error_t err;
        kp_error_set(&err, KP_EINPUT, path, 0, 0, "cannot write this file");
        unlink(tmp);
        free(tmp);
        return kp_cli_report(&err);
    }
    free(tmp);
    return 0;
}

typedef struct {
    const fit_report_t *rep;
    const fit_problem_t *fp;
    const kp_sr_params_t *sr;
} out_ctx_t;

static int write_json(FILE *f, const void *vctx)
{
    const out_ctx_t *c = vctx;
    json_t *root = json_object();
    json_object_set_new(root, "target", json_string(c->fp->target));
    json_t *inputs = json_array();
    for (int j = 0; j < c->fp->nvars; j++)
        json_array_append_new(inputs, json_string(c->fp->names[j]));
    json_object_set_new(root, "inputs", inputs);
    json_object_set_new(root, "seed", json_integer((json_int_t)c->sr->seed));
    json_object_set_new(root, "seconds", json_real(c->rep->seconds));
    json_object_set_new(root, "evaluations", json_integer(c->rep->evaluations));
    json_object_set_new(root, "evaluations_per_second",
                        json_real(c->rep->seconds > 0
                                      ? c->rep->evaluations / c->rep->seconds
                                      : 0));
    json_object_set_new(root, "node_evaluations_per_second",
                        json_real(c->rep->seconds > 0
                                      ? c->rep->rows_evaluated / c->rep->seconds
                                      : 0));
    json_object_set_new(root, "rows", json_integer((json_int_t)c->fp->vd.nrows));
    json_object_set_new(root, "rounds", json_integer(c->rep->rounds));
    static const char *engines[] = {"hybrid", "evolve", "policy"};
    json_object_set_new(root, "engine", json_string(engines[c->sr->engine]));
    json_object_set_new(root, "interrupted", json_boolean(c->rep->interrupted));
    json_object_set_new(root, "best",
                        c->rep->best >= 0
                            ? entry_json(&c->rep->entry[c->rep->best], c->fp)
                            : json_null());
    json_t *pareto = json_array();
    for (int i = 0; i < c->rep->n; i++)
        json_array_append_new(pareto, entry_json(&c->rep->entry[i], c->fp));
    json_object_set_new(root, "pareto", pareto);
    int rc = json_dumpf(root, f, JSON_INDENT(2) | JSON_REAL_PRECISION(17));
    fputc('\n', f);
    json_decref(root);
    return rc;
}

/* CSV field quoting: formulas contain commas. */
static void csv_quoted(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

static int write_csv(FILE *f, const void *vctx)
{
    const out_ctx_t *c = vctx;
    fprintf(f, "complexity,mse,r2,exact,expr\n");
    for (int i = 0; i < c->rep->n; i++) {
        const fit_entry_t *fe = &c->rep->entry[i];
        char *s = print_alloc(&fe->e, KP_PRINT_SYMPY, c->fp);
        fprintf(f, "%d,%.17g,%.17g,%s,", fe->complexity, fe->v.mse, fe->v.r2,
                fe->v.exact ? "true" : "false");
        csv_quoted(f, s ? s : "");
        fputc('\n', f);
        free(s);
    }
    return ferror(f) ? -1 : 0;
}

static void svg_escape(FILE *f, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '&': fputs("&amp;", f); break;
        default: fputc(*s, f);
        }
    }
}

/* One panel: maps data (x, y) in [x0,x1]x[y0,y1] to a 300x300 box at
   (ox, oy). */
typedef struct {
    double ox, oy, x0, x1, y0, y1;
} panel_t;

static double px(const panel_t *p, double x)
{
    return p->ox + 300.0 * (x - p->x0) / (p->x1 - p->x0);
}
static double py(const panel_t *p, double y)
{
    return p->oy + 300.0 - 300.0 * (y - p->y0) / (p->y1 - p->y0);
}

static void svg_axes(FILE *f, const panel_t *p, const char *xl, const char *yl,
                     const char *title)
{
    fprintf(f, "<rect x='%g' y='%g' width='300' height='300' fill='none' "
               "stroke='#333'/>\n", p->ox, p->oy);
    for (int k = 0; k <= 4; k++) {
        double xv = p->x0 + (p->x1 - p->x0) * k / 4.0;
        double yv = p->y0 + (p->y1 - p->y0) * k / 4.0;
        fprintf(f, "<text x='%g' y='%g' font-size='10' text-anchor='middle'>"
                   "%.3g</text>\n", px(p, xv), p->oy + 314, xv);
        fprintf(f, "<text x='%g' y='%g' font-size='10' text-anchor='end'>"
                   "%.3g</text>\n", p->ox - 4, py(p, yv) + 3, yv);
    }
    fprintf(f, "<text x='%g' y='%g' font-size='12' text-anchor='middle'>%s"
               "</text>\n", p->ox + 150, p->oy + 332, xl);
    fprintf(f, "<text x='%g' y='%g' font-size='12' text-anchor='middle' "
               "transform='rotate(-90 %g %g)'>%s</text>\n", p->ox - 42,
            p->oy + 150, p->ox - 42, p->oy + 150, yl);
    fprintf(f, "<text x='%g' y='%g' font-size='13' text-anchor='middle' "
               "font-weight='bold'>%s</text>\n", p->ox + 150, p->oy - 10, title);
}

static void widen(double *lo, double *hi)
{
    if (!(*hi > *lo)) {
        double m = isfinite(*lo) ? *lo : 0;
        *lo = m - 1;
        *hi = m + 1;
    }
    double pad = 0.05 * (*hi - *lo);
    *lo -= pad;
    *hi += pad;
}

static int write_svg(FILE *f, const void *vctx)
{
    const out_ctx_t *c = vctx;
    const fit_report_t *rep = c->rep;
    fprintf(f, "<svg xmlns='http://www.w3.org/2000/svg' width='820' "
               "height='420' font-family='sans-serif'>\n"
               "<rect width='820' height='420' fill='white'/>\n");
    /* Pareto front: complexity against log10 MSE. */
    panel_t a = {70, 40, INFINITY, -INFINITY, INFINITY, -INFINITY};
    for (int i = 0; i < rep->n; i++) {
        double lx = rep->entry[i].complexity;
        double ly = log10(rep->entry[i].v.mse + 1e-300);
        a.x0 = fmin(a.x0, lx), a.x1 = fmax(a.x1, lx);
        a.y0 = fmin(a.y0, ly), a.y1 = fmax(a.y1, ly);
    }
    widen(&a.x0, &a.x1);
    widen(&a.y0, &a.y1);
    svg_axes(f, &a, "complexity", "log10 MSE", "Pareto front");
    fputs("<polyline fill='none' stroke='#1f77b4' points='", f);
    for (int i = 0; i < rep->n; i++)
        fprintf(f, "%.1f,%.1f ", px(&a, rep->entry[i].complexity),
                py(&a, log10(rep->entry[i].v.mse + 1e-300)));
    fputs("'/>\n", f);
    for (int i = 0; i < rep->n; i++) {
        fprintf(f, "<circle cx='%.1f' cy='%.1f' r='4' fill='%s'><title>",
                px(&a, rep->entry[i].complexity),
                py(&a, log10(rep->entry[i].v.mse + 1e-300)),
                i == rep->best ? "#d62728" : "#1f77b4");
        char *s = print_alloc(&rep->entry[i].e, KP_PRINT_SYMPY, c->fp);
        svg_escape(f, s ? s : "");
        free(s);
        fputs("</title></circle>\n", f);
    }
    /* Predicted against observed for the best formula. */
    if (rep->best >= 0) {
        size_t n = c->fp->vd.nrows;
        double *pred = malloc(sizeof *pred * n);
        if (pred != NULL) {
            kp_eval(pred, &rep->entry[rep->best].e, c->fp->vd.cols, n);
            panel_t b = {480, 40, INFINITY, -INFINITY, INFINITY, -INFINITY};
            for (size_t i = 0; i < n; i++) {
                if (!isfinite(pred[i]))
                    continue;
                b.x0 = fmin(b.x0, fmin(c->fp->vd.y[i], pred[i]));
                b.x1 = fmax(b.x1, fmax(c->fp->vd.y[i], pred[i]));
            }
            widen(&b.x0, &b.x1);
            b.y0 = b.x0;
            b.y1 = b.x1;
            svg_axes(f, &b, "observed", "predicted", "Best formula");
            fprintf(f, "<line x1='%.1f' y1='%.1f' x2='%.1f' y2='%.1f' "
                       "stroke='#999' stroke-dasharray='4'/>\n",
                    px(&b, b.x0), py(&b, b.x0), px(&b, b.x1), py(&b, b.x1));
            size_t step = n > 2000 ? n / 2000 : 1;
            for (size_t i = 0; i < n; i += step)
                if (isfinite(pred[i]))
                    fprintf(f, "<circle cx='%.1f' cy='%.1f' r='2' "
                               "fill='#2ca02c' fill-opacity='0.6'/>\n",
                            px(&b, c->fp->vd.y[i]), py(&b, pred[i]));
            char *s = print_alloc(&rep->entry[rep->best].e, KP_PRINT_SYMPY,
                                  c->fp);
            fprintf(f, "<text x='410' y='410' font-size='12' "
                       "text-anchor='middle'>%s = ", c->fp->target);
            svg_escape(f, s ? s : "");
            fputs("</text>\n", f);
            free(s);
            free(pred);
        }
    }
    fputs("</svg>\n", f);
    return ferror(f) ? -1 : 0;
}

static void print_summary(const fit_report_t *rep, const fit_problem_t *fp)
{
    printf("%-10s %-12s %-10s %-6s %s\n", "complexity", "mse", "r2", "exact",
           "formula");
    for (int i = 0; i < rep->n; i++) {
        const fit_entry_t *fe = &rep->entry[i];
        char *s = print_alloc(&fe->e, KP_PRINT_SYMPY, fp);
        printf("%-10d %-12.4g %-10.6f %-6s %s = %s%s\n", fe->complexity,
               fe->v.mse, fe->v.r2, fe->v.exact ? "yes" : "no", fp->target,
               s ? s : "", i == rep->best ? "   <- best" : "");
        free(s);
    }
    printf("%ld evaluations in %.1f s (%.3g per second)%s\n", rep->evaluations,
           rep->seconds, rep->seconds > 0 ? rep->evaluations / rep->seconds : 0,
           rep->interrupted ? ", interrupted" : "");
}

int fit_report_write(const fit_report_t *rep, const fit_problem_t *fp,
                     const kp_sr_params_t *sr, const char *json,
                     const char *csv, const char *plot, int quiet,
                     const char *data_path)
{
    (void)data_path;
    out_ctx_t c = {rep, fp, sr};
    int status = 0;
    if (json && (status = write_atomic(json, write_json, &c)) != 0)
        return status;
    if (csv && (status = write_atomic(csv, write_csv, &c)) != 0)
        return status;
    if (plot && (status = write_atomic(plot, write_svg, &c)) != 0)
        return status;
    if (!quiet)
        print_summary(rep, fp);
    return rep->n > 0 ? KP_EXIT_OK : KP_EXIT_NOTFOUND;
}
