/* The lead record's binary codec in C: what streams/core/record.py's LeadRecord.from_bytes
 * (formats 2, 3 and 4) and LeadRecord.to_bytes (format 4) do with `struct`.
 *
 * Why: the worker decodes a record per lead it reads and encodes one per lead it writes. In
 * Python that is ~17-23 CPU-us a decode and ~11 an encode (a dozen unpack_from/pack calls,
 * the tuples they return sliced into lists, sets and dicts): ~13% of the worker's main
 * thread at full speed. Here the bytes are read once, in place, into the same objects.
 *
 * record.py stays the reference: this module builds exactly the objects its Python code
 * builds (types included: tuple of half-lives, lists of floats and ints, dict of lists, sets,
 * the profile parsed by orjson.loads itself) and writes exactly its bytes; and bad bytes raise
 * the exception classes its Python code raises (struct.error for a short buffer, ValueError
 * for an unknown format, a foreign state shape or a misplaced trailer, IndexError for an
 * out-of-range tier or width code, orjson's JSONDecodeError for a broken profile), checked in
 * the same order. Every read is bounds-checked before it is made.
 * tests/unit/test_record_native.py compares the two on simulated populations, every prefix
 * of records and random byte flips.
 *
 * Built by setuptools as an optional extension (setup.py): without a C compiler the import
 * fails and record.py keeps its Python code. The GIL is kept: a call is a few microseconds.
 * Little-endian hosts only (the format is little-endian and is read with memcpy); elsewhere
 * the build fails and the Python code is used. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if PY_BIG_ENDIAN
#error "streams.core._record reads the little-endian format with memcpy: little-endian hosts only"
#endif

/* Sizes of record.py's structs. */
#define HEAD 51   /* <BBhdBdddhdhH */
#define PUB 10    /* <hd */
#define SIZES 44  /* <BBBBBHHHHHBddqI */
#define TAIL 10   /* <dBB */
#define DAYSCORE 14 /* <if6s */
#define OBSERVED 16 /* <BBf6si */
#define FMT 4

static const int WIDTH[4] = {1, 2, 4, 8}; /* "BHIQ" */
static const char WIDTH_CODE[4] = {'B', 'H', 'I', 'Q'};

/* What configure() is given by record.py, once, at its import. */
static struct {
    PyObject *record, *state, *alert, *loads, *dumps, *error, *tiers, *tier_code;
    Py_ssize_t per_half_life, channels, misc, ts, t_last, t_converted, t_disqualified;
    int ready;
} C;

/* Attribute names, interned once. */
static PyObject *S_state, *S_score, *S_probability, *S_tier, *S_scored_at, *S_alert,
    *S_published_score, *S_published_probability, *S_contacted_at, *S_history, *S_observed,
    *S_in_hot, *S_last_spike_at, *S_spike_score, *S_last_decline_at, *S_decline_score,
    *S_half_lives, *S_buckets, *S_totals, *S_misc, *S_ts, *S_decay, *S_decay_ref, *S_recent,
    *S_features, *S_integrations, *S_profile, *S_deal_value, *S_origin, *S_merged;

/* LeadState's __slots__ by index: their offsets in the object, read from the type's member
 * descriptors at configure() (0: not a plain object slot; the attribute protocol is used). A
 * state is read and written through them directly, as its slot descriptors would. */
enum { L_HALF_LIVES, L_BUCKETS, L_TOTALS, L_MISC, L_TS, L_DECAY, L_DECAY_REF, L_RECENT,
       L_FEATURES, L_INTEGRATIONS, L_PROFILE, L_DEAL_VALUE, L_ORIGIN, L_MERGED, L_COUNT };
static PyObject **SLOT_NAME[L_COUNT] = {
    &S_half_lives, &S_buckets, &S_totals, &S_misc, &S_ts, &S_decay, &S_decay_ref, &S_recent,
    &S_features, &S_integrations, &S_profile, &S_deal_value, &S_origin, &S_merged};
static Py_ssize_t SLOT_AT[L_COUNT];

/* A new reference to the slot's value (AttributeError as Python gives when it is unset). */
static PyObject *get_slot(PyObject *s, int i) {
    if (SLOT_AT[i] && Py_TYPE(s) == (PyTypeObject *)C.state) {
        PyObject *v = *(PyObject **)((char *)s + SLOT_AT[i]);
        if (v != NULL) return Py_NewRef(v);
    }
    return PyObject_GetAttr(s, *SLOT_NAME[i]);
}

/* Take a record's objects out of the cyclic garbage collector's sight: a list, tuple, dict
 * or set, or a LeadRecord, LeadState or AlertState, is untracked, bottom up, once nothing it
 * references (its items, slots or attributes; not its class) is tracked; anything else stops
 * the walk and keeps everything above it tracked. Returns 1 when `o` is (now) untracked.
 *
 * Why: a worker keeps thousands of records (the record cache), ~30 containers each, and
 * replaces them as leads come and go. CPython counts a collection's allocations net of
 * deallocations, so a record that replaces another does not count, and the youngest
 * generation grew to 115,000-180,000 objects between two collections: each then took
 * 95-150 ms of the event loop, the largest stalls of the hot path at 2,000 events/s. A
 * record holds no reference back up its tree, so no cycle passes through it; what is later
 * put into an untracked object is still tracked itself (and a dict that gets a tracked item
 * is tracked again by CPython). */
typedef struct { PyObject *type; int depth, all; } walk_t;

static int untrack_deep(PyObject *o, int depth);

static int visit_untrack(PyObject *o, void *arg) {
    walk_t *w = (walk_t *)arg;
    if (o != w->type && !untrack_deep(o, w->depth + 1)) w->all = 0;
    return 0;
}

static int untrack_deep(PyObject *o, int depth) {
    if (!PyObject_IS_GC(o)) return 1;
    PyTypeObject *t = Py_TYPE(o);
    PyObject *tp = (PyObject *)t;
    int ours = t == &PyList_Type || t == &PyTuple_Type || t == &PyDict_Type
               || t == &PySet_Type || t == &PyFrozenSet_Type
               || (C.ready && (tp == C.record || tp == C.state || tp == C.alert));
    /* Our containers are walked even when already untracked: a cached record that a batch
     * changed (a new alert state, history tuples, a list's new items) is untracked again
     * but holds tracked objects put into it since. */
    if (!ours) return !PyObject_GC_IsTracked(o);
    if (depth > 16 || t->tp_traverse == NULL) return 0;
    walk_t w = {tp, depth, 1};
    t->tp_traverse(o, visit_untrack, &w);
    if (w.all && PyObject_GC_IsTracked(o)) PyObject_GC_UnTrack(o);
    return w.all;
}

