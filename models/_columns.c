/* The feature rows of many leads in C: what models/columns.py's feature_rows computes with
 * numpy, and models/features.py's features() one lead at a time (the reference), every
 * column (the profile's category codes through dicts built from the vocabularies).
 *
 * Why: with numpy the batch costs a fixed ~40 calls (each a few microseconds on small
 * arrays) plus building arrays from each lead's Python lists, so a batch of 20 leads cost
 * ~27 CPU-us a lead and only large batches came near 11. Here each lead's lists are read
 * once, in place: a couple of microseconds a lead at any batch size.
 *
 * Bit for bit the reference's numbers (tests/unit/test_models_columns.py compares every
 * row, NaNs and signs included): the same operations in the same order on doubles. Sums of
 * event counts are sums of whole numbers, exact in any order; Python's float floor division
 * (``at // DAY``) is restated as CPython computes it; ``2.0 ** x`` is C's pow, as in CPython.
 *
 * Built by setuptools as an optional extension (setup.py): without a C compiler the import
 * fails and models/columns.py keeps its numpy code. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "_pyfloat.h"

static const double DAY = 86400.0;

#define MAX_WIN 16
#define MAX_CH 64
#define MAX_NH 8
#define N_T 13 /* first_case last_pricing first_pricing last_demo last_email_click last_login
                  last first first_demo signup first_integration trial_started lost */
#define N_M 7  /* delivered bounce_hard unsubscribed teammates tickets session_seconds
                  sessions_ended */
#define N_C 5  /* email_open email_click pricing_view page_view session */
#define N_P 8  /* profile columns */
#define N_CODED 6

typedef struct {
    Py_ssize_t nw, nwin, nk, ngroups, nh, ncols, n_eng, n_int;
    int64_t lo[MAX_WIN], hi[MAX_WIN];
    Py_ssize_t eng[MAX_CH], intent[MAX_CH];
    double half_lives[MAX_NH];
    PyObject *half_lives_obj;
    Py_ssize_t t[N_T], m[N_M], c[N_C];
    /* The profile's columns: field names (employee_count, revenue_band, seniority,
     * department, industry, country, funding_round, funding_date) and, for the six coded
     * ones, a dict label -> code and the code of a label not in it (NaN or "other"). */
    PyObject *prof_keys[N_P];
    PyObject *codes[N_CODED];
    double unknown[N_CODED];
} spec_t;

static PyObject *s_buckets, *s_totals, *s_decay, *s_decay_ref, *s_half_lives, *s_ts, *s_misc,
    *s_features, *s_integrations, *s_profile;

static int read_indices(PyObject *seq, Py_ssize_t *out, Py_ssize_t n, Py_ssize_t limit,
                        const char *what) {
    if (!PyTuple_Check(seq) || PyTuple_GET_SIZE(seq) != n) {
        PyErr_Format(PyExc_ValueError, "spec: %s must be a tuple of %zd", what, n);
        return -1;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        Py_ssize_t v = PyLong_AsSsize_t(PyTuple_GET_ITEM(seq, i));
        if (v == -1 && PyErr_Occurred()) return -1;
        if (v < 0 || v >= limit) {
            PyErr_Format(PyExc_ValueError, "spec: %s index %zd out of range", what, v);
            return -1;
        }
        out[i] = v;
    }
    return 0;
}

static int read_profile_spec(PyObject *keys, PyObject *coded, spec_t *s) {
    if (PyTuple_GET_SIZE(keys) != N_P || PyTuple_GET_SIZE(coded) != N_CODED) {
        PyErr_SetString(PyExc_ValueError, "spec: profile keys or codes of the wrong size");
        return -1;
    }
    for (int i = 0; i < N_P; i++) s->prof_keys[i] = PyTuple_GET_ITEM(keys, i);
    for (int i = 0; i < N_CODED; i++) {
        PyObject *pair = PyTuple_GET_ITEM(coded, i), *table;
        if (!PyArg_ParseTuple(pair, "O!d", &PyDict_Type, &table, &s->unknown[i])) return -1;
        s->codes[i] = table;
    }
    return 0;
}

