/* Folding an activity event into a lead's state in C: what models/state.py's fold_into does
 * for every event that is not a profile update, an outcome or a rep's verdict, and its
 * id_hash (BLAKE2b, 8 bytes, as hashlib computes it).
 *
 * Why: the fold ran for every event the worker consumes, in Python: ~11% of the scorer's
 * processing at 10,000 events/s and ~8% when every event is scored and explained, a fifth of
 * it building a hashlib object per event id. Here the state's lists and dicts are updated in
 * place, with the same Python objects (ints stay ints, floats floats).
 *
 * The Python code stays the reference (tests/unit/test_models_state_native.py folds
 * simulated populations of both generators, duplicates, late events and bursts both ways
 * and compares the states byte for byte). An event this code does not handle, or one whose
 * remembered id would make the state prune its table of recent ids, is left untouched and
 * reported (None) so Python folds it: that keeps the rare paths in one place.
 *
 * The layout (channels, timestamps, totals, decay groups, limits) is models/state.py's;
 * ``layout()`` returns this file's copy and models/state.py refuses the module when they
 * differ. Built by setuptools as an optional extension (setup.py). */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "_pyfloat.h"

static const double DAY = 86400.0;
#define RING_DAYS 35
#define MAX_RECENT_IDS 256
#define MAX_DISTINCT 64
#define K 17
#define N_TS 16
#define N_MISC 12
#define N_GROUPS 4
#define MAX_NH 8

static const char *CHANNELS[K] = {
    "page_view", "pricing_view", "case_study", "competitor_view", "docs_view",
    "content_download", "whitepaper_download", "form_submit", "demo_request", "session",
    "site_search", "email_open", "email_click", "email_reply", "login", "feature_used",
    "product_other"};
enum { C_PAGE, C_PRICING, C_CASE, C_COMPETITOR, C_DOCS, C_DOWNLOAD, C_WHITEPAPER, C_FORM,
       C_DEMO, C_SESSION, C_SEARCH, C_OPEN, C_CLICK, C_REPLY, C_LOGIN, C_FEATURE, C_OTHER };
static const char *TS_NAMES[N_TS] = {
    "first", "last", "first_pricing", "last_pricing", "first_case", "first_demo",
    "last_demo", "last_email_click", "last_login", "signup", "first_integration",
    "converted", "disqualified", "lost", "trial_started", "first_web"};
enum { T_FIRST, T_LAST, T_FIRST_PRICING, T_LAST_PRICING, T_FIRST_CASE, T_FIRST_DEMO,
       T_LAST_DEMO, T_LAST_CLICK, T_LAST_LOGIN, T_SIGNUP, T_FIRST_INTEGRATION };
#define T_TRIAL 14
#define T_FIRST_WEB 15
static const char *MISC_NAMES[N_MISC] = {
    "delivered", "bounce_hard", "bounce_soft", "unsubscribed", "teammates", "tickets",
    "urgent_tickets", "session_seconds", "sessions_ended", "events", "duplicates", "late"};
enum { M_DELIVERED, M_HARD, M_SOFT, M_UNSUB, M_TEAM, M_TICKETS, M_URGENT, M_SECONDS,
       M_ENDED, M_EVENTS, M_DUPLICATES, M_LATE };
static const char *GROUP_NAMES[N_GROUPS] = {"web", "intent", "email", "product"};
/* The decay group of each channel (-1: none); each channel feeds at most one. */
static const int GROUP_OF[K] = {0, 1, -1, 1, -1, 0, -1, 0, 1, -1, 0, 2, 2, 2, 3, 3, 3};

/* Event types, by code. SPECIAL: folded by Python. */
enum { E_OTHER, E_SPECIAL, E_PAGE, E_DOWNLOAD, E_CLICK, E_FORM, E_DEMO, E_SESSION_START,
       E_SEARCH, E_OPEN, E_REPLY, E_LOGIN, E_FEATURE, E_INTEGRATION, E_INVITE, E_TICKET,
       E_SESSION_END, E_IDENTIFY, E_DELIVERED, E_BOUNCE, E_UNSUB, E_SIGNUP, E_TRIAL, N_E };