static PyObject *untrack(PyObject *self, PyObject *arg) {
    (void)self;
    return PyBool_FromLong(untrack_deep(arg, 0));
}

/* Set a slot of a state made here (its type exactly LeadState), taking the reference to v
 * (NULL: an error already set). */
static int put_slot(PyObject *s, int i, PyObject *v) {
    if (v == NULL) return -1;
    if (SLOT_AT[i]) {
        Py_XSETREF(*(PyObject **)((char *)s + SLOT_AT[i]), v);
        return 0;
    }
    int rc = PyObject_SetAttr(s, *SLOT_NAME[i], v);
    Py_DECREF(v);
    return rc;
}

/* ------------------------------------------------------------------------------ decoding */

typedef struct {
    const unsigned char *p;
    Py_ssize_t n;
} rd_t;

/* struct.error when `size` bytes at `at` are not all there (unpack_from's check). */
static int need(const rd_t *r, Py_ssize_t at, Py_ssize_t size) {
    if (at < 0 || size < 0 || at > r->n || size > r->n - at) {
        PyErr_Format(C.error,
                     "unpack_from requires a buffer of at least %zd bytes for unpacking %zd "
                     "bytes at offset %zd (actual buffer size is %zd)",
                     at + size, size, at, r->n);
        return -1;
    }
    return 0;
}

static inline double f64(const unsigned char *p) { double v; memcpy(&v, p, 8); return v; }
static inline int16_t i16(const unsigned char *p) { int16_t v; memcpy(&v, p, 2); return v; }
static inline uint16_t u16(const unsigned char *p) { uint16_t v; memcpy(&v, p, 2); return v; }
static inline int32_t i32(const unsigned char *p) { int32_t v; memcpy(&v, p, 4); return v; }
static inline uint32_t u32(const unsigned char *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static inline int64_t i64(const unsigned char *p) { int64_t v; memcpy(&v, p, 8); return v; }
static inline uint64_t u64(const unsigned char *p) { uint64_t v; memcpy(&v, p, 8); return v; }

/* An event count of width code w. */
static PyObject *count(const unsigned char *p, int w) {
    switch (w) {
    case 0: return PyLong_FromLong(p[0]);
    case 1: return PyLong_FromLong(u16(p));
    case 2: return PyLong_FromUnsignedLong(u32(p));
    default: return PyLong_FromUnsignedLongLong(u64(p));
    }
}

/* NaN -> None (record.py's `None if x != x else x`). */
static PyObject *float_or_none(double x) {
    if (isnan(x)) Py_RETURN_NONE;
    return PyFloat_FromDouble(x);
}

/* A negative score -> None. */
static PyObject *score_or_none(int16_t s) {
    if (s < 0) Py_RETURN_NONE;
    return PyLong_FromLong(s);
}

static PyObject *float_list(const unsigned char *p, Py_ssize_t n) {
    PyObject *out = PyList_New(n);
    if (out == NULL) return NULL;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *v = PyFloat_FromDouble(f64(p + 8 * i));
        if (v == NULL) { Py_DECREF(out); return NULL; }
        PyList_SET_ITEM(out, i, v);
    }
    return out;
}

/* A set of n integers of 4 (unsigned) or 8 (signed) bytes. */
static PyObject *int_set(const unsigned char *p, Py_ssize_t n, int size) {
    PyObject *out = PySet_New(NULL);
    if (out == NULL) return NULL;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *v = size == 4 ? PyLong_FromUnsignedLong(u32(p + 4 * i))
                                : PyLong_FromLongLong(i64(p + 8 * i));
        if (v == NULL || PySet_Add(out, v) < 0) { Py_XDECREF(v); Py_DECREF(out); return NULL; }
        Py_DECREF(v);
    }
    return out;
}

/* Set a slot/attribute, taking the reference to v (NULL: an error already set). */
static int put(PyObject *obj, PyObject *name, PyObject *v) {
    if (v == NULL) return -1;
    int rc = PyObject_SetAttr(obj, name, v);
    Py_DECREF(v);
    return rc;
}

/* Same, into the instance dict (AlertState is a frozen dataclass; make_state does this). */
static int put_dict(PyObject *dict, PyObject *name, PyObject *v) {
    if (v == NULL) return -1;
    int rc = PyDict_SetItem(dict, name, v);
    Py_DECREF(v);
    return rc;
}

/* The alert state of the header (record.py's _unpack_head), or NULL. *end: where it ends. */
static PyObject *alert_from(const rd_t *r, int fmt, Py_ssize_t *end) {
    const unsigned char *p = r->p;
    uint16_t nh = u16(p + 49);
    Py_ssize_t at = HEAD + (fmt >= 3 ? PUB : 0);
    PyObject *hist;
    if (nh) {
        if (need(r, at, (Py_ssize_t)nh * 10) < 0) return NULL;
        hist = PyTuple_New(nh);
        if (hist == NULL) return NULL;
        for (Py_ssize_t i = 0; i < nh; i++) {
            PyObject *pair = Py_BuildValue("(dh)", f64(p + at + 8 * i),
                                           i16(p + at + 8 * nh + 2 * i));
            if (pair == NULL) { Py_DECREF(hist); return NULL; }
            PyTuple_SET_ITEM(hist, i, pair);
        }
        at += (Py_ssize_t)nh * 10;
    } else {
        hist = PyTuple_New(0);
        if (hist == NULL) return NULL;
    }
    *end = at;
    PyObject *st = ((PyTypeObject *)C.alert)->tp_alloc((PyTypeObject *)C.alert, 0);
    PyObject *d = st == NULL ? NULL : PyObject_GenericGetDict(st, NULL);
    if (d == NULL
        || put_dict(d, S_in_hot, PyBool_FromLong(p[1] & 1)) < 0
        || put_dict(d, S_history, hist) < 0
        || put_dict(d, S_last_spike_at, float_or_none(f64(p + 29))) < 0
        || put_dict(d, S_spike_score, score_or_none(i16(p + 37))) < 0
        || put_dict(d, S_last_decline_at, float_or_none(f64(p + 39))) < 0
        || put_dict(d, S_decline_score, score_or_none(i16(p + 47))) < 0) {
        if (d == NULL) Py_DECREF(hist);
        Py_XDECREF(d);
        Py_XDECREF(st);
        return NULL;
    }
    Py_DECREF(d);
    return st;
}

/* The model state at `at` (record.py's _state_from), or NULL. *end: where it ends (the
 * profile's stated end, which may lie past the buffer, as in the Python code). */
