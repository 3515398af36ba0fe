/* The TreeSHAP tables' per-row work in C: what models/treeshap.py's PathTables._block does
 * with numpy calls over a block of rows.
 *
 * Why: with the tables built at model load, what is left per row is a split decision per
 * node, a bit pattern per path and one table lookup per (path, feature). In numpy that is a
 * dozen calls over (rows x 4,500) work arrays, ~60 CPU-us a row on the bench's 66-tree model
 * and a fixed cost per call that made LightGBM's own pred_contrib cheaper under 4 rows. Here
 * it is 10-30 CPU-us a row at any batch size. The GIL is kept: a call lasts tens of
 * microseconds to a millisecond, and a thread that releases it waits for it back behind
 * the consumer thread's Python (up to the 5 ms switch interval) on the latency path.
 *
 * Built by setuptools as an optional extension (setup.py): where there is no C
 * compiler the import fails and PathTables keeps its numpy code, which gives the same
 * numbers. Both are checked against LightGBM's pred_contrib (tests/unit/test_treeshap.py).
 *
 * The split rules are LightGBM's (its Tree::Decision), as PathTables.decisions restates them:
 * |x| <= 1e-35f reads as 0; NaN is 0 unless the node's missing type is NaN; a missing value
 * follows the node's default direction; a category goes left when it is in the node's set,
 * NaN and negative or unseen categories go right. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define NAN_MISSING 1
#define ZERO_MISSING 2
#define DEFAULT_LEFT 4
#define CATEGORICAL 8

#define BLOCK 64 /* rows per block of work */
#ifndef SCALAR_ROWS
#define SCALAR_ROWS 8 /* blocks of fewer rows go one row at a time (measured: models/bench.py) */
#endif

static const double ZERO = (double)1e-35f; /* LightGBM's kZeroThreshold, a float */

/* What prepare() keeps: PathTables' structure, copied and checked once, so block() does
 * no per-call checks beyond the sizes of X and out. */
typedef struct {
    Py_ssize_t nf, ns, np, ng, nc, cat_width, cat_rows, nt;
    int64_t *node_feature, *cat_row, *path_base, *path_group, *group_cond, *cond_node,
        *group_feature;
    double *threshold, *table;
    uint8_t *flags, *cat_left, *cond_right;
    int32_t *path_depth;
} tables_t;

static void tables_free(tables_t *t) {
    if (t == NULL) return;
    free(t->node_feature); free(t->cat_row); free(t->path_base); free(t->path_group);
    free(t->group_cond); free(t->cond_node); free(t->group_feature); free(t->threshold);
    free(t->table); free(t->flags); free(t->cat_left); free(t->cond_right); free(t->path_depth);
    free(t);
}

static void capsule_free(PyObject *capsule) {
    tables_free(PyCapsule_GetPointer(capsule, "leadscore.treeshap"));
}

/* A copy of a C-contiguous buffer of itemsize-byte items (count: expected items, or -1);
 * *items: how many there were. */
static void *copy(PyObject *obj, Py_ssize_t itemsize, Py_ssize_t count, Py_ssize_t *items,
                  const char *name) {
    Py_buffer v;
    if (PyObject_GetBuffer(obj, &v, PyBUF_C_CONTIGUOUS) < 0) return NULL;
    void *out = NULL;
    if (v.len % itemsize != 0 || (count >= 0 && v.len != itemsize * count)) {
        PyErr_Format(PyExc_ValueError, "%s: %zd bytes for items of %zd bytes (expected %zd)",
                     name, v.len, itemsize, count);
    } else {
        out = malloc(v.len ? (size_t)v.len : 1);
        if (out == NULL) PyErr_NoMemory();
        else {
            memcpy(out, v.buf, (size_t)v.len);
            if (items != NULL) *items = v.len / itemsize;
        }
    }
    PyBuffer_Release(&v);
    return out;
}