static int read_spec(PyObject *spec, spec_t *s) {
    /* (lo, hi, nk, engaged, intent, half_lives, ngroups, t_idx, m_idx, c_idx, nt, nm, ncols,
     *  profile keys, ((codes, unknown) x 6)) */
    PyObject *lo, *hi, *eng, *intent, *hl, *ti, *mi, *ci, *pk, *pc;
    Py_ssize_t nt, nm;
    if (!PyArg_ParseTuple(spec, "O!O!nO!O!O!nO!O!O!nnnO!O!", &PyTuple_Type, &lo, &PyTuple_Type,
                          &hi, &s->nk, &PyTuple_Type, &eng, &PyTuple_Type, &intent,
                          &PyTuple_Type, &hl, &s->ngroups, &PyTuple_Type, &ti, &PyTuple_Type,
                          &mi, &PyTuple_Type, &ci, &nt, &nm, &s->ncols, &PyTuple_Type, &pk,
                          &PyTuple_Type, &pc))
        return -1;
    if (read_profile_spec(pk, pc, s) < 0) return -1;
    s->nwin = PyTuple_GET_SIZE(lo);
    s->nw = s->nwin - 2;
    s->nh = PyTuple_GET_SIZE(hl);
    s->n_eng = PyTuple_GET_SIZE(eng);
    s->n_int = PyTuple_GET_SIZE(intent);
    if (s->nw < 0 || s->nwin > MAX_WIN || PyTuple_GET_SIZE(hi) != s->nwin || s->nk <= 0 ||
        s->nk > MAX_CH || s->nh <= 0 || s->nh > MAX_NH || s->n_eng > MAX_CH ||
        s->n_int > MAX_CH || s->ngroups <= 0 || nt <= 0 || nm <= 0) {
        PyErr_SetString(PyExc_ValueError, "spec: sizes out of range");
        return -1;
    }
    for (Py_ssize_t w = 0; w < s->nwin; w++) {
        s->lo[w] = PyLong_AsLongLong(PyTuple_GET_ITEM(lo, w));
        s->hi[w] = PyLong_AsLongLong(PyTuple_GET_ITEM(hi, w));
    }
    if (PyErr_Occurred()) return -1;
    for (Py_ssize_t j = 0; j < s->nh; j++) {
        s->half_lives[j] = PyFloat_AsDouble(PyTuple_GET_ITEM(hl, j));
        if (s->half_lives[j] == -1.0 && PyErr_Occurred()) return -1;
    }
    s->half_lives_obj = hl;
    if (read_indices(eng, s->eng, s->n_eng, s->nk, "engaged") < 0 ||
        read_indices(intent, s->intent, s->n_int, s->nk, "intent") < 0 ||
        read_indices(ti, s->t, N_T, nt, "timestamps") < 0 ||
        read_indices(mi, s->m, N_M, nm, "misc") < 0 ||
        read_indices(ci, s->c, N_C, s->nk, "channels") < 0)
        return -1;
    if (s->ncols != s->nw * s->nk + s->nk + s->ngroups * s->nh + 31 + N_P) {
        PyErr_SetString(PyExc_ValueError, "spec: the row width is not what the columns need");
        return -1;
    }
    return 0;
}

/* A list of exactly n numbers (ints or floats) into doubles. */
static int read_doubles(PyObject *list, double *out, Py_ssize_t n, const char *what) {
    if (!PyList_Check(list) || PyList_GET_SIZE(list) != n) {
        PyErr_Format(PyExc_ValueError, "lead state: %s must be a list of %zd", what, n);
        return -1;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *v = PyList_GET_ITEM(list, i);
        out[i] = PyFloat_CheckExact(v) ? PyFloat_AS_DOUBLE(v) : PyFloat_AsDouble(v);
        if (out[i] == -1.0 && PyErr_Occurred()) return -1;
    }
    return 0;
}

/* The next daily bucket of a lead's ``buckets`` dict: its age in whole days at ``day_at``
 * and its counts (a list of nk). 1: a bucket, 0: no more, -1: an error (set). */
static int next_bucket(PyObject *buckets, Py_ssize_t *pos, Py_ssize_t nk, int64_t day_at,
                       int64_t *age, PyObject **counts) {
    PyObject *key;
    if (!PyDict_Next(buckets, pos, &key, counts)) return 0;
    long long day = PyLong_AsLongLong(key);
    if (day == -1 && PyErr_Occurred()) return -1;
    if (!PyList_Check(*counts) || PyList_GET_SIZE(*counts) != nk) {
        PyErr_Format(PyExc_ValueError, "lead state: a bucket must be a list of %zd", nk);
        return -1;
    }
    *age = day_at - (int64_t)day;
    return 1;
}