static PyObject *state_from(const rd_t *r, Py_ssize_t at, long long *end) {
    if (need(r, at, SIZES) < 0) return NULL;
    const unsigned char *p = r->p + at;
    Py_ssize_t nhl = p[0], nd = p[1], k = p[2], nm = p[3], nt = p[4];
    Py_ssize_t nb = u16(p + 5), nr = u16(p + 7), nf = u16(p + 9), ni = u16(p + 11),
               nmg = u16(p + 13);
    int w = p[15];
    double decay_ref = f64(p + 16), deal_value = f64(p + 24);
    int64_t origin = i64(p + 32);
    uint32_t nprof = u32(p + 40);
    if (nd != C.per_half_life * nhl || k != C.channels || nm != C.misc || nt != C.ts) {
        PyErr_Format(PyExc_ValueError,
                     "lead record has %zd decayed sums, %zd channels, %zd totals and %zd "
                     "timestamps; this model state has %zd, %zd, %zd and %zd",
                     nd, k, nm, nt, C.per_half_life * nhl, C.channels, C.misc, C.ts);
        return NULL;
    }
    if (w > 3) {
        PyErr_SetString(PyExc_IndexError, "string index out of range");
        return NULL;
    }
    at += SIZES;
    int cw = WIDTH[w];
    if (need(r, at, 8 * (nhl + nd + nm + nt) + k * cw) < 0) return NULL;
    PyObject *s = ((PyTypeObject *)C.state)->tp_alloc((PyTypeObject *)C.state, 0);
    if (s == NULL) return NULL;
    p = r->p + at;
    PyObject *hl = PyTuple_New(nhl);
    if (hl == NULL) goto fail;
    for (Py_ssize_t i = 0; i < nhl; i++) {
        PyObject *v = PyFloat_FromDouble(f64(p + 8 * i));
        if (v == NULL) { Py_DECREF(hl); goto fail; }
        PyTuple_SET_ITEM(hl, i, v);
    }
    if (put_slot(s, L_HALF_LIVES, hl) < 0) goto fail;
    p += 8 * nhl;
    if (put_slot(s, L_DECAY, float_list(p, nd)) < 0) goto fail;
    p += 8 * nd;
    if (put_slot(s, L_MISC, float_list(p, nm)) < 0) goto fail;
    p += 8 * nm;
    if (put_slot(s, L_TS, float_list(p, nt)) < 0) goto fail;
    p += 8 * nt;
    PyObject *totals = PyList_New(k);
    if (totals == NULL) goto fail;
    for (Py_ssize_t i = 0; i < k; i++) {
        PyObject *v = count(p + cw * i, w);
        if (v == NULL) { Py_DECREF(totals); goto fail; }
        PyList_SET_ITEM(totals, i, v);
    }
    if (put_slot(s, L_TOTALS, totals) < 0) goto fail;
    if (put_slot(s, L_DECAY_REF, PyFloat_FromDouble(decay_ref)) < 0
        || put_slot(s, L_DEAL_VALUE, PyFloat_FromDouble(deal_value)) < 0
        || put_slot(s, L_ORIGIN, PyLong_FromLongLong(origin)) < 0)
        goto fail;
    at += 8 * (nhl + nd + nm + nt) + k * cw;

    PyObject *buckets = PyDict_New();
    if (buckets == NULL) goto fail;
    if (nb) {
        if (need(r, at, 4 * nb) < 0 || need(r, at + 4 * nb, nb * k * cw) < 0) {
            Py_DECREF(buckets);
            goto fail;
        }
        const unsigned char *days = r->p + at, *c = days + 4 * nb;
        for (Py_ssize_t j = 0; j < nb; j++) {
            PyObject *day = PyLong_FromLong(i32(days + 4 * j)), *row = PyList_New(k);
            int bad = day == NULL || row == NULL;
            for (Py_ssize_t i = 0; !bad && i < k; i++) {
                PyObject *v = count(c + (j * k + i) * cw, w);
                if (v == NULL) bad = 1;
                else PyList_SET_ITEM(row, i, v);
            }
            if (bad || PyDict_SetItem(buckets, day, row) < 0) {
                Py_XDECREF(day); Py_XDECREF(row); Py_DECREF(buckets);
                goto fail;
            }
            Py_DECREF(day);
            Py_DECREF(row);
        }
        at += 4 * nb + nb * k * cw;
    }
    if (put_slot(s, L_BUCKETS, buckets) < 0) goto fail;

    PyObject *recent = PyDict_New();
    if (recent == NULL) goto fail;
    if (nr) {
        if (need(r, at, 8 * nr) < 0 || need(r, at + 8 * nr, 8 * nr) < 0) {
            Py_DECREF(recent);
            goto fail;
        }
        const unsigned char *ids = r->p + at, *times = ids + 8 * nr;
        for (Py_ssize_t j = 0; j < nr; j++) {
            PyObject *key = PyLong_FromLongLong(i64(ids + 8 * j));
            PyObject *v = PyFloat_FromDouble(f64(times + 8 * j));
            if (key == NULL || v == NULL || PyDict_SetItem(recent, key, v) < 0) {
                Py_XDECREF(key); Py_XDECREF(v); Py_DECREF(recent);
                goto fail;
            }
            Py_DECREF(key);
            Py_DECREF(v);
        }
        at += 16 * nr;
    }
    if (put_slot(s, L_RECENT, recent) < 0) goto fail;

    if (nf && need(r, at, 4 * nf) < 0) goto fail;
    if (put_slot(s, L_FEATURES, int_set(r->p + at, nf, 4)) < 0) goto fail;
    at += 4 * nf;
    if (ni && need(r, at, 4 * ni) < 0) goto fail;
    if (put_slot(s, L_INTEGRATIONS, int_set(r->p + at, ni, 4)) < 0) goto fail;
    at += 4 * ni;
    if (nmg && need(r, at, 8 * nmg) < 0) goto fail;
    if (put_slot(s, L_MERGED, int_set(r->p + at, nmg, 8)) < 0) goto fail;
    at += 8 * nmg;

    PyObject *profile;
    if (nprof) {
        /* raw[at:at + nprof]: Python's slice stops at the end of the buffer. */
        Py_ssize_t avail = r->n - at, take = (Py_ssize_t)nprof < avail ? (Py_ssize_t)nprof : avail;
        PyObject *doc = PyBytes_FromStringAndSize((const char *)r->p + at, take);
        if (doc == NULL) goto fail;
        profile = PyObject_CallOneArg(C.loads, doc);
        Py_DECREF(doc);
    } else {
        profile = PyDict_New();
    }
    if (put_slot(s, L_PROFILE, profile) < 0) goto fail;
    *end = (long long)at + nprof;
    return s;
fail:
    Py_DECREF(s);
    return NULL;
}

/* A (day, probability, version) or (look-back, label, probability, version, day) tuple. */
static PyObject *dayscore(const unsigned char *p) {
    double prob = PyFloat_Unpack4((const char *)p + 4, 1);
    if (prob == -1.0 && PyErr_Occurred()) return NULL;
    return Py_BuildValue("(ldy#)", (long)i32(p), prob, (const char *)p + 8, (Py_ssize_t)6);
}