static const struct { const char *name; int code; } TYPES[] = {
    {"rep_feedback", E_SPECIAL}, {"profile_update", E_SPECIAL}, {"converted", E_SPECIAL},
    {"disqualified", E_SPECIAL}, {"lost", E_SPECIAL}, {"page_view", E_PAGE},
    {"content_download", E_DOWNLOAD}, {"email_click", E_CLICK}, {"form_submit", E_FORM},
    {"demo_request", E_DEMO}, {"session_start", E_SESSION_START},
    {"site_search", E_SEARCH}, {"email_open", E_OPEN}, {"email_reply", E_REPLY},
    {"login", E_LOGIN}, {"feature_used", E_FEATURE},
    {"integration_connected", E_INTEGRATION}, {"teammate_invited", E_INVITE},
    {"support_ticket", E_TICKET}, {"session_end", E_SESSION_END}, {"identify", E_IDENTIFY},
    {"email_delivered", E_DELIVERED}, {"email_bounce", E_BOUNCE},
    {"email_unsubscribe", E_UNSUB}, {"signup", E_SIGNUP}, {"trial_started", E_TRIAL}};
/* models/state.py's _WEB_TYPES. */
static int is_web(int e) {
    return e == E_PAGE || e == E_SESSION_START || e == E_SESSION_END || e == E_DOWNLOAD ||
           e == E_FORM || e == E_DEMO || e == E_SEARCH || e == E_IDENTIFY;
}

static PyObject *type_codes; /* dict: type name -> code */
static PyObject *s_pricing, *s_case_study, *s_competitor, *s_docs, *s_whitepaper, *s_hard,
    *s_high, *s_urgent, *s_empty, *one_int;
static PyObject *a_buckets, *a_totals, *a_misc, *a_ts, *a_decay, *a_decay_ref, *a_half_lives,
    *a_recent, *a_features, *a_integrations;

/* ------------------------------------------------------------------ BLAKE2b (RFC 7693) */

static const uint64_t IV[8] = {
    0x6A09E667F3BCC908ULL, 0xBB67AE8584CAA73BULL, 0x3C6EF372FE94F82BULL,
    0xA54FF53A5F1D36F1ULL, 0x510E527FADE682D1ULL, 0x9B05688C2B3E6C1FULL,
    0x1F83D9ABFB41BD6BULL, 0x5BE0CD19137E2179ULL};
static const uint8_t SIGMA[12][16] = {
    {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15},
    {14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3},
    {11, 8, 12, 0, 5, 2, 15, 13, 10, 14, 3, 6, 7, 1, 9, 4},
    {7, 9, 3, 1, 13, 12, 11, 14, 2, 6, 5, 10, 4, 0, 15, 8},
    {9, 0, 5, 7, 2, 4, 10, 15, 14, 1, 11, 12, 6, 8, 3, 13},
    {2, 12, 6, 10, 0, 11, 8, 3, 4, 13, 7, 5, 15, 14, 1, 9},
    {12, 5, 1, 15, 14, 13, 4, 10, 0, 7, 6, 3, 9, 2, 8, 11},
    {13, 11, 7, 14, 12, 1, 3, 9, 5, 0, 15, 4, 8, 6, 2, 10},
    {6, 15, 14, 9, 11, 3, 0, 8, 12, 2, 13, 7, 1, 4, 10, 5},
    {10, 2, 8, 4, 7, 6, 1, 5, 15, 11, 9, 14, 3, 12, 13, 0},
    {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15},
    {14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3}};

#define ROTR(x, n) (((x) >> (n)) | ((x) << (64 - (n))))
#define G(a, b, c, d, x, y)              \
    do {                                 \
        v[a] = v[a] + v[b] + (x);        \
        v[d] = ROTR(v[d] ^ v[a], 32);    \
        v[c] = v[c] + v[d];              \
        v[b] = ROTR(v[b] ^ v[c], 24);    \
        v[a] = v[a] + v[b] + (y);        \
        v[d] = ROTR(v[d] ^ v[a], 16);    \
        v[c] = v[c] + v[d];              \
        v[b] = ROTR(v[b] ^ v[c], 63);    \
    } while (0)