static double days_since(double at, double t) {
    if (t != t) return NAN;
    double d = (at - t) / DAY;
    return d > 0.0 ? d : 0.0; /* max(0.0, d): 0.0 for -0.0 and NaN, as Python's max */
}

static double gap(double a, double b) {
    return (a != a || b != b) ? NAN : (b - a) / DAY;
}

static double rate(double n, double d) { return d > 0 ? n / d : NAN; }

/* ``float(v)``, as Python computes it (ints, floats, numeric strings). */
static int as_float(PyObject *v, double *out) {
    if (PyFloat_CheckExact(v)) {
        *out = PyFloat_AS_DOUBLE(v);
        return 0;
    }
    PyObject *f = PyNumber_Float(v);
    if (f == NULL) return -1;
    *out = PyFloat_AS_DOUBLE(f);
    Py_DECREF(f);
    return 0;
}

/* The profile's 8 columns (models/columns.py _profile_row): each field's value is the first
 * item of its [value, time, hash] entry; a category's code is its index in the vocabulary
 * (the first, as list.index), else the column's code for labels it does not know. */
static int profile_row(const spec_t *s, PyObject *state, double at, double *row) {
    PyObject *prof = PyObject_GetAttr(state, s_profile);
    if (prof == NULL) return -1;
    int rc = -1;
    if (!PyDict_Check(prof)) {
        PyErr_SetString(PyExc_ValueError, "lead state: profile must be a dict");
        goto done;
    }
    PyObject *vals[N_P];
    for (int i = 0; i < N_P; i++) {
        PyObject *x = PyDict_GetItemWithError(prof, s->prof_keys[i]);
        if (x == NULL && PyErr_Occurred()) goto done;
        vals[i] = NULL;
        if (x != NULL && x != Py_None) {
            vals[i] = PySequence_GetItem(x, 0); /* x[0] */
            if (vals[i] == NULL) {
                for (int j = 0; j < i; j++) Py_XDECREF(vals[j]);
                goto done;
            }
            if (vals[i] == Py_None) Py_CLEAR(vals[i]);
        }
    }
    int ok = 1;
    if (vals[0] == NULL) row[0] = NAN;
    else if (as_float(vals[0], &row[0]) < 0) ok = 0;
    for (int i = 0; ok && i < N_CODED; i++) {
        PyObject *v = vals[1 + i];
        if (v == NULL) {
            row[1 + i] = NAN;
            continue;
        }
        PyObject *code = PyDict_GetItemWithError(s->codes[i], v);
        if (code == NULL && PyErr_Occurred()) {
            if (!PyErr_ExceptionMatches(PyExc_TypeError)) { ok = 0; break; }
            PyErr_Clear(); /* unhashable: list.index finds no such label either */
        }
        row[1 + i] = code == NULL ? s->unknown[i] : PyFloat_AsDouble(code);
    }
    if (ok) {
        double f;
        if (vals[7] == NULL) row[7] = NAN;
        else if (as_float(vals[7], &f) < 0) ok = 0;
        else {
            double d = at / DAY - (f - 719163);
            row[7] = d > 0.0 ? d : 0.0;
        }
    }
    for (int i = 0; i < N_P; i++) Py_XDECREF(vals[i]);
    rc = ok ? 0 : -1;
done:
    Py_DECREF(prof);
    return rc;
}