static PyObject *observation(const unsigned char *p) {
    double prob = PyFloat_Unpack4((const char *)p + 2, 1);
    if (prob == -1.0 && PyErr_Occurred()) return NULL;
    return Py_BuildValue("(iidy#l)", (int)p[0], (int)p[1], prob, (const char *)p + 6,
                         (Py_ssize_t)6, (long)i32(p + 12));
}

static PyObject *entries(const unsigned char *p, Py_ssize_t n, Py_ssize_t size,
                         PyObject *(*one)(const unsigned char *)) {
    PyObject *out = PyList_New(n);
    if (out == NULL) return NULL;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *v = one(p + size * i);
        if (v == NULL) { Py_DECREF(out); return NULL; }
        PyList_SET_ITEM(out, i, v);
    }
    return out;
}

static PyObject *decode(PyObject *self, PyObject *arg) {
    (void)self;
    if (!C.ready) {
        PyErr_SetString(PyExc_RuntimeError, "streams.core._record.configure() was not called");
        return NULL;
    }
    Py_buffer view;
    if (PyObject_GetBuffer(arg, &view, PyBUF_SIMPLE) < 0) return NULL;
    rd_t r = {(const unsigned char *)view.buf, view.len};
    PyObject *state = NULL, *alert = NULL, *rec = NULL;
    const unsigned char *p = r.p;
    if (r.n == 0) {
        PyErr_SetString(PyExc_IndexError, "index out of range");
        goto fail;
    }
    int fmt = p[0];
    if (fmt != 2 && fmt != 3 && fmt != FMT) {
        PyErr_Format(PyExc_ValueError, "unknown lead record format %d", fmt);
        goto fail;
    }
    if (need(&r, 0, HEAD) < 0) goto fail;
    Py_ssize_t at;
    alert = alert_from(&r, fmt, &at);
    if (alert == NULL) goto fail;
    int tier = p[12];
    if (tier > 3) {
        PyErr_SetString(PyExc_IndexError, "tuple index out of range");
        goto fail;
    }
    long long end;
    state = state_from(&r, at, &end);
    if (state == NULL) goto fail;
    rec = ((PyTypeObject *)C.record)->tp_alloc((PyTypeObject *)C.record, 0);
    if (rec == NULL) goto fail;
    PyObject *tiername = PyTuple_GET_ITEM(C.tiers, tier);
    Py_INCREF(tiername);
    PyObject *pub_score = Py_None, *pub_prob = Py_None;
    Py_INCREF(pub_score);
    Py_INCREF(pub_prob);
    if (fmt >= 3 && i16(p + HEAD) >= 0) {
        Py_SETREF(pub_score, PyLong_FromLong(i16(p + HEAD)));
        Py_SETREF(pub_prob, PyFloat_FromDouble(f64(p + HEAD + 2)));
    }
    Py_INCREF(state);
    Py_INCREF(alert);
    if (put(rec, S_state, state) < 0
        || put(rec, S_score, score_or_none(i16(p + 2))) < 0
        || put(rec, S_probability, float_or_none(f64(p + 4))) < 0
        || put(rec, S_tier, tiername) < 0
        || put(rec, S_scored_at, float_or_none(f64(p + 13))) < 0
        || put(rec, S_alert, alert) < 0
        || put(rec, S_published_score, pub_score) < 0
        || put(rec, S_published_probability, pub_prob) < 0)
        goto fail;
    PyObject *contacted = Py_None, *history = NULL, *observed = NULL;
    Py_INCREF(contacted);
    Py_ssize_t nh = 0, no = 0, start = 0, tail = r.n - TAIL;
    if (fmt == FMT) {
        if (need(&r, tail, TAIL) < 0) { Py_DECREF(contacted); goto fail; }
        Py_SETREF(contacted, float_or_none(f64(p + tail)));
        if (contacted == NULL) goto fail;
        nh = p[tail + 8];
        no = p[tail + 9];
        start = tail - no * OBSERVED - nh * DAYSCORE;
        if (start != end) {
            PyErr_Format(PyExc_ValueError, "lead record trailer at %zd, its state ends at %lld",
                         start, end);
            Py_DECREF(contacted);
            goto fail;
        }
    }
    /* start == end >= 0 and start + its entries == tail <= len: the entries are all there. */
    history = entries(p + start, nh, DAYSCORE, dayscore);
    observed = history == NULL ? NULL : entries(p + tail - no * OBSERVED, no, OBSERVED,
                                                observation);
    if (put(rec, S_contacted_at, contacted) < 0) { Py_XDECREF(history); Py_XDECREF(observed); goto fail; }
    if (put(rec, S_history, history) < 0) { Py_XDECREF(observed); goto fail; }
    if (put(rec, S_observed, observed) < 0) goto fail;
    Py_DECREF(state);
    Py_DECREF(alert);
    PyBuffer_Release(&view);
    return rec;
fail:
    Py_XDECREF(rec);
    Py_XDECREF(state);
    Py_XDECREF(alert);
    PyBuffer_Release(&view);
    return NULL;
}

/* ------------------------------------------------------------------------------ encoding */

typedef struct {
    unsigned char *p;
    Py_ssize_t n, cap;
} wr_t;

static unsigned char *grow(wr_t *b, Py_ssize_t size) {
    Py_ssize_t cap = b->cap ? b->cap * 2 : 1024;
    if (cap < b->n + size) cap = b->n + size;
    unsigned char *q = PyMem_Realloc(b->p, (size_t)cap);
    if (q == NULL) { PyErr_NoMemory(); return NULL; }
    b->p = q;
    b->cap = cap;
    unsigned char *out = b->p + b->n;
    b->n += size;
    return out;
}

/* `size` more bytes at the end of the output (NULL: out of memory). */
static inline unsigned char *room(wr_t *b, Py_ssize_t size) {
    if (b->n + size > b->cap) return grow(b, size);
    unsigned char *out = b->p + b->n;
    b->n += size;
    return out;
}

/* struct's 'd': any object PyFloat_AsDouble takes, else struct.error. */
static int put_f64(wr_t *b, PyObject *v) {
    double x = PyFloat_CheckExact(v) ? PyFloat_AS_DOUBLE(v) : PyFloat_AsDouble(v);
    if (x == -1.0 && PyErr_Occurred()) {
        PyErr_SetString(C.error, "required argument is not a float");
        return -1;
    }
    unsigned char *q = room(b, 8);
    if (q == NULL) return -1;
    memcpy(q, &x, 8);
    return 0;
}