static void compress(uint64_t h[8], const uint8_t block[128], uint64_t t, int last) {
    uint64_t v[16], m[16];
    for (int i = 0; i < 8; i++) {
        v[i] = h[i];
        v[i + 8] = IV[i];
    }
    v[12] ^= t;
    if (last) v[14] = ~v[14];
    for (int i = 0; i < 16; i++) {
        uint64_t w = 0;
        for (int b = 7; b >= 0; b--) w = (w << 8) | block[8 * i + b];
        m[i] = w;
    }
    for (int r = 0; r < 12; r++) {
        const uint8_t *s = SIGMA[r];
        G(0, 4, 8, 12, m[s[0]], m[s[1]]);
        G(1, 5, 9, 13, m[s[2]], m[s[3]]);
        G(2, 6, 10, 14, m[s[4]], m[s[5]]);
        G(3, 7, 11, 15, m[s[6]], m[s[7]]);
        G(0, 5, 10, 15, m[s[8]], m[s[9]]);
        G(1, 6, 11, 12, m[s[10]], m[s[11]]);
        G(2, 7, 8, 13, m[s[12]], m[s[13]]);
        G(3, 4, 9, 14, m[s[14]], m[s[15]]);
    }
    for (int i = 0; i < 8; i++) h[i] ^= v[i] ^ v[i + 8];
}

/* BLAKE2b with an 8-byte digest, read little-endian: hashlib.blake2b(data, digest_size=8). */
static uint64_t blake2b_8(const uint8_t *data, size_t n) {
    uint64_t h[8];
    uint8_t block[128];
    uint64_t t = 0;
    memcpy(h, IV, sizeof h);
    h[0] ^= 0x01010000ULL ^ 8; /* depth 1, fanout 1, no key, 8-byte digest */
    while (n > 128) {
        t += 128;
        compress(h, data, t, 0);
        data += 128;
        n -= 128;
    }
    memset(block, 0, sizeof block);
    if (n) memcpy(block, data, n);
    t += n;
    compress(h, block, t, 1);
    return h[0];
}

/* models.state.id_hash: the UTF-8 bytes' BLAKE2b-8, little-endian, shifted right once. */
static PyObject *hash_of(PyObject *s) {
    Py_ssize_t n;
    const char *u = PyUnicode_AsUTF8AndSize(s, &n);
    if (u == NULL) return NULL;
    return PyLong_FromUnsignedLongLong(blake2b_8((const uint8_t *)u, (size_t)n) >> 1);
}

static PyObject *id_hash(PyObject *self, PyObject *s) {
    if (!PyUnicode_Check(s)) {
        PyErr_SetString(PyExc_TypeError, "id_hash: a str is required");
        return NULL;
    }
    return hash_of(s);
}

/* ------------------------------------------------------------------ the fold */

/* list[i] += 1 with Python's semantics (an int stays an int, a float stays a float). */
static int add_one(PyObject *list, Py_ssize_t i) {
    PyObject *cur = PyList_GET_ITEM(list, i);
    PyObject *nv;
    if (PyFloat_CheckExact(cur))
        nv = PyFloat_FromDouble(PyFloat_AS_DOUBLE(cur) + 1.0);
    else
        nv = PyNumber_Add(cur, one_int);
    if (nv == NULL) return -1;
    PyList_SET_ITEM(list, i, nv);
    Py_DECREF(cur);
    return 0;
}

/* list[i] += x for a float x. */
static int add_float(PyObject *list, Py_ssize_t i, double x) {
    PyObject *cur = PyList_GET_ITEM(list, i);
    PyObject *nv;
    if (PyFloat_CheckExact(cur)) {
        nv = PyFloat_FromDouble(PyFloat_AS_DOUBLE(cur) + x);
    } else {
        PyObject *xo = PyFloat_FromDouble(x);
        if (xo == NULL) return -1;
        nv = PyNumber_Add(cur, xo);
        Py_DECREF(xo);
    }
    if (nv == NULL) return -1;
    PyList_SET_ITEM(list, i, nv);
    Py_DECREF(cur);
    return 0;
}

/* The value of a list item as a double (the state's timestamps and decayed sums). */
static int item_double(PyObject *list, Py_ssize_t i, double *out) {
    PyObject *o = PyList_GET_ITEM(list, i);
    double v = PyFloat_CheckExact(o) ? PyFloat_AS_DOUBLE(o) : PyFloat_AsDouble(o);
    if (v == -1.0 && PyErr_Occurred()) return -1;
    *out = v;
    return 0;
}

static void set_item(PyObject *list, Py_ssize_t i, PyObject *v) {
    PyObject *old = PyList_GET_ITEM(list, i);
    Py_INCREF(v);
    PyList_SET_ITEM(list, i, v);
    Py_DECREF(old);
}