/* One lead: its row, every column. */
static int one_row(const spec_t *s, PyObject *state, double at, double *row) {
    double totals[MAX_CH], ts[64], misc[64], decay[MAX_CH * MAX_NH];
    double sums[MAX_WIN][MAX_CH];
    PyObject *obj = NULL;
    int rc = -1;
    Py_ssize_t nk = s->nk, nt = 0, nm = 0;

    /* Half-lives must be the config's (the reference raises the same ValueError). */
    obj = PyObject_GetAttr(state, s_half_lives);
    if (obj == NULL) return -1;
    int same = PyObject_RichCompareBool(obj, s->half_lives_obj, Py_EQ);
    Py_DECREF(obj);
    if (same < 0) return -1;
    if (!same) {
        PyErr_SetString(PyExc_ValueError, "state half-lives differ from the feature config's");
        return -1;
    }

    /* Windowed counts: every daily bucket whose age (whole days at `at`) is in a window. */
    memset(sums, 0, sizeof(sums));
    int64_t day_at = (int64_t)py_floordiv(at, DAY);
    obj = PyObject_GetAttr(state, s_buckets);
    if (obj == NULL) return -1;
    if (!PyDict_Check(obj)) {
        PyErr_SetString(PyExc_ValueError, "lead state: buckets must be a dict");
        goto done;
    }
    {
        Py_ssize_t pos = 0;
        PyObject *counts;
        int64_t age;
        int more;
        while ((more = next_bucket(obj, &pos, nk, day_at, &age, &counts)) != 0) {
            if (more < 0) goto done;
            for (Py_ssize_t w = 0; w < s->nwin; w++) {
                if (age < s->lo[w] || age >= s->hi[w]) continue;
                for (Py_ssize_t k = 0; k < nk; k++) {
                    PyObject *v = PyList_GET_ITEM(counts, k);
                    double x = PyLong_CheckExact(v) ? PyLong_AsDouble(v) : PyFloat_AsDouble(v);
                    if (x == -1.0 && PyErr_Occurred()) goto done;
                    sums[w][k] += x;
                }
            }
        }
    }
    Py_CLEAR(obj);

    obj = PyObject_GetAttr(state, s_totals);
    if (obj == NULL || read_doubles(obj, totals, nk, "totals") < 0) goto done;
    Py_CLEAR(obj);
    obj = PyObject_GetAttr(state, s_ts);
    if (obj == NULL) goto done;
    nt = PyList_Check(obj) ? PyList_GET_SIZE(obj) : -1;
    if (nt < 0 || nt > 64 || read_doubles(obj, ts, nt, "ts") < 0) {
        if (!PyErr_Occurred()) PyErr_SetString(PyExc_ValueError, "lead state: bad ts");
        goto done;
    }
    Py_CLEAR(obj);
    obj = PyObject_GetAttr(state, s_misc);
    if (obj == NULL) goto done;
    nm = PyList_Check(obj) ? PyList_GET_SIZE(obj) : -1;
    if (nm < 0 || nm > 64 || read_doubles(obj, misc, nm, "misc") < 0) {
        if (!PyErr_Occurred()) PyErr_SetString(PyExc_ValueError, "lead state: bad misc");
        goto done;
    }
    Py_CLEAR(obj);
    for (int i = 0; i < N_T; i++)
        if (s->t[i] >= nt) { PyErr_SetString(PyExc_ValueError, "lead state: short ts"); goto done; }
    for (int i = 0; i < N_M; i++)
        if (s->m[i] >= nm) { PyErr_SetString(PyExc_ValueError, "lead state: short misc"); goto done; }

    Py_ssize_t col = 0;
    for (Py_ssize_t w = 0; w < s->nw; w++)
        for (Py_ssize_t k = 0; k < nk; k++) row[col++] = sums[w][k];
    for (Py_ssize_t k = 0; k < nk; k++) row[col++] = totals[k];

    /* Decayed sums brought forward from the state's reference time to `at`. */
    {
        Py_ssize_t nd = s->ngroups * s->nh;
        obj = PyObject_GetAttr(state, s_decay);
        if (obj == NULL || read_doubles(obj, decay, nd, "decay") < 0) goto done;
        Py_CLEAR(obj);
        obj = PyObject_GetAttr(state, s_decay_ref);
        if (obj == NULL) goto done;
        double ref = PyFloat_AsDouble(obj);
        if (ref == -1.0 && PyErr_Occurred()) goto done;
        Py_CLEAR(obj);
        for (Py_ssize_t g = 0; g < s->ngroups; g++)
            for (Py_ssize_t j = 0; j < s->nh; j++) {
                double v = decay[g * s->nh + j];
                if (ref == ref && at > ref) v *= pow(2.0, -(at - ref) / DAY / s->half_lives[j]);
                row[col++] = v;
            }
    }

    const Py_ssize_t nwk = s->nw; /* this week and the 3 before are the last two windows */
    double eng_now = 0.0, eng_prior = 0.0, int_now = 0.0, int_prior = 0.0, eng_total = 0.0;
    for (Py_ssize_t i = 0; i < s->n_eng; i++) {
        eng_now += sums[nwk][s->eng[i]];
        eng_prior += sums[nwk + 1][s->eng[i]];
        eng_total += totals[s->eng[i]];
    }
    for (Py_ssize_t i = 0; i < s->n_int; i++) {
        int_now += sums[nwk][s->intent[i]];
        int_prior += sums[nwk + 1][s->intent[i]];
    }
    const Py_ssize_t *t = s->t, *m = s->m, *c = s->c;
    double first_case = ts[t[0]], last_pricing = ts[t[1]], first_pricing = ts[t[2]];
    double last_demo = ts[t[3]], last_email_click = ts[t[4]], last_login = ts[t[5]];
    double last = ts[t[6]], first = ts[t[7]], first_demo = ts[t[8]], signup = ts[t[9]];
    double first_integration = ts[t[10]], trial_started = ts[t[11]], lost = ts[t[12]];
    double stage = 0.0;
    if (first_case == first_case) {
        stage = 1.0;
        if (last_pricing == last_pricing && last_pricing >= first_case) {
            stage = 2.0;
            if (last_demo == last_demo && last_demo >= first_pricing && last_demo >= first_case)
                stage = 3.0;
        }
    }
    double delivered = misc[m[0]];
    double opens = totals[c[0]], clicks = totals[c[1]];
    Py_ssize_t n_features, n_integrations;
    obj = PyObject_GetAttr(state, s_features);
    if (obj == NULL || (n_features = PyObject_Size(obj)) < 0) goto done;
    Py_CLEAR(obj);
    obj = PyObject_GetAttr(state, s_integrations);
    if (obj == NULL || (n_integrations = PyObject_Size(obj)) < 0) goto done;
    Py_CLEAR(obj);
    double week = (at - first) / (7 * DAY);

    row[col++] = days_since(at, last_pricing);
    row[col++] = days_since(at, last_email_click);
    row[col++] = days_since(at, last_login);
    row[col++] = days_since(at, last_demo);
    row[col++] = days_since(at, last);
    row[col++] = days_since(at, first);
    row[col++] = eng_now;
    row[col++] = eng_prior;
    row[col++] = (eng_now + 1.0) / (eng_prior / 3.0 + 1.0);
    row[col++] = (int_now + 1.0) / (int_prior / 3.0 + 1.0);
    row[col++] = stage;
    row[col++] = gap(first, first_demo);
    row[col++] = gap(signup, first_integration);
    row[col++] = gap(signup, first_pricing);
    row[col++] = days_since(at, signup);
    row[col++] = days_since(at, trial_started);
    row[col++] = delivered;
    row[col++] = rate(opens, delivered);
    row[col++] = rate(clicks, delivered);
    row[col++] = rate(clicks, opens);
    row[col++] = misc[m[1]];
    row[col++] = misc[m[2]];
    row[col++] = (double)n_features;
    row[col++] = (double)n_integrations;
    row[col++] = misc[m[3]];
    row[col++] = misc[m[4]];
    row[col++] = rate(misc[m[5]] / 60.0, misc[m[6]]);
    row[col++] = days_since(at, lost);
    row[col++] = rate(totals[c[2]], totals[c[3]]);
    row[col++] = rate(totals[c[3]], totals[c[4]]);
    row[col++] = first != first ? 0.0 : eng_total / (week > 1.0 ? week : 1.0);
    if (profile_row(s, state, at, row + col) < 0) goto done;
    rc = 0;
done:
    Py_XDECREF(obj);
    return rc;
}