static int put_raw_f64(wr_t *b, double x) {
    unsigned char *q = room(b, 8);
    if (q == NULL) return -1;
    memcpy(q, &x, 8);
    return 0;
}

/* struct's 'f' (PyFloat_Pack4: OverflowError for a double beyond a float's range). */
static int put_f32(wr_t *b, PyObject *v) {
    double x = PyFloat_AsDouble(v);
    if (x == -1.0 && PyErr_Occurred()) {
        PyErr_SetString(C.error, "required argument is not a float");
        return -1;
    }
    unsigned char *q = room(b, 4);
    if (q == NULL) return -1;
    return PyFloat_Pack4(x, (char *)q, 1);
}

/* An integer for struct's code `code` (its range [lo, hi], or unsigned 64 bits for 'Q'),
 * else struct.error as struct raises it. */
static int get_int(PyObject *v, char code, long long lo, long long hi, long long *out,
                   unsigned long long *uout) {
    if (!PyLong_Check(v) && !PyIndex_Check(v)) {
        PyErr_SetString(C.error, "required argument is not an integer");
        return -1;
    }
    PyObject *i = PyLong_CheckExact(v) ? Py_NewRef(v) : PyNumber_Index(v);
    if (i == NULL) return -1;
    int overflow = 0;
    if (code == 'Q') {
        unsigned long long u = PyLong_AsUnsignedLongLong(i);
        Py_DECREF(i);
        if (u == (unsigned long long)-1 && PyErr_Occurred()) {
            PyErr_Clear();
            PyErr_SetString(C.error, "argument out of range");
            return -1;
        }
        *uout = u;
        return 0;
    }
    long long x = PyLong_AsLongLongAndOverflow(i, &overflow);
    Py_DECREF(i);
    if (x == -1 && PyErr_Occurred()) return -1;
    if (overflow || x < lo || x > hi) {
        if (code == 'q') PyErr_SetString(C.error, "argument out of range");
        else PyErr_Format(C.error, "'%c' format requires %lld <= number <= %lld", code, lo, hi);
        return -1;
    }
    *out = x;
    return 0;
}

static int put_int(wr_t *b, PyObject *v, char code) {
    long long x = 0;
    unsigned long long u = 0;
    int size;
    long long lo, hi;
    switch (code) {
    case 'B': size = 1; lo = 0; hi = 255; break;
    case 'h': size = 2; lo = -32768; hi = 32767; break;
    case 'H': size = 2; lo = 0; hi = 65535; break;
    case 'i': size = 4; lo = INT32_MIN; hi = INT32_MAX; break;
    case 'I': size = 4; lo = 0; hi = UINT32_MAX; break;
    case 'q': size = 8; lo = INT64_MIN; hi = INT64_MAX; break;
    default: size = 8; lo = 0; hi = 0; break; /* 'Q' */
    }
    if (get_int(v, code, lo, hi, &x, &u) < 0) return -1;
    unsigned char *q = room(b, size);
    if (q == NULL) return -1;
    if (code == 'Q') {
        memcpy(q, &u, 8);
    } else {
        uint64_t bits = (uint64_t)x; /* little-endian: the low `size` bytes */
        memcpy(q, &bits, (size_t)size);
    }
    return 0;
}

static int put_c_int(wr_t *b, long long x, int size) {
    unsigned char *q = room(b, size);
    if (q == NULL) return -1;
    uint64_t bits = (uint64_t)x;
    memcpy(q, &bits, (size_t)size);
    return 0;
}

/* A length that must fit struct's code (B or H or I). */
static int put_len(wr_t *b, Py_ssize_t n, char code) {
    long long hi = code == 'B' ? 255 : code == 'H' ? 65535 : UINT32_MAX;
    if (n > hi) {
        PyErr_Format(C.error, "'%c' format requires 0 <= number <= %lld", code, hi);
        return -1;
    }
    return put_c_int(b, n, code == 'B' ? 1 : code == 'H' ? 2 : 4);
}

/* struct's '6s': bytes or bytearray, cut or padded with zeros to 6 bytes. */
static int put_6s(wr_t *b, PyObject *v) {
    const char *s;
    Py_ssize_t n;
    if (PyBytes_Check(v)) { s = PyBytes_AS_STRING(v); n = PyBytes_GET_SIZE(v); }
    else if (PyByteArray_Check(v)) { s = PyByteArray_AS_STRING(v); n = PyByteArray_GET_SIZE(v); }
    else {
        PyErr_SetString(C.error, "argument for 's' must be a bytes object");
        return -1;
    }
    unsigned char *q = room(b, 6);
    if (q == NULL) return -1;
    memset(q, 0, 6);
    memcpy(q, s, (size_t)(n < 6 ? n : 6));
    return 0;
}

/* `None -> -1 else v` as 'h', and `None -> NaN else v` as 'd'. */
static int put_score(wr_t *b, PyObject *v) {
    return v == Py_None ? put_c_int(b, -1, 2) : put_int(b, v, 'h');
}

static int put_opt_f64(wr_t *b, PyObject *v) {
    return v == Py_None ? put_raw_f64(b, NAN) : put_f64(b, v);
}

/* Every item of a sequence as 'd'. */
static int put_f64s(wr_t *b, PyObject *seq) {
    PyObject *fast = PySequence_Fast(seq, "expected a sequence");
    if (fast == NULL) return -1;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(fast);
    PyObject **items = PySequence_Fast_ITEMS(fast);
    for (Py_ssize_t i = 0; i < n; i++)
        if (put_f64(b, items[i]) < 0) { Py_DECREF(fast); return -1; }
    Py_DECREF(fast);
    return 0;
}

/* sorted(values), every item as `code`. */
static int put_sorted(wr_t *b, PyObject *values, char code) {
    PyObject *list = PySequence_List(values);
    if (list == NULL) return -1;
    int rc = PyList_Sort(list);
    Py_ssize_t n = PyList_GET_SIZE(list);
    for (Py_ssize_t i = 0; rc == 0 && i < n; i++) rc = put_int(b, PyList_GET_ITEM(list, i), code);
    Py_DECREF(list);
    return rc;
}

/* A tuple of exactly n items (struct's `pack(*h)` arity check). */
static PyObject *items_of(PyObject *v, Py_ssize_t n) {
    PyObject *fast = PySequence_Fast(v, "expected a sequence");
    if (fast == NULL) return NULL;
    if (PySequence_Fast_GET_SIZE(fast) != n) {
        PyErr_Format(C.error, "pack expected %zd items for packing (got %zd)", n,
                     PySequence_Fast_GET_SIZE(fast));
        Py_DECREF(fast);
        return NULL;
    }
    return fast;
}