/* _tmin / _tmax: set ts[i] to t when it is unset (NaN) or t is earlier (later: later). */
static int tset(PyObject *tsv, Py_ssize_t i, double t, PyObject *t_obj, int later) {
    double cur;
    if (item_double(tsv, i, &cur) < 0) return -1;
    if (cur != cur || (later ? t > cur : t < cur)) set_item(tsv, i, t_obj);
    return 0;
}
#define tmin(tsv, i, t, t_obj) tset(tsv, i, t, t_obj, 0)
#define tmax(tsv, i, t, t_obj) tset(tsv, i, t, t_obj, 1)

/* CPython's float ``**`` for a base of 2.0 and a finite, non-zero exponent: C's pow. */
static double pow2(double x) { return x == 0.0 ? 1.0 : pow(2.0, x); }

static PyObject *attr_list(PyObject *s, PyObject *name, Py_ssize_t n) {
    PyObject *o = PyObject_GetAttr(s, name);
    if (o == NULL) return NULL;
    if (!PyList_CheckExact(o) || (n >= 0 && PyList_GET_SIZE(o) != n)) {
        PyErr_Format(PyExc_TypeError, "fold: state.%U is not a list of %zd", name, n);
        Py_DECREF(o);
        return NULL;
    }
    return o;
}

/* ``sub == text`` for a sub that is None or a str (fold checks). */
#define SUB_IS(text) (sub != Py_None && PyUnicode_Compare(sub, (text)) == 0)

/* The channels an event counts in (models/state.py _channels); returns how many. */
static int channels_of(int e, PyObject *sub, int out[2]) {
    switch (e) {
    case E_PAGE:
        out[0] = C_PAGE;
        if (SUB_IS(s_pricing)) out[1] = C_PRICING;
        else if (SUB_IS(s_case_study)) out[1] = C_CASE;
        else if (SUB_IS(s_competitor)) out[1] = C_COMPETITOR;
        else if (SUB_IS(s_docs)) out[1] = C_DOCS;
        else return 1;
        return 2;
    case E_DOWNLOAD:
        out[0] = C_DOWNLOAD;
        if (SUB_IS(s_case_study)) out[1] = C_CASE;
        else if (SUB_IS(s_whitepaper)) out[1] = C_WHITEPAPER;
        else return 1;
        return 2;
    case E_CLICK:
        out[0] = C_CLICK;
        if (SUB_IS(s_pricing)) out[1] = C_PRICING;
        else if (SUB_IS(s_case_study)) out[1] = C_CASE;
        else return 1;
        return 2;
    case E_FORM: out[0] = C_FORM; return 1;
    case E_DEMO: out[0] = C_DEMO; return 1;
    case E_SESSION_START: out[0] = C_SESSION; return 1;
    case E_SEARCH: out[0] = C_SEARCH; return 1;
    case E_OPEN: out[0] = C_OPEN; return 1;
    case E_REPLY: out[0] = C_REPLY; return 1;
    case E_LOGIN: out[0] = C_LOGIN; return 1;
    case E_FEATURE: out[0] = C_FEATURE; return 1;
    case E_INTEGRATION: case E_INVITE: case E_TICKET: out[0] = C_OTHER; return 1;
    default: return 0;
    }
}

/* _add_capped(set, id_hash(sub or "") & 0xFFFFFFFF, MAX_DISTINCT). */
static int add_capped(PyObject *s, PyObject *name, PyObject *sub) {
    PyObject *st = PyObject_GetAttr(s, name);
    if (st == NULL) return -1;
    int rc = 0;
    if (!PySet_Check(st)) {
        PyErr_Format(PyExc_TypeError, "fold: state.%U is not a set", name);
        rc = -1;
    } else if (PySet_GET_SIZE(st) < MAX_DISTINCT) {
        /* sub is None or a str (fold checks): ``sub or ""`` */
        PyObject *key = sub != Py_None && PyUnicode_GET_LENGTH(sub) ? sub : s_empty;
        PyObject *h = hash_of(key);
        if (h == NULL) {
            rc = -1;
        } else {
            PyObject *masked = PyLong_FromUnsignedLongLong(
                PyLong_AsUnsignedLongLong(h) & 0xFFFFFFFFULL);
            Py_DECREF(h);
            rc = masked == NULL ? -1 : PySet_Add(st, masked);
            Py_XDECREF(masked);
        }
    }
    Py_DECREF(st);
    return rc;
}