static PyObject *rows(PyObject *self, PyObject *args) {
    PyObject *states, *spec;
    Py_buffer ats = {0}, out = {0};
    spec_t s;
    if (!PyArg_ParseTuple(args, "Oy*w*O!", &states, &ats, &out, &PyTuple_Type, &spec))
        return NULL;
    PyObject *result = NULL;
    PyObject *seq = PySequence_Fast(states, "states must be a sequence");
    if (seq == NULL) goto done;
    if (read_spec(spec, &s) < 0) goto done;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    if (ats.len != n * (Py_ssize_t)sizeof(double) ||
        out.len != n * s.ncols * (Py_ssize_t)sizeof(double)) {
        PyErr_SetString(PyExc_ValueError, "ats must be n float64, out n x ncols float64");
        goto done;
    }
    const double *a = ats.buf;
    double *o = out.buf;
    PyObject **items = PySequence_Fast_ITEMS(seq);
    for (Py_ssize_t i = 0; i < n; i++)
        if (one_row(&s, items[i], a[i], o + i * s.ncols) < 0) goto done;
    result = Py_NewRef(Py_None);
done:
    Py_XDECREF(seq);
    PyBuffer_Release(&ats);
    PyBuffer_Release(&out);
    return result;
}

/* latest(states, ats, out): models/reasons.py latest_days: per lead and channel, whole days
 * from the day of its ``at`` back to the latest daily bucket with that channel (0 for that
 * day or later), NaN when none has it. */