/* record.py's _state_bytes. */
static int put_state(wr_t *b, PyObject *s) {
    int rc = -1;
    PyObject *hl = NULL, *buckets = NULL, *totals = NULL, *misc = NULL, *ts = NULL,
             *decay = NULL, *recent = NULL, *features = NULL, *integ = NULL, *merged = NULL,
             *profile = NULL, *doc = NULL, *days = NULL, *tfast = NULL;
    if ((hl = get_slot(s, L_HALF_LIVES)) == NULL
        || (buckets = get_slot(s, L_BUCKETS)) == NULL
        || (totals = get_slot(s, L_TOTALS)) == NULL
        || (misc = get_slot(s, L_MISC)) == NULL
        || (ts = get_slot(s, L_TS)) == NULL
        || (decay = get_slot(s, L_DECAY)) == NULL
        || (recent = get_slot(s, L_RECENT)) == NULL
        || (features = get_slot(s, L_FEATURES)) == NULL
        || (integ = get_slot(s, L_INTEGRATIONS)) == NULL
        || (merged = get_slot(s, L_MERGED)) == NULL
        || (profile = get_slot(s, L_PROFILE)) == NULL)
        goto done;
    if (!PyDict_Check(buckets) || !PyDict_Check(recent)) {
        PyErr_SetString(PyExc_TypeError, "lead state buckets and recent must be dicts");
        goto done;
    }
    if ((days = PyDict_Keys(buckets)) == NULL || PyList_Sort(days) < 0) goto done;
    int truthy = PyObject_IsTrue(profile);
    if (truthy < 0) goto done;
    if (truthy) {
        if ((doc = PyObject_CallOneArg(C.dumps, profile)) == NULL) goto done;
        if (!PyBytes_Check(doc)) {
            PyErr_SetString(PyExc_TypeError, "orjson.dumps did not return bytes");
            goto done;
        }
    }
    if ((tfast = PySequence_Fast(totals, "totals must be a sequence")) == NULL) goto done;
    Py_ssize_t nhl = PyObject_Length(hl), nb = PyList_GET_SIZE(days), nr = PyDict_GET_SIZE(recent),
               k = PySequence_Fast_GET_SIZE(tfast), nm = PyObject_Length(misc),
               nt = PyObject_Length(ts), nd = PyObject_Length(decay),
               nf = PyObject_Length(features), ni = PyObject_Length(integ),
               nmg = PyObject_Length(merged);
    if (nhl < 0 || nm < 0 || nt < 0 || nd < 0 || nf < 0 || ni < 0 || nmg < 0) goto done;
    /* max(s.totals, default=0): Python's own comparison, then the narrowest width. */
    int w = 0;
    if (k) {
        PyObject *top = PySequence_Fast_GET_ITEM(tfast, 0);
        for (Py_ssize_t i = 1; i < k; i++) {
            PyObject *v = PySequence_Fast_GET_ITEM(tfast, i);
            int gt = PyObject_RichCompareBool(v, top, Py_GT);
            if (gt < 0) goto done;
            if (gt) top = v;
        }
        static const unsigned long long LIMIT[3] = {1ULL << 8, 1ULL << 16, 1ULL << 32};
        w = 3;
        for (int j = 0; j < 3; j++) {
            PyObject *lim = PyLong_FromUnsignedLongLong(LIMIT[j]);
            if (lim == NULL) goto done;
            int lt = PyObject_RichCompareBool(top, lim, Py_LT);
            Py_DECREF(lim);
            if (lt < 0) goto done;
            if (lt) { w = j; break; }
        }
    }
    PyObject *origin = get_slot(s, L_ORIGIN);
    if (origin == NULL) goto done;
    PyObject *ref = get_slot(s, L_DECAY_REF), *deal = get_slot(s, L_DEAL_VALUE);
    int bad = ref == NULL || deal == NULL
        || put_len(b, nhl, 'B') < 0 || put_len(b, nd, 'B') < 0 || put_len(b, k, 'B') < 0
        || put_len(b, nm, 'B') < 0 || put_len(b, nt, 'B') < 0 || put_len(b, nb, 'H') < 0
        || put_len(b, nr, 'H') < 0 || put_len(b, nf, 'H') < 0 || put_len(b, ni, 'H') < 0
        || put_len(b, nmg, 'H') < 0 || put_c_int(b, w, 1) < 0 || put_f64(b, ref) < 0
        || put_f64(b, deal) < 0 || put_int(b, origin, 'q') < 0
        || put_len(b, doc == NULL ? 0 : PyBytes_GET_SIZE(doc), 'I') < 0;
    Py_DECREF(origin);
    Py_XDECREF(ref);
    Py_XDECREF(deal);
    if (bad) goto done;
    if (put_f64s(b, hl) < 0 || put_f64s(b, decay) < 0 || put_f64s(b, misc) < 0
        || put_f64s(b, ts) < 0)
        goto done;
    char code = WIDTH_CODE[w];
    for (Py_ssize_t i = 0; i < k; i++)
        if (put_int(b, PySequence_Fast_GET_ITEM(tfast, i), code) < 0) goto done;
    if (nb) {
        for (Py_ssize_t j = 0; j < nb; j++)
            if (put_int(b, PyList_GET_ITEM(days, j), 'i') < 0) goto done;
        Py_ssize_t got = 0;
        for (Py_ssize_t j = 0; j < nb; j++) {
            PyObject *row = PyDict_GetItemWithError(buckets, PyList_GET_ITEM(days, j));
            if (row == NULL) {
                if (!PyErr_Occurred()) PyErr_SetObject(PyExc_KeyError, PyList_GET_ITEM(days, j));
                goto done;
            }
            PyObject *fast = PySequence_Fast(row, "a bucket must be a sequence");
            if (fast == NULL) goto done;
            Py_ssize_t n = PySequence_Fast_GET_SIZE(fast);
            got += n;
            if (got > nb * k) { Py_DECREF(fast); break; }
            for (Py_ssize_t i = 0; i < n; i++)
                if (put_int(b, PySequence_Fast_GET_ITEM(fast, i), code) < 0) {
                    Py_DECREF(fast);
                    goto done;
                }
            Py_DECREF(fast);
        }
        if (got != nb * k) {
            PyErr_Format(C.error, "pack expected %zd items for packing (got %zd or more)",
                         nb * k, got);
            goto done;
        }
    }
    if (nr) {
        PyObject *key, *value;
        Py_ssize_t pos = 0;
        while (PyDict_Next(recent, &pos, &key, &value))
            if (put_int(b, key, 'q') < 0) goto done;
        pos = 0;
        while (PyDict_Next(recent, &pos, &key, &value))
            if (put_f64(b, value) < 0) goto done;
    }
    if ((nf && put_sorted(b, features, 'I') < 0) || (ni && put_sorted(b, integ, 'I') < 0)
        || (nmg && put_sorted(b, merged, 'q') < 0))
        goto done;
    if (doc != NULL) {
        unsigned char *q = room(b, PyBytes_GET_SIZE(doc));
        if (q == NULL) goto done;
        memcpy(q, PyBytes_AS_STRING(doc), (size_t)PyBytes_GET_SIZE(doc));
    }
    rc = 0;
done:
    Py_XDECREF(hl); Py_XDECREF(buckets); Py_XDECREF(totals); Py_XDECREF(misc); Py_XDECREF(ts);
    Py_XDECREF(decay); Py_XDECREF(recent); Py_XDECREF(features); Py_XDECREF(integ);
    Py_XDECREF(merged); Py_XDECREF(profile); Py_XDECREF(doc); Py_XDECREF(days);
    Py_XDECREF(tfast);
    return rc;
}