/* prepare(n_features, node_feature, threshold, node_flags, cat_row, cat_left, cat_width,
 *         path_depth, path_base, path_group, group_cond, cond_node, cond_right,
 *         group_feature, table) -> a handle for block().
 * Per split: node_feature int64, threshold float64, node_flags uint8 (the #defines above),
 * cat_row int64 (its row of cat_left, or -1). cat_left: uint8 (categorical splits x
 * cat_width), 1 = the category goes left. Per path: path_depth int32, path_base int64 (its
 * table's offset in ``table``), path_group int64 (its first group: a path's groups are
 * consecutive, one per distinct feature in path order). Per group: group_cond int64 (its
 * first condition; n_groups + 1 entries), group_feature int64. Per condition: cond_node
 * int64, cond_right uint8 (1: the path goes right there). table: float64, a path's
 * (2^d, d) table row-major: the contributions for each pattern of followed features. */
static PyObject *prepare(PyObject *self, PyObject *args) {
    PyObject *o[14];
    Py_ssize_t nf, cat_width;
    if (!PyArg_ParseTuple(args, "nOOOOOnOOOOOOOO", &nf, &o[0], &o[1], &o[2], &o[3], &o[4],
                          &cat_width, &o[5], &o[6], &o[7], &o[8], &o[9], &o[10], &o[11],
                          &o[12]))
        return NULL;
    tables_t *t = calloc(1, sizeof(tables_t));
    if (t == NULL) return PyErr_NoMemory();
    t->nf = nf;
    t->cat_width = cat_width;
    Py_ssize_t ncat = 0, ngc = 0;
    if (nf < 0 || cat_width < 1) {
        PyErr_SetString(PyExc_ValueError, "n_features or cat_width out of range");
        goto fail;
    }
    if (!(t->node_feature = copy(o[0], 8, -1, &t->ns, "node_feature"))) goto fail;
    if (!(t->threshold = copy(o[1], 8, t->ns, NULL, "threshold"))) goto fail;
    if (!(t->flags = copy(o[2], 1, t->ns, NULL, "node_flags"))) goto fail;
    if (!(t->cat_row = copy(o[3], 8, t->ns, NULL, "cat_row"))) goto fail;
    if (!(t->cat_left = copy(o[4], 1, -1, &ncat, "cat_left"))) goto fail;
    t->cat_rows = ncat / cat_width;
    if (!(t->path_depth = copy(o[5], 4, -1, &t->np, "path_depth"))) goto fail;
    if (!(t->path_base = copy(o[6], 8, t->np, NULL, "path_base"))) goto fail;
    if (!(t->path_group = copy(o[7], 8, t->np, NULL, "path_group"))) goto fail;
    if (!(t->group_cond = copy(o[8], 8, -1, &ngc, "group_cond"))) goto fail;
    t->ng = ngc - 1;
    if (!(t->cond_node = copy(o[9], 8, -1, &t->nc, "cond_node"))) goto fail;
    if (!(t->cond_right = copy(o[10], 1, t->nc, NULL, "cond_right"))) goto fail;
    if (!(t->group_feature = copy(o[11], 8, t->ng < 0 ? 0 : t->ng, NULL, "group_feature")))
        goto fail;
    if (!(t->table = copy(o[12], 8, -1, &t->nt, "table"))) goto fail;
    /* Every index is checked here, so block() cannot read out of bounds. */
    if (t->ng < 0) {
        PyErr_SetString(PyExc_ValueError, "group_cond: empty");
        goto fail;
    }
    for (Py_ssize_t s = 0; s < t->ns; s++) {
        if (t->node_feature[s] < 0 || t->node_feature[s] >= nf || t->cat_row[s] >= t->cat_rows
            || ((t->flags[s] & CATEGORICAL) && t->cat_row[s] < 0)) {
            PyErr_Format(PyExc_ValueError, "split %zd: feature or category row out of range", s);
            goto fail;
        }
    }
    for (Py_ssize_t c = 0; c < t->nc; c++) {
        if (t->cond_node[c] < 0 || t->cond_node[c] >= t->ns || t->cond_right[c] > 1) {
            PyErr_Format(PyExc_ValueError, "condition %zd: out of range", c);
            goto fail;
        }
    }
    for (Py_ssize_t g = 0; g < t->ng; g++) {
        if (t->group_cond[g] < 0 || t->group_cond[g] > t->group_cond[g + 1] ||
            t->group_cond[g + 1] > t->nc || t->group_feature[g] < 0 || t->group_feature[g] >= nf) {
            PyErr_Format(PyExc_ValueError, "group %zd: out of range", g);
            goto fail;
        }
    }
    for (Py_ssize_t p = 0; p < t->np; p++) {
        int32_t d = t->path_depth[p];
        if (d < 1 || d > 16 || t->path_group[p] < 0 || t->path_group[p] + d > t->ng ||
            t->path_base[p] < 0 || t->path_base[p] + ((int64_t)d << d) > t->nt) {
            PyErr_Format(PyExc_ValueError, "path %zd: out of range", p);
            goto fail;
        }
    }
    PyObject *capsule = PyCapsule_New(t, "leadscore.treeshap", capsule_free);
    if (capsule == NULL) goto fail;
    return capsule;
fail:
    tables_free(t);
    return NULL;
}