static PyObject *latest(PyObject *self, PyObject *args) {
    PyObject *states;
    Py_ssize_t nk;
    Py_buffer ats = {0}, out = {0};
    if (!PyArg_ParseTuple(args, "Oy*w*n", &states, &ats, &out, &nk)) return NULL;
    PyObject *result = NULL, *buckets = NULL;
    PyObject *seq = PySequence_Fast(states, "states must be a sequence");
    if (seq == NULL) goto done;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    if (nk <= 0 || nk > MAX_CH || ats.len != n * (Py_ssize_t)sizeof(double) ||
        out.len != n * nk * (Py_ssize_t)sizeof(double)) {
        PyErr_SetString(PyExc_ValueError, "ats must be n float64, out n x channels float64");
        goto done;
    }
    const double *a = ats.buf;
    double *o = out.buf;
    PyObject **items = PySequence_Fast_ITEMS(seq);
    for (Py_ssize_t i = 0; i < n; i++) {
        int64_t least[MAX_CH];
        for (Py_ssize_t k = 0; k < nk; k++) least[k] = INT64_MAX;
        int64_t day_at = (int64_t)py_floordiv(a[i], DAY);
        buckets = PyObject_GetAttr(items[i], s_buckets);
        if (buckets == NULL) goto done;
        if (!PyDict_Check(buckets)) {
            PyErr_SetString(PyExc_ValueError, "lead state: buckets must be a dict");
            goto done;
        }
        Py_ssize_t pos = 0;
        PyObject *counts;
        int64_t age;
        int more;
        while ((more = next_bucket(buckets, &pos, nk, day_at, &age, &counts)) != 0) {
            if (more < 0) goto done;
            if (age < 0) age = 0;
            for (Py_ssize_t k = 0; k < nk; k++) {
                PyObject *v = PyList_GET_ITEM(counts, k);
                long long x; /* the reference reads the counts as int64 */
                if (PyLong_Check(v)) {
                    x = PyLong_AsLongLong(v);
                } else {
                    double d = PyFloat_AsDouble(v);
                    x = (long long)d;
                    if (d == -1.0 && PyErr_Occurred()) x = -1;
                }
                if (x == -1 && PyErr_Occurred()) goto done;
                if (x > 0 && age < least[k]) least[k] = age;
            }
        }
        Py_CLEAR(buckets);
        for (Py_ssize_t k = 0; k < nk; k++)
            o[i * nk + k] = least[k] == INT64_MAX ? NAN : (double)least[k];
    }
    result = Py_NewRef(Py_None);
done:
    Py_XDECREF(buckets);
    Py_XDECREF(seq);
    PyBuffer_Release(&ats);
    PyBuffer_Release(&out);
    return result;
}

static PyMethodDef methods[] = {
    {"latest", latest, METH_VARARGS,
     "latest(states, ats, out, n_channels): fill out (float64, n x n_channels) with the days "
     "since each channel's latest daily bucket (NaN: none)."},
    {"rows", rows, METH_VARARGS,
     "rows(states, ats, out, spec): fill each lead's row of out (float64, n x ncols, "
     "C order)."},
    {NULL, NULL, 0, NULL}};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_columns",
                                    "Feature rows in C (models/columns.py).", -1, methods,
                                    NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit__columns(void) {
    s_buckets = PyUnicode_InternFromString("buckets");
    s_totals = PyUnicode_InternFromString("totals");
    s_decay = PyUnicode_InternFromString("decay");
    s_decay_ref = PyUnicode_InternFromString("decay_ref");
    s_half_lives = PyUnicode_InternFromString("half_lives");
    s_ts = PyUnicode_InternFromString("ts");
    s_misc = PyUnicode_InternFromString("misc");
    s_features = PyUnicode_InternFromString("features");
    s_integrations = PyUnicode_InternFromString("integrations");
    s_profile = PyUnicode_InternFromString("profile");
    if (!s_buckets || !s_totals || !s_decay || !s_decay_ref || !s_half_lives || !s_ts ||
        !s_misc || !s_features || !s_integrations || !s_profile)
        return NULL;
    return PyModule_Create(&module);
}