/* An item of ts (record.py reads s.ts[T[...]]) as a double; -1 with an error set. */
static int ts_item(PyObject *ts, Py_ssize_t i, double *out) {
    PyObject *v = PySequence_GetItem(ts, i);
    if (v == NULL) return -1;
    double x = PyFloat_AsDouble(v);
    Py_DECREF(v);
    if (x == -1.0 && PyErr_Occurred()) return -1;
    *out = x;
    return 0;
}

static int put_head(wr_t *b, PyObject *rec, PyObject *s, PyObject *a) {
    int rc = -1;
    PyObject *ts = NULL, *score = NULL, *prob = NULL, *tier = NULL, *at = NULL, *hot = NULL,
             *hist = NULL, *spike_at = NULL, *spike = NULL, *decl_at = NULL, *decl = NULL,
             *pub = NULL, *pubp = NULL, *hfast = NULL;
    if ((ts = get_slot(s, L_TS)) == NULL) goto done;
    double last, conv, disq;
    if (ts_item(ts, C.t_last, &last) < 0 || ts_item(ts, C.t_converted, &conv) < 0
        || ts_item(ts, C.t_disqualified, &disq) < 0)
        goto done;
    if ((hot = PyObject_GetAttr(a, S_in_hot)) == NULL) goto done;
    int in_hot = PyObject_IsTrue(hot);
    if (in_hot < 0) goto done;
    int flags = (in_hot ? 1 : 0) | (isnan(conv) && isnan(disq) ? 0 : 2);
    if ((score = PyObject_GetAttr(rec, S_score)) == NULL
        || (prob = PyObject_GetAttr(rec, S_probability)) == NULL
        || (tier = PyObject_GetAttr(rec, S_tier)) == NULL
        || (at = PyObject_GetAttr(rec, S_scored_at)) == NULL
        || (hist = PyObject_GetAttr(a, S_history)) == NULL
        || (spike_at = PyObject_GetAttr(a, S_last_spike_at)) == NULL
        || (spike = PyObject_GetAttr(a, S_spike_score)) == NULL
        || (decl_at = PyObject_GetAttr(a, S_last_decline_at)) == NULL
        || (decl = PyObject_GetAttr(a, S_decline_score)) == NULL
        || (pub = PyObject_GetAttr(rec, S_published_score)) == NULL
        || (pubp = PyObject_GetAttr(rec, S_published_probability)) == NULL)
        goto done;
    PyObject *code = PyDict_GetItemWithError(C.tier_code, tier);
    if (code == NULL) {
        if (!PyErr_Occurred()) PyErr_SetObject(PyExc_KeyError, tier);
        goto done;
    }
    if ((hfast = PySequence_Fast(hist, "alert history must be a sequence")) == NULL) goto done;
    Py_ssize_t nh = PySequence_Fast_GET_SIZE(hfast);
    if (put_c_int(b, FMT, 1) < 0 || put_c_int(b, flags, 1) < 0 || put_score(b, score) < 0
        || put_opt_f64(b, prob) < 0 || put_int(b, code, 'B') < 0 || put_opt_f64(b, at) < 0
        || put_raw_f64(b, last) < 0 || put_opt_f64(b, spike_at) < 0 || put_score(b, spike) < 0
        || put_opt_f64(b, decl_at) < 0 || put_score(b, decl) < 0 || put_len(b, nh, 'H') < 0
        || put_score(b, pub) < 0 || put_opt_f64(b, pubp) < 0)
        goto done;
    if (nh) {
        /* times as 'd', then scores as 'h': each entry is a (time, score) pair. */
        Py_ssize_t base = b->n;
        if (room(b, 10 * nh) == NULL) goto done;
        b->n = base;
        for (int pass = 0; pass < 2; pass++)
            for (Py_ssize_t i = 0; i < nh; i++) {
                PyObject *pair = PySequence_Fast(PySequence_Fast_GET_ITEM(hfast, i),
                                                 "an alert history entry must be a pair");
                if (pair == NULL) goto done;
                if (PySequence_Fast_GET_SIZE(pair) != 2) {
                    PyErr_Format(PyExc_ValueError, "expected 2 values to unpack (got %zd)",
                                 PySequence_Fast_GET_SIZE(pair));
                    Py_DECREF(pair);
                    goto done;
                }
                int r2 = pass == 0 ? put_f64(b, PySequence_Fast_GET_ITEM(pair, 0))
                                   : put_int(b, PySequence_Fast_GET_ITEM(pair, 1), 'h');
                Py_DECREF(pair);
                if (r2 < 0) goto done;
            }
    }
    rc = 0;
done:
    Py_XDECREF(ts); Py_XDECREF(score); Py_XDECREF(prob); Py_XDECREF(tier); Py_XDECREF(at);
    Py_XDECREF(hot); Py_XDECREF(hist); Py_XDECREF(spike_at); Py_XDECREF(spike);
    Py_XDECREF(decl_at); Py_XDECREF(decl); Py_XDECREF(pub); Py_XDECREF(pubp);
    Py_XDECREF(hfast);
    return rc;
}