/* fold(state, obs, lateness_seconds) -> True (folded), False (a duplicate or too late) or
 * None (not handled here, state untouched: fold it in Python). */
static PyObject *fold(PyObject *self, PyObject *args) {
    PyObject *s, *o;
    double lateness;
    if (!PyArg_ParseTuple(args, "OOd", &s, &o, &lateness)) return NULL;
    if (!PyTuple_Check(o) || PyTuple_GET_SIZE(o) < 6) {
        PyErr_SetString(PyExc_TypeError, "fold: obs must be an Obs");
        return NULL;
    }
    PyObject *event_id = PyTuple_GET_ITEM(o, 0), *ts_obj = PyTuple_GET_ITEM(o, 1),
             *type = PyTuple_GET_ITEM(o, 2), *sub = PyTuple_GET_ITEM(o, 3),
             *num_obj = PyTuple_GET_ITEM(o, 4);
    /* Fields of other types than observe() gives: Python's semantics, in Python. */
    if (!PyUnicode_Check(event_id) || !PyFloat_CheckExact(ts_obj) || !PyUnicode_Check(type) ||
        (sub != Py_None && !PyUnicode_CheckExact(sub)) || !PyFloat_CheckExact(num_obj))
        Py_RETURN_NONE;
    PyObject *code_obj = PyDict_GetItemWithError(type_codes, type);
    if (code_obj == NULL && PyErr_Occurred()) return NULL;
    int e = code_obj == NULL ? E_OTHER : (int)PyLong_AsLong(code_obj);
    if (e == E_SPECIAL) Py_RETURN_NONE;
    double ts = PyFloat_AS_DOUBLE(ts_obj);

    PyObject *result = NULL, *h = NULL, *tsv = NULL, *misc = NULL, *recent = NULL,
             *buckets = NULL, *totals = NULL, *decay = NULL, *half_lives = NULL,
             *ref_obj = NULL;
    if ((h = hash_of(event_id)) == NULL) goto done;
    if ((tsv = attr_list(s, a_ts, N_TS)) == NULL) goto done;
    if ((misc = attr_list(s, a_misc, N_MISC)) == NULL) goto done;
    double last;
    if (item_double(tsv, T_LAST, &last) < 0) goto done;
    if (last == last && ts < last - lateness) {
        if (add_one(misc, M_LATE) < 0) goto done;
        result = Py_False;
        goto done;
    }
    if ((recent = PyObject_GetAttr(s, a_recent)) == NULL) goto done;
    if (!PyDict_CheckExact(recent)) {
        PyErr_SetString(PyExc_TypeError, "fold: state.recent is not a dict");
        goto done;
    }
    int seen = PyDict_Contains(recent, h);
    if (seen < 0) goto done;
    if (seen) {
        if (add_one(misc, M_DUPLICATES) < 0) goto done;
        result = Py_False;
        goto done;
    }
    if (PyDict_GET_SIZE(recent) >= MAX_RECENT_IDS) {
        result = Py_None; /* remembering it prunes the table: Python does that */
        goto done;
    }
    int chans[2];
    int nch = channels_of(e, sub, chans);
    double num = PyFloat_AS_DOUBLE(num_obj);
    /* Everything that can fail for a reason of the input is checked above; from here on the
     * state is changed. */
    if (PyDict_SetItem(recent, h, ts_obj) < 0) goto done;
    if (add_one(misc, M_EVENTS) < 0) goto done;

    if (nch) {
        if ((buckets = PyObject_GetAttr(s, a_buckets)) == NULL) goto done;
        if ((totals = attr_list(s, a_totals, K)) == NULL) goto done;
        if ((decay = attr_list(s, a_decay, -1)) == NULL) goto done;
        if ((half_lives = PyObject_GetAttr(s, a_half_lives)) == NULL) goto done;
        if (!PyDict_CheckExact(buckets) || !PyTuple_Check(half_lives)) {
            PyErr_SetString(PyExc_TypeError, "fold: state.buckets / half_lives mistyped");
            goto done;
        }
        Py_ssize_t nh = PyTuple_GET_SIZE(half_lives);
        if (nh > MAX_NH || PyList_GET_SIZE(decay) != N_GROUPS * nh) {
            PyErr_SetString(PyExc_ValueError, "fold: state.decay has the wrong length");
            goto done;
        }
        double hl[MAX_NH];
        for (Py_ssize_t j = 0; j < nh; j++) {
            hl[j] = PyFloat_AsDouble(PyTuple_GET_ITEM(half_lives, j));
            if (hl[j] == -1.0 && PyErr_Occurred()) goto done;
        }
        double dayf = py_floordiv(ts, DAY);
        long long day = (long long)dayf;
        long long newest = day;
        if (last == last) {
            long long ld = (long long)py_floordiv(last, DAY);
            if (ld > newest) newest = ld;
        }
        if (day > newest - RING_DAYS) {
            PyObject *dkey = PyLong_FromLongLong(day);
            if (dkey == NULL) goto done;
            PyObject *b = PyDict_GetItemWithError(buckets, dkey);
            if (b == NULL) {
                if (PyErr_Occurred()) {
                    Py_DECREF(dkey);
                    goto done;
                }
                b = PyList_New(K);
                if (b == NULL) {
                    Py_DECREF(dkey);
                    goto done;
                }
                for (int c = 0; c < K; c++) {
                    PyObject *zero = PyLong_FromLong(0);
                    PyList_SET_ITEM(b, c, zero);
                }
                int rc = PyDict_SetItem(buckets, dkey, b);
                Py_DECREF(b); /* the dict holds it */
                if (rc < 0) {
                    Py_DECREF(dkey);
                    goto done;
                }
                /* _prune_buckets(s, newest): drop days <= newest - RING_DAYS. */
                PyObject *old = PyList_New(0), *k, *vv;
                Py_ssize_t pos = 0;
                if (old == NULL) {
                    Py_DECREF(dkey);
                    goto done;
                }
                while (PyDict_Next(buckets, &pos, &k, &vv)) {
                    long long d = PyLong_AsLongLong(k);
                    if (d == -1 && PyErr_Occurred()) break;
                    if (d <= newest - RING_DAYS && PyList_Append(old, k) < 0) break;
                }
                for (Py_ssize_t i = 0; !PyErr_Occurred() && i < PyList_GET_SIZE(old); i++)
                    PyDict_DelItem(buckets, PyList_GET_ITEM(old, i));
                Py_DECREF(old);
                if (PyErr_Occurred()) {
                    Py_DECREF(dkey);
                    goto done;
                }
            } else if (!PyList_CheckExact(b) || PyList_GET_SIZE(b) != K) {
                PyErr_SetString(PyExc_TypeError, "fold: a bucket is not a list of counts");
                Py_DECREF(dkey);
                goto done;
            }
            Py_DECREF(dkey);
            for (int i = 0; i < nch; i++)
                if (add_one(b, chans[i]) < 0) goto done;
        }
        /* _decay_to(s, ts) */
        if ((ref_obj = PyObject_GetAttr(s, a_decay_ref)) == NULL) goto done;
        double ref = PyFloat_AsDouble(ref_obj);
        if (ref == -1.0 && PyErr_Occurred()) goto done;
        if (ref != ref) {
            if (PyObject_SetAttr(s, a_decay_ref, ts_obj) < 0) goto done;
            ref = ts;
        } else if (ts > ref) {
            double dt = (ts - ref) / DAY;
            for (Py_ssize_t j = 0; j < nh; j++) {
                double f = pow2(-dt / hl[j]);
                for (int g = 0; g < N_GROUPS; g++) {
                    Py_ssize_t i = g * nh + j;
                    PyObject *cur = PyList_GET_ITEM(decay, i), *nv;
                    if (PyFloat_CheckExact(cur)) {
                        nv = PyFloat_FromDouble(PyFloat_AS_DOUBLE(cur) * f);
                    } else {
                        PyObject *fo = PyFloat_FromDouble(f);
                        if (fo == NULL) goto done;
                        nv = PyNumber_Multiply(cur, fo);
                        Py_DECREF(fo);
                    }
                    if (nv == NULL) goto done;
                    PyList_SET_ITEM(decay, i, nv);
                    Py_DECREF(cur);
                }
            }
            if (PyObject_SetAttr(s, a_decay_ref, ts_obj) < 0) goto done;
            ref = ts;
        }
        for (Py_ssize_t j = 0; j < nh; j++) {
            double w = ts >= ref ? 1.0 : pow2(-(ref - ts) / DAY / hl[j]);
            int done_g[N_GROUPS] = {0, 0, 0, 0};
            for (int i = 0; i < nch; i++) {
                int g = GROUP_OF[chans[i]];
                if (g < 0 || done_g[g]) continue;
                done_g[g] = 1;
                if (add_float(decay, g * nh + j, w) < 0) goto done;
            }
        }
        for (int i = 0; i < nch; i++)
            if (add_one(totals, chans[i]) < 0) goto done;
    }

    /* Timestamps and misc totals. */
    switch (e) {
    case E_PAGE:
        if (SUB_IS(s_pricing)) {
            if (tmin(tsv, T_FIRST_PRICING, ts, ts_obj) < 0 ||
                tmax(tsv, T_LAST_PRICING, ts, ts_obj) < 0) goto done;
        } else if (SUB_IS(s_case_study)) {
            if (tmin(tsv, T_FIRST_CASE, ts, ts_obj) < 0) goto done;
        }
        break;
    case E_DOWNLOAD:
        if (SUB_IS(s_case_study) && tmin(tsv, T_FIRST_CASE, ts, ts_obj) < 0)
            goto done;
        break;
    case E_DEMO:
        if (tmin(tsv, T_FIRST_DEMO, ts, ts_obj) < 0 || tmax(tsv, T_LAST_DEMO, ts, ts_obj) < 0)
            goto done;
        break;
    case E_CLICK:
        if (tmax(tsv, T_LAST_CLICK, ts, ts_obj) < 0) goto done;
        if (SUB_IS(s_pricing)) {
            if (tmin(tsv, T_FIRST_PRICING, ts, ts_obj) < 0 ||
                tmax(tsv, T_LAST_PRICING, ts, ts_obj) < 0) goto done;
        } else if (SUB_IS(s_case_study)) {
            if (tmin(tsv, T_FIRST_CASE, ts, ts_obj) < 0) goto done;
        }
        break;
    case E_DELIVERED:
        if (add_one(misc, M_DELIVERED) < 0) goto done;
        break;
    case E_BOUNCE:
        if (add_one(misc, SUB_IS(s_hard) ? M_HARD : M_SOFT) < 0) goto done;
        break;
    case E_UNSUB:
        if (add_one(misc, M_UNSUB) < 0) goto done;
        break;
    case E_LOGIN:
        if (tmax(tsv, T_LAST_LOGIN, ts, ts_obj) < 0) goto done;
        break;
    case E_SIGNUP:
        if (tmin(tsv, T_SIGNUP, ts, ts_obj) < 0) goto done;
        break;
    case E_TRIAL:
        if (tmin(tsv, T_TRIAL, ts, ts_obj) < 0) goto done;
        break;
    case E_FEATURE:
        if (add_capped(s, a_features, sub) < 0) goto done;
        break;
    case E_INTEGRATION:
        if (tmin(tsv, T_FIRST_INTEGRATION, ts, ts_obj) < 0) goto done;
        if (add_capped(s, a_integrations, sub) < 0) goto done;
        break;
    case E_INVITE:
        if (add_float(misc, M_TEAM, num != 0.0 ? num : 1.0) < 0) goto done;
        break;
    case E_TICKET:
        if (add_one(misc, M_TICKETS) < 0) goto done;
        if ((SUB_IS(s_high) || SUB_IS(s_urgent)) &&
            add_one(misc, M_URGENT) < 0) goto done;
        break;
    case E_SESSION_END:
        if (add_float(misc, M_SECONDS, num) < 0 || add_one(misc, M_ENDED) < 0) goto done;
        break;
    default:
        break;
    }
    if (PyErr_Occurred()) goto done;
    if (is_web(e) && tmin(tsv, T_FIRST_WEB, ts, ts_obj) < 0) goto done;
    if (tmin(tsv, T_FIRST, ts, ts_obj) < 0 || tmax(tsv, T_LAST, ts, ts_obj) < 0) goto done;
    result = Py_True;
done:
    Py_XDECREF(h);
    Py_XDECREF(tsv);
    Py_XDECREF(misc);
    Py_XDECREF(recent);
    Py_XDECREF(buckets);
    Py_XDECREF(totals);
    Py_XDECREF(decay);
    Py_XDECREF(half_lives);
    Py_XDECREF(ref_obj);
    if (result == NULL) return NULL;
    if (PyErr_Occurred()) return NULL;
    Py_INCREF(result);
    return result;
}