/* block(handle, X, out, n_rows): X float64 (n_rows, n_features), C order; out float64
 * (n_rows, n_features + 1), C order: each row's contributions are added to its first
 * n_features columns (the last one, the base value, is the caller's). */
static PyObject *block(PyObject *self, PyObject *args) {
    PyObject *handle, *ox, *oo;
    Py_ssize_t n;
    if (!PyArg_ParseTuple(args, "OOOn", &handle, &ox, &oo, &n)) return NULL;
    tables_t *t = PyCapsule_GetPointer(handle, "leadscore.treeshap");
    if (t == NULL) return NULL;
    Py_buffer bx, bo;
    if (PyObject_GetBuffer(ox, &bx, PyBUF_C_CONTIGUOUS) < 0) return NULL;
    if (PyObject_GetBuffer(oo, &bo, PyBUF_C_CONTIGUOUS | PyBUF_WRITABLE) < 0) {
        PyBuffer_Release(&bx);
        return NULL;
    }
    PyObject *result = NULL;
    unsigned char *left = NULL;
    double *acc = NULL;
    const Py_ssize_t nf = t->nf, ns = t->ns, np_ = t->np, cat_width = t->cat_width;
    if (n < 0 || bx.len != (Py_ssize_t)sizeof(double) * n * nf ||
        bo.len != (Py_ssize_t)sizeof(double) * n * (nf + 1)) {
        PyErr_SetString(PyExc_ValueError, "X or out: not (n_rows, n_features[+1]) float64");
        goto done;
    }
    const double *X = bx.buf;
    double *out = bo.buf;
    const int64_t *node_feature = t->node_feature, *cat_row = t->cat_row,
                  *path_base = t->path_base, *path_group = t->path_group,
                  *group_cond = t->group_cond, *cond_node = t->cond_node,
                  *group_feature = t->group_feature;
    const double *threshold = t->threshold, *table = t->table;
    const uint8_t *flags = t->flags, *cat_left = t->cat_left, *cond_right = t->cond_right;
    const int32_t *path_depth = t->path_depth;

    /* Rows in blocks of BLOCK, each step over the whole block: the split decisions and a
     * path's "follows" bits are byte arrays the compiler vectorises, a path's table (2^d x d
     * numbers) is read for the block while it is in cache, and the sums go to a
     * feature-major block, added to ``out`` at the end. Row by row the same work was ~50 us
     * a row (register spills, a cache miss per path); this way ~12. */
    left = calloc((ns ? (size_t)ns : 1) * BLOCK, 1);
    acc = malloc(sizeof(double) * (size_t)(nf ? nf : 1) * BLOCK);
    if (left == NULL || acc == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    {
    unsigned char fol[BLOCK];
    uint16_t pat[BLOCK]; /* d <= 16 (PathTables refuses deeper paths) */
    for (Py_ssize_t r0 = 0; r0 < n; r0 += BLOCK) {
        Py_ssize_t nb = n - r0 < BLOCK ? n - r0 : BLOCK;
        Py_ssize_t nv = (nb + 15) & ~(Py_ssize_t)15; /* a multiple of 16: vector-sized loops */
        for (Py_ssize_t r = 0; r < nb; r++) {
            const double *x = X + (r0 + r) * nf;
            for (Py_ssize_t s = 0; s < ns; s++) {
                double fv = x[node_feature[s]];
                if (fabs(fv) <= ZERO) fv = 0.0;
                int nan = isnan(fv);
                uint8_t f = flags[s];
                unsigned char go;
                if (f & CATEGORICAL) {
                    go = 0;
                    if (!nan) {
                        double iv = trunc(fv);
                        if (iv >= 0 && iv < (double)cat_width)
                            go = cat_left[cat_row[s] * cat_width + (Py_ssize_t)iv] != 0;
                    }
                } else {
                    double v = (nan && !(f & NAN_MISSING)) ? 0.0 : fv;
                    int missing = ((f & ZERO_MISSING) && fabs(v) <= ZERO) ||
                                  ((f & NAN_MISSING) && nan);
                    go = (unsigned char)(missing ? ((f & DEFAULT_LEFT) != 0) : (v <= threshold[s]));
                }
                left[s * BLOCK + r] = go;
            }
        }
        if (nb < SCALAR_ROWS) {
            /* A few rows: one at a time, without branches on the data (a "break" on the
             * first split not followed mispredicted about every other time). */
            for (Py_ssize_t r = 0; r < nb; r++) {
                double *o_row = out + (r0 + r) * (nf + 1);
                for (Py_ssize_t p = 0; p < np_; p++) {
                    const int32_t d = path_depth[p];
                    const int64_t g0 = path_group[p];
                    unsigned pattern = 0;
                    for (int32_t k = 0; k < d; k++) {
                        unsigned char f = 1;
                        for (int64_t c = group_cond[g0 + k]; c < group_cond[g0 + k + 1]; c++)
                            f &= (unsigned char)(left[cond_node[c] * BLOCK + r] ^ cond_right[c]);
                        pattern |= (unsigned)f << k;
                    }
                    const double *tp = table + path_base[p] + (Py_ssize_t)pattern * d;
                    for (int32_t k = 0; k < d; k++) o_row[group_feature[g0 + k]] += tp[k];
                }
            }
            continue;
        }
        memset(acc, 0, sizeof(double) * (size_t)nf * BLOCK);
        for (Py_ssize_t p = 0; p < np_; p++) {
            const int32_t d = path_depth[p];
            const int64_t g0 = path_group[p];
            const double *t0 = table + path_base[p];
            for (Py_ssize_t r = 0; r < nv; r++) pat[r] = 0;
            for (int32_t k = 0; k < d; k++) {
                /* The row follows the path on this feature: the path's way at each of its
                 * splits on it (left != the path's "right"). */
                for (Py_ssize_t r = 0; r < nv; r++) fol[r] = 1;
                for (int64_t c = group_cond[g0 + k]; c < group_cond[g0 + k + 1]; c++) {
                    const unsigned char *l = left + cond_node[c] * BLOCK;
                    const unsigned char right = cond_right[c];
                    for (Py_ssize_t r = 0; r < nv; r++) fol[r] &= (unsigned char)(l[r] ^ right);
                }
                for (Py_ssize_t r = 0; r < nv; r++) pat[r] |= (uint16_t)(fol[r] << k);
            }
            for (int32_t k = 0; k < d; k++) {
                double *a = acc + group_feature[g0 + k] * BLOCK;
                const double *tk = t0 + k;
                for (Py_ssize_t r = 0; r < nb; r++) a[r] += tk[(Py_ssize_t)pat[r] * d];
            }
        }
        for (Py_ssize_t r = 0; r < nb; r++) {
            double *o_row = out + (r0 + r) * (nf + 1);
            for (Py_ssize_t f = 0; f < nf; f++) o_row[f] += acc[f * BLOCK + r];
        }
    }
    }
    result = Py_None;
    Py_INCREF(result);
done:
    free(left);
    free(acc);
    PyBuffer_Release(&bx);
    PyBuffer_Release(&bo);
    return result;
}

static PyMethodDef methods[] = {
    {"prepare", prepare, METH_VARARGS, "Copy and check PathTables' structure (see the C source)."},
    {"block", block, METH_VARARGS, "Add the TreeSHAP contributions of rows (see the C source)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_treeshap",
                                    "TreeSHAP tables, per row in C (models/treeshap.py).", -1,
                                    methods};

PyMODINIT_FUNC PyInit__treeshap(void) { return PyModule_Create(&module); }