/* The trailer: score history, observations, contacted_at and the two counts. */
static int put_trailer(wr_t *b, PyObject *rec) {
    int rc = -1;
    PyObject *days = NULL, *obs = NULL, *contacted = NULL, *dfast = NULL, *ofast = NULL;
    if ((days = PyObject_GetAttr(rec, S_history)) == NULL
        || (obs = PyObject_GetAttr(rec, S_observed)) == NULL
        || (contacted = PyObject_GetAttr(rec, S_contacted_at)) == NULL
        || (dfast = PySequence_Fast(days, "history must be a sequence")) == NULL
        || (ofast = PySequence_Fast(obs, "observed must be a sequence")) == NULL)
        goto done;
    Py_ssize_t nh = PySequence_Fast_GET_SIZE(dfast), no = PySequence_Fast_GET_SIZE(ofast);
    for (Py_ssize_t i = 0; i < nh; i++) {
        PyObject *h = items_of(PySequence_Fast_GET_ITEM(dfast, i), 3);
        if (h == NULL) goto done;
        PyObject **v = PySequence_Fast_ITEMS(h);
        int bad = put_int(b, v[0], 'i') < 0 || put_f32(b, v[1]) < 0 || put_6s(b, v[2]) < 0;
        Py_DECREF(h);
        if (bad) goto done;
    }
    for (Py_ssize_t i = 0; i < no; i++) {
        PyObject *o = items_of(PySequence_Fast_GET_ITEM(ofast, i), 5);
        if (o == NULL) goto done;
        PyObject **v = PySequence_Fast_ITEMS(o);
        int bad = put_int(b, v[0], 'B') < 0 || put_int(b, v[1], 'B') < 0
            || put_f32(b, v[2]) < 0 || put_6s(b, v[3]) < 0 || put_int(b, v[4], 'i') < 0;
        Py_DECREF(o);
        if (bad) goto done;
    }
    if (put_opt_f64(b, contacted) < 0 || put_len(b, nh, 'B') < 0 || put_len(b, no, 'B') < 0)
        goto done;
    rc = 0;
done:
    Py_XDECREF(days); Py_XDECREF(obs); Py_XDECREF(contacted); Py_XDECREF(dfast);
    Py_XDECREF(ofast);
    return rc;
}

static PyObject *encode(PyObject *self, PyObject *rec) {
    (void)self;
    if (!C.ready) {
        PyErr_SetString(PyExc_RuntimeError, "streams.core._record.configure() was not called");
        return NULL;
    }
    PyObject *s = PyObject_GetAttr(rec, S_state), *a = NULL, *out = NULL;
    wr_t b = {NULL, 0, 0}; /* room() allocates (a record is a few hundred bytes) */
    if (s == NULL || (a = PyObject_GetAttr(rec, S_alert)) == NULL) goto done;
    if (put_head(&b, rec, s, a) < 0 || put_state(&b, s) < 0 || put_trailer(&b, rec) < 0)
        goto done;
    out = PyBytes_FromStringAndSize((const char *)b.p, b.n);
done:
    PyMem_Free(b.p);
    Py_XDECREF(s);
    Py_XDECREF(a);
    return out;
}

/* ----------------------------------------------------------------------------- set-up */

static PyObject *configure(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *record, *state, *alert, *loads, *dumps, *error, *tiers, *tier_code;
    Py_ssize_t per_hl, channels, misc, ts, t_last, t_conv, t_disq;
    if (!PyArg_ParseTuple(args, "O!O!O!OOOO!O!nnnnnnn:configure", &PyType_Type, &record,
                          &PyType_Type, &state, &PyType_Type, &alert, &loads, &dumps, &error,
                          &PyTuple_Type, &tiers, &PyDict_Type, &tier_code, &per_hl, &channels,
                          &misc, &ts, &t_last, &t_conv, &t_disq))
        return NULL;
    if (PyTuple_GET_SIZE(tiers) != 4 || t_last < 0 || t_conv < 0 || t_disq < 0) {
        PyErr_SetString(PyExc_ValueError, "configure: 4 tiers and timestamp indexes expected");
        return NULL;
    }
    PyObject **slots[] = {&C.record, &C.state, &C.alert, &C.loads, &C.dumps, &C.error,
                          &C.tiers, &C.tier_code};
    PyObject *vals[] = {record, state, alert, loads, dumps, error, tiers, tier_code};
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
        Py_INCREF(vals[i]);
        Py_XSETREF(*slots[i], vals[i]);
    }
    for (int i = 0; i < L_COUNT; i++) {
        SLOT_AT[i] = 0;
        PyObject *d = PyDict_GetItemWithError(((PyTypeObject *)state)->tp_dict, *SLOT_NAME[i]);
        if (d == NULL && PyErr_Occurred()) return NULL;
        if (d != NULL && Py_IS_TYPE(d, &PyMemberDescr_Type)) {
            PyMemberDef *m = ((PyMemberDescrObject *)d)->d_member;
            if (m->type == T_OBJECT_EX && !(m->flags & READONLY) && m->offset > 0)
                SLOT_AT[i] = m->offset;
        }
    }
    C.per_half_life = per_hl;
    C.channels = channels;
    C.misc = misc;
    C.ts = ts;
    C.t_last = t_last;
    C.t_converted = t_conv;
    C.t_disqualified = t_disq;
    C.ready = 1;
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"configure", configure, METH_VARARGS,
     "configure(LeadRecord, LeadState, AlertState, orjson.loads, orjson.dumps, struct.error, "
     "tiers, tier_code, sums per half-life, channels, misc, timestamps, T['last'], "
     "T['converted'], T['disqualified']): what record.py's codec reads from its imports"},
    {"decode", decode, METH_O, "decode(raw) -> LeadRecord: formats 2, 3 and 4"},
    {"encode", encode, METH_O, "encode(rec) -> bytes: format 4, byte for byte to_bytes()"},
    {"untrack", untrack, METH_O,
     "untrack(obj) -> bool: take a record (or a tuple, list, dict or set of records and "
     "plain values) out of the cyclic garbage collector's sight, bottom up; True when all "
     "of it is now untracked"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_record",
                                    "The lead record codec in C (see _record.c).", -1, methods,
                                    NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit__record(void) {
    struct { PyObject **slot; const char *name; } names[] = {
        {&S_state, "state"}, {&S_score, "score"}, {&S_probability, "probability"},
        {&S_tier, "tier"}, {&S_scored_at, "scored_at"}, {&S_alert, "alert"},
        {&S_published_score, "published_score"},
        {&S_published_probability, "published_probability"},
        {&S_contacted_at, "contacted_at"}, {&S_history, "history"}, {&S_observed, "observed"},
        {&S_in_hot, "in_hot"}, {&S_last_spike_at, "last_spike_at"},
        {&S_spike_score, "spike_score"}, {&S_last_decline_at, "last_decline_at"},
        {&S_decline_score, "decline_score"}, {&S_half_lives, "half_lives"},
        {&S_buckets, "buckets"}, {&S_totals, "totals"}, {&S_misc, "misc"}, {&S_ts, "ts"},
        {&S_decay, "decay"}, {&S_decay_ref, "decay_ref"}, {&S_recent, "recent"},
        {&S_features, "features"}, {&S_integrations, "integrations"},
        {&S_profile, "profile"}, {&S_deal_value, "deal_value"}, {&S_origin, "origin"},
        {&S_merged, "merged"},
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        *names[i].slot = PyUnicode_InternFromString(names[i].name);
        if (*names[i].slot == NULL) return NULL;
    }
    return PyModule_Create(&module);
}