/* What this file assumes of models/state.py, for it to compare at import. */
static PyObject *layout(PyObject *self, PyObject *noargs) {
    PyObject *ch = PyTuple_New(K), *ts = PyTuple_New(N_TS), *misc = PyTuple_New(N_MISC),
             *groups = PyTuple_New(N_GROUPS), *special = PyTuple_New(5);
    if (!ch || !ts || !misc || !groups || !special) goto fail;
    for (int i = 0; i < K; i++) PyTuple_SET_ITEM(ch, i, PyUnicode_FromString(CHANNELS[i]));
    for (int i = 0; i < N_TS; i++) PyTuple_SET_ITEM(ts, i, PyUnicode_FromString(TS_NAMES[i]));
    for (int i = 0; i < N_MISC; i++)
        PyTuple_SET_ITEM(misc, i, PyUnicode_FromString(MISC_NAMES[i]));
    for (int g = 0; g < N_GROUPS; g++) {
        int n = 0;
        for (int c = 0; c < K; c++) n += GROUP_OF[c] == g;
        PyObject *members = PyTuple_New(n);
        if (members == NULL) goto fail;
        for (int c = 0, j = 0; c < K; c++)
            if (GROUP_OF[c] == g) PyTuple_SET_ITEM(members, j++, PyUnicode_FromString(CHANNELS[c]));
        PyTuple_SET_ITEM(groups, g, Py_BuildValue("(sN)", GROUP_NAMES[g], members));
    }
    for (int i = 0; i < 5; i++) PyTuple_SET_ITEM(special, i, PyUnicode_FromString(TYPES[i].name));
    return Py_BuildValue("{sNsNsNsNsNsisisi}", "channels", ch, "ts", ts, "misc", misc,
                         "decay_groups", groups, "python_types", special, "ring_days",
                         RING_DAYS, "max_recent_ids", MAX_RECENT_IDS, "max_distinct",
                         MAX_DISTINCT);
fail:
    Py_XDECREF(ch);
    Py_XDECREF(ts);
    Py_XDECREF(misc);
    Py_XDECREF(groups);
    Py_XDECREF(special);
    return NULL;
}

static PyMethodDef methods[] = {
    {"fold", fold, METH_VARARGS,
     "fold(state, obs, lateness_seconds) -> True/False, or None: fold it in Python."},
    {"id_hash", id_hash, METH_O, "models.state.id_hash in C."},
    {"layout", layout, METH_NOARGS, "The state layout this module was written for."},
    {NULL, NULL, 0, NULL}};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_state", NULL, -1, methods};

PyMODINIT_FUNC PyInit__state(void) {
    type_codes = PyDict_New();
    if (type_codes == NULL) return NULL;
    for (size_t i = 0; i < sizeof TYPES / sizeof TYPES[0]; i++) {
        PyObject *v = PyLong_FromLong(TYPES[i].code);
        if (v == NULL || PyDict_SetItemString(type_codes, TYPES[i].name, v) < 0) return NULL;
        Py_DECREF(v);
    }
#define INTERN(var, text) if ((var = PyUnicode_InternFromString(text)) == NULL) return NULL
    INTERN(s_pricing, "pricing");
    INTERN(s_case_study, "case_study");
    INTERN(s_competitor, "competitor_comparison");
    INTERN(s_docs, "docs");
    INTERN(s_whitepaper, "whitepaper");
    INTERN(s_hard, "hard");
    INTERN(s_high, "high");
    INTERN(s_urgent, "urgent");
    INTERN(s_empty, "");
    INTERN(a_buckets, "buckets");
    INTERN(a_totals, "totals");
    INTERN(a_misc, "misc");
    INTERN(a_ts, "ts");
    INTERN(a_decay, "decay");
    INTERN(a_decay_ref, "decay_ref");
    INTERN(a_half_lives, "half_lives");
    INTERN(a_recent, "recent");
    INTERN(a_features, "features");
    INTERN(a_integrations, "integrations");
    if ((one_int = PyLong_FromLong(1)) == NULL) return NULL;
    return PyModule_Create(&module);
}
