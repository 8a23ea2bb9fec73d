/*
 * Walk every Sample of a pprof Profile message in compiled code.
 *
 * Why this exists: a big heap profile has hundreds of thousands of samples.
 * upb (the protobuf package's C backend) parses the whole message in a few
 * milliseconds, but handing each sample to Python costs a bytes object per
 * sample, and the vectorised numpy walk in _pprof_samples.py still touches
 * every byte a dozen times; together that was two thirds of `leakhunter top`.
 *
 * Two passes:
 *  1. walk: every sample's fields are visited once, in file order. Values are
 *     decoded straight into the (n, k) matrix; the location-id bytes and label
 *     fields of each sample are located (in the file itself when they are one
 *     run, as every pprof writer makes them, else gathered into a side buffer)
 *     and hashed.
 *  2. intern: stacks and label sets are interned on their encoded bytes, in
 *     first-seen order, so only distinct stacks get decoded. The hash table is
 *     far larger than the CPU caches, so each probe is prefetched a few samples
 *     ahead (a miss per sample dominated a version that interned while walking).
 *
 * The module has one function, scan(raw, n, k). It returns None when the
 * top-level message is not shaped the way upb read it (then the caller takes
 * the numpy path, which follows upb exactly), raises ValueError naming the
 * problem when a sample is corrupt, and otherwise returns buffers numpy wraps
 * without copying:
 *
 *   (stack_offsets int64[S+1], location_ids uint{8,16,32,64}[], id_itemsize,
 *    sample_stack int64[n], values int64[n*k], label_blobs list[bytes] | None,
 *    sample_label int64[n] | None)
 *
 * Built as an optional extension (setup.py); without a C compiler the numpy
 * path is used and gives the same answers (tests/test_pprof_native.py).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* E_VALUES: a sample has the wrong number of values (Walk says which, how many).
 * E_SHAPE: the top level is not what upb saw (not a sample's fault): use numpy. */
enum { OK = 0, E_TRUNC_VARINT, E_LONG_VARINT, E_TAG, E_TRUNC_FIELD, E_NOMEM, E_VALUES, E_SHAPE };

static const char *const MESSAGES[] = {
    "", "truncated varint", "varint longer than 10 bytes", "invalid field tag", "truncated field",
};

/* How many samples ahead the intern pass prefetches its hash slot. */
#define AHEAD 12
#define AHEAD_RING 16 /* a power of two above AHEAD */
#if defined(__GNUC__) || defined(__clang__)
#define PREFETCH(p) __builtin_prefetch(p)
#else
#define PREFETCH(p) ((void)(p))
#endif

/* ---- growable byte buffer (for the rare samples with split fields) ------- */

typedef struct {
    uint8_t *p;
    size_t len, cap;
} Buf;

static int buf_add(Buf *b, const uint8_t *src, size_t n)
{
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n)
            cap *= 2;
        uint8_t *p = realloc(b->p, cap);
        if (!p)
            return E_NOMEM;
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, src, n);
    b->len += n;
    return OK;
}

/* ---- varints ------------------------------------------------------------- */

static inline int read_varint(const uint8_t **pp, const uint8_t *end, uint64_t *out)
{
    const uint8_t *p = *pp;
    uint64_t v = 0;
    for (int shift = 0; shift < 70; shift += 7) {
        if (p >= end)
            return E_TRUNC_VARINT;
        uint8_t byte = *p++;
        v |= (uint64_t)(byte & 0x7F) << shift;
        if (byte < 0x80) {
            *out = v;
            *pp = p;
            return OK;
        }
    }
    return E_LONG_VARINT;
}

/* Skip a field's payload by wire type (groups are not used by profile.proto). */
static inline int skip_field(const uint8_t **pp, const uint8_t *end, unsigned wire)
{
    uint64_t len;
    int err;
    switch (wire) {
    case 0:
        return read_varint(pp, end, &len);
    case 1:
        len = 8;
        break;
    case 2:
        if ((err = read_varint(pp, end, &len)))
            return err;
        break;
    case 5:
        len = 4;
        break;
    default:
        return E_TAG;
    }
    if (len > (uint64_t)(end - *pp))
        return E_TRUNC_FIELD;
    *pp += len;
    return OK;
}

/* ---- keys: a sample's location-id bytes or label fields ------------------ */

/* Where a key's bytes are: off >= 0 in the file, off < 0 at -off - 1 in the side buffer. */
typedef struct {
    int64_t off, len;
} KeyRef;

static inline uint64_t mix(uint64_t h)
{
    h ^= h >> 31;
    h *= 0x7FB5D329728EA185ULL;
    h ^= h >> 27;
    h *= 0x81DADEF4BC2DD44DULL;
    return h ^ (h >> 33);
}

/* Hash of a byte string, never 0 (0 marks an empty slot). */
static uint64_t hash_bytes(const uint8_t *p, size_t n)
{
    uint64_t h = 0x9E3779B97F4A7C15ULL * (n + 1);
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        h = mix(h ^ w);
        p += 8;
        n -= 8;
    }
    uint64_t w = 0;
    memcpy(&w, p, n);
    return mix(h ^ w) | 1;
}

/* A key being built while its sample is walked: one run of the file, or gathered. */
typedef struct {
    const uint8_t *start, *end; /* the run so far (start NULL: none yet) */
    int gathered;               /* pieces were not adjacent: they are in side[] */
    size_t side_at;             /* where this key starts in side[] */
} Builder;

static int builder_add(Builder *b, Buf *side, const uint8_t *d, const uint8_t *e)
{
    if (!b->start) {
        b->start = d;
        b->end = e;
        return OK;
    }
    if (!b->gathered && d == b->end) { /* adjacent to the run: extend it */
        b->end = e;
        return OK;
    }
    if (!b->gathered) { /* first split: move the run so far to the side buffer */
        b->gathered = 1;
        b->side_at = side->len;
        if (buf_add(side, b->start, (size_t)(b->end - b->start)))
            return E_NOMEM;
    }
    return buf_add(side, d, (size_t)(e - d));
}

static KeyRef builder_key(const Builder *b, const Buf *side, const uint8_t *base)
{
    KeyRef k;
    if (!b->start) {
        k.off = 0;
        k.len = 0;
    } else if (b->gathered) {
        k.off = -(int64_t)b->side_at - 1;
        k.len = (int64_t)(side->len - b->side_at);
    } else {
        k.off = b->start - base;
        k.len = b->end - b->start;
    }
    return k;
}

/* ---- pass 1: the walk ------------------------------------------------------ */

typedef struct {
    const uint8_t *base;       /* the file */
    Py_ssize_t len, k;
    int64_t *values;           /* n * k, in the result */
    KeyRef *loc, *lab;         /* per sample */
    Buf side;                  /* gathered keys */
    int any_labels;
    Py_ssize_t bad_sample, bad_count;
} Walk;

static int walk_sample(Walk *w, Py_ssize_t i, const uint8_t *p, const uint8_t *end)
{
    int err;
    Py_ssize_t nvals = 0;
    int64_t *vals = w->values ? w->values + i * w->k : NULL;
    Builder loc = {0}, lab = {0};
    while (p < end) {
        const uint8_t *field_start = p;
        uint64_t tag;
        if ((err = read_varint(&p, end, &tag)))
            return err;
        uint64_t number = tag >> 3;
        unsigned wire = (unsigned)(tag & 7);
        if (number == 0)
            return E_TAG;
        if ((number == 1 || number == 2) && (wire == 0 || wire == 2)) {
            const uint8_t *d = p, *e;
            uint64_t len;
            if ((err = read_varint(&p, end, &len)))
                return err;
            if (wire == 0) { /* unpacked: the lone varint is a packed piece of one */
                e = p;
            } else {
                if (len > (uint64_t)(end - p))
                    return E_TRUNC_FIELD;
                d = p;
                e = p = p + len;
            }
            if (d < e && e[-1] >= 0x80)
                return E_TRUNC_VARINT; /* it would run into what follows */
            if (number == 1) {
                if ((err = builder_add(&loc, &w->side, d, e)))
                    return err;
                continue;
            }
            while (d < e) {
                uint64_t v;
                if ((err = read_varint(&d, e, &v)))
                    return err;
                if (vals && nvals < w->k)
                    vals[nvals] = (int64_t)v;
                nvals++;
            }
            continue;
        }
        if ((err = skip_field(&p, end, wire)))
            return err;
        if (number == 3 && wire == 2 && (err = builder_add(&lab, &w->side, field_start, p)))
            return err;
    }
    if (nvals != w->k) {
        w->bad_sample = i;
        w->bad_count = nvals;
        return E_VALUES;
    }
    w->loc[i] = builder_key(&loc, &w->side, w->base);
    w->lab[i] = builder_key(&lab, &w->side, w->base);
    w->any_labels |= lab.start != NULL;
    return OK;
}

/* ---- pass 2: interning ----------------------------------------------------- */

typedef struct {
    uint64_t hash; /* 0: empty */
    int64_t index;
} Slot;

typedef struct {
    Slot *slots;
    size_t mask;
    int64_t *first; /* sample that first had each distinct key */
    int64_t count;
} Table;

static inline const uint8_t *key_bytes(const Walk *w, KeyRef k)
{
    return k.off >= 0 ? w->base + k.off : w->side.p + (-k.off - 1);
}

static int table_grow(Table *t, size_t cap)
{
    Slot *slots = calloc(cap, sizeof *slots);
    int64_t *first = realloc(t->first, (cap / 2 + 1) * sizeof *first);
    if (!slots || !first) {
        free(slots);
        if (first)
            t->first = first;
        return E_NOMEM;
    }
    t->first = first;
    if (t->slots) {
        for (size_t i = 0; i <= t->mask; i++) {
            if (!t->slots[i].hash)
                continue;
            size_t j = (t->slots[i].hash >> 7) & (cap - 1);
            while (slots[j].hash)
                j = (j + 1) & (cap - 1);
            slots[j] = t->slots[i];
        }
        free(t->slots);
    }
    t->slots = slots;
    t->mask = cap - 1;
    return OK;
}

/* Give every sample the index of its key among the distinct keys (first-seen order).
 * `expected` sizes the table (it grows past half full): the number of samples for
 * stacks, which are mostly distinct in big profiles; a few for label sets. */
static int intern(const Walk *w, const KeyRef *keys, Py_ssize_t n, size_t expected,
                  int64_t *out, Table *t)
{
    size_t cap = 16;
    while (cap < 2 * expected)
        cap *= 2;
    t->count = 0;
    if (table_grow(t, cap))
        return E_NOMEM;
    uint64_t ahead[AHEAD_RING]; /* hashes of the next samples, for prefetching */
    for (Py_ssize_t i = 0; i < n && i < AHEAD; i++)
        ahead[i] = hash_bytes(key_bytes(w, keys[i]), (size_t)keys[i].len);
    for (Py_ssize_t i = 0; i < n; i++) {
        uint64_t h = ahead[i % AHEAD_RING];
        if (i + AHEAD < n) {
            uint64_t later = hash_bytes(key_bytes(w, keys[i + AHEAD]), (size_t)keys[i + AHEAD].len);
            ahead[(i + AHEAD) % AHEAD_RING] = later;
            PREFETCH(&t->slots[(later >> 7) & t->mask]);
        }
        const uint8_t *key = key_bytes(w, keys[i]);
        size_t j = (h >> 7) & t->mask;
        for (;; j = (j + 1) & t->mask) {
            Slot *s = &t->slots[j];
            if (!s->hash) { /* new key */
                s->hash = h;
                s->index = t->count;
                t->first[t->count] = i;
                out[i] = t->count++;
                if (2 * (size_t)t->count > t->mask + 1 && table_grow(t, 4 * (t->mask + 1)))
                    return E_NOMEM;
                break;
            }
            if (s->hash == h) {
                KeyRef other = keys[t->first[s->index]];
                if (other.len == keys[i].len &&
                    memcmp(key_bytes(w, other), key, (size_t)other.len) == 0) {
                    out[i] = s->index;
                    break;
                }
            }
        }
    }
    return OK;
}

/* ---- the result -------------------------------------------------------------- */

/* Check the distinct stacks' packed ids (each ends a varint, none over 10 bytes);
 * count the ids and find the longest varint. */
static int check_ids(const Walk *w, const KeyRef *loc, const Table *t, Py_ssize_t *total,
                     int *widest)
{
    Py_ssize_t count = 0;
    int longest = 1;
    for (int64_t s = 0; s < t->count; s++) {
        KeyRef k = loc[t->first[s]];
        const uint8_t *p = key_bytes(w, k);
        int run = 0;
        for (int64_t i = 0; i < k.len; i++) {
            if (p[i] >= 0x80) {
                if (++run >= 10)
                    return E_LONG_VARINT;
            } else {
                count++;
                if (run + 1 > longest)
                    longest = run + 1;
                run = 0;
            }
        }
        if (run)
            return E_TRUNC_VARINT;
    }
    *total = count;
    *widest = longest <= 1 ? 1 : longest <= 2 ? 2 : longest <= 4 ? 4 : 8;
    return OK;
}

#define DECODE_INTO(T)                                                           \
    do {                                                                         \
        T *o = (T *)out;                                                         \
        for (int64_t s = 0; s < t->count; s++) {                                 \
            KeyRef k = loc[t->first[s]];                                         \
            const uint8_t *p = key_bytes(w, k), *end = p + k.len;                \
            while (p < end) {                                                    \
                if (*p < 0x80) {                                                 \
                    *o++ = (T)*p++;                                              \
                } else {                                                         \
                    uint64_t v = 0;                                              \
                    read_varint(&p, end, &v);                                    \
                    *o++ = (T)v;                                                 \
                }                                                                \
            }                                                                    \
            offsets[s + 1] = o - (T *)out;                                       \
        }                                                                        \
    } while (0)

/* Decode the distinct stacks' ids, each `width` bytes wide, and their CSR offsets. */
static void decode_stacks(const Walk *w, const KeyRef *loc, const Table *t, int width,
                          uint8_t *out, int64_t *offsets)
{
    offsets[0] = 0;
    switch (width) {
    case 1: DECODE_INTO(uint8_t); break;
    case 2: DECODE_INTO(uint16_t); break;
    case 4: DECODE_INTO(uint32_t); break;
    default: DECODE_INTO(uint64_t); break;
    }
}

static PyObject *label_blobs(const Walk *w, const KeyRef *lab, const Table *t)
{
    PyObject *blobs = PyList_New(t->count);
    if (!blobs)
        return NULL;
    for (int64_t j = 0; j < t->count; j++) {
        KeyRef k = lab[t->first[j]];
        PyObject *b = PyBytes_FromStringAndSize((const char *)key_bytes(w, k), k.len);
        if (!b) {
            Py_DECREF(blobs);
            return NULL;
        }
        PyList_SET_ITEM(blobs, j, b);
    }
    return blobs;
}

/* ---- scan() ----------------------------------------------------------------- */

typedef struct {
    PyObject *rest, *sample_stack, *values, *sample_label, *ids, *offsets, *blobs;
    Table stacks, labels;
    Walk w;
    Py_ssize_t n, k, total;
    int width;
} Scan;

static void scan_free(Scan *s)
{
    Py_XDECREF(s->rest);
    Py_XDECREF(s->sample_stack);
    Py_XDECREF(s->values);
    Py_XDECREF(s->sample_label);
    Py_XDECREF(s->ids);
    Py_XDECREF(s->offsets);
    Py_XDECREF(s->blobs);
    free(s->stacks.slots);
    free(s->stacks.first);
    free(s->labels.slots);
    free(s->labels.first);
    free(s->w.loc);
    free(s->w.lab);
    free(s->w.side.p);
}

/* Read the top-level field at *pp: its tag, and where its payload starts and ends.
 * Anything upb (which parses these files too) would not take is E_SHAPE. */
static inline int top_field(const uint8_t **pp, const uint8_t *end, uint64_t *tag,
                            const uint8_t **payload)
{
    if (read_varint(pp, end, tag) || (*tag >> 3) == 0)
        return E_SHAPE;
    *payload = *pp;
    if ((*tag & 7) == 2) {
        uint64_t len;
        if (read_varint(pp, end, &len) || len > (uint64_t)(end - *pp))
            return E_SHAPE;
        *payload = *pp;
        *pp += len;
        return OK;
    }
    return skip_field(pp, end, (unsigned)(*tag & 7)) ? E_SHAPE : OK;
}

#define SAMPLE_TAG ((2 << 3) | 2)
#define SAMPLE_TYPE_TAG ((1 << 3) | 2)

/* First pass over the top level: count samples and sample types, size the rest. */
static int count_fields(const uint8_t *p, const uint8_t *end, Scan *s, size_t *rest_len)
{
    size_t rest = 0;
    while (p < end) {
        const uint8_t *start = p, *payload;
        uint64_t tag;
        if (top_field(&p, end, &tag, &payload))
            return E_SHAPE;
        if (tag == SAMPLE_TAG) {
            s->n++;
            continue;
        }
        s->k += tag == SAMPLE_TYPE_TAG;
        rest += (size_t)(p - start);
    }
    *rest_len = rest;
    return OK;
}

/* Second pass: copy the other fields to rest, walk every sample. */
static int walk(Scan *s, const uint8_t *p, const uint8_t *end)
{
    uint8_t *rest = (uint8_t *)PyBytes_AS_STRING(s->rest);
    Py_ssize_t i = 0;
    while (p < end) {
        const uint8_t *start = p, *payload = p;
        uint64_t tag = 0;
        top_field(&p, end, &tag, &payload); /* checked by count_fields */
        if (tag != SAMPLE_TAG) {
            memcpy(rest, start, (size_t)(p - start));
            rest += p - start;
            continue;
        }
        int err = walk_sample(&s->w, i++, payload, p);
        if (err)
            return err;
    }
    return OK;
}

static int run(Scan *s)
{
    Walk *w = &s->w;
    const uint8_t *end = w->base + w->len;
    /* Every value takes a byte at least: more than the file holds means some
     * sample is short, which the walk finds without writing the matrix. */
    w->values = PyBytes_GET_SIZE(s->values) ? (int64_t *)PyBytes_AS_STRING(s->values) : NULL;
    w->loc = malloc(((size_t)s->n + 1) * sizeof *w->loc);
    w->lab = malloc(((size_t)s->n + 1) * sizeof *w->lab);
    if (!w->loc || !w->lab)
        return E_NOMEM;
    int err = walk(s, w->base, end);
    if (!err)
        err = intern(w, w->loc, s->n, (size_t)s->n, (int64_t *)PyBytes_AS_STRING(s->sample_stack),
                     &s->stacks);
    if (!err && w->any_labels)
        err = intern(w, w->lab, s->n, 64, (int64_t *)PyBytes_AS_STRING(s->sample_label),
                     &s->labels);
    if (!err)
        err = check_ids(w, w->loc, &s->stacks, &s->total, &s->width);
    return err;
}

static PyObject *scan(PyObject *self, PyObject *arg)
{
    Py_buffer raw;
    (void)self;
    if (PyObject_GetBuffer(arg, &raw, PyBUF_SIMPLE))
        return NULL;
    Scan s;
    memset(&s, 0, sizeof s);
    PyObject *result = NULL;
    const uint8_t *base = raw.buf;
    size_t rest_len = 0;
    int err;
    Py_BEGIN_ALLOW_THREADS
    err = count_fields(base, base + raw.len, &s, &rest_len);
    Py_END_ALLOW_THREADS
    if (err) {
        result = Py_NewRef(Py_None);
        goto done;
    }
    s.w.base = base;
    s.w.len = raw.len;
    s.w.k = s.k;
    s.rest = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)rest_len);
    s.sample_stack = PyBytes_FromStringAndSize(NULL, s.n * 8);
    s.values = PyBytes_FromStringAndSize(NULL, s.k && s.n > raw.len / s.k ? 0 : s.n * s.k * 8);
    s.sample_label = PyBytes_FromStringAndSize(NULL, s.n * 8);
    if (!s.rest || !s.sample_stack || !s.values || !s.sample_label)
        goto done;
    Py_BEGIN_ALLOW_THREADS
    err = run(&s);
    Py_END_ALLOW_THREADS
    if (!err && s.n && s.k && !PyBytes_GET_SIZE(s.values))
        err = E_SHAPE; /* cannot be: short samples were promised */
    if (err == E_SHAPE) {
        result = Py_NewRef(Py_None);
        goto done;
    }
    if (err == E_VALUES) {
        PyErr_Format(PyExc_ValueError, "sample %zd has %zd values, expected %zd", s.w.bad_sample,
                     s.w.bad_count, s.k);
        goto done;
    }
    if (err == E_NOMEM) {
        PyErr_NoMemory();
        goto done;
    }
    if (err) {
        PyErr_SetString(PyExc_ValueError, MESSAGES[err]);
        goto done;
    }
    s.ids = PyBytes_FromStringAndSize(NULL, s.total * s.width);
    s.offsets = PyBytes_FromStringAndSize(NULL, (s.stacks.count + 1) * 8);
    if (!s.ids || !s.offsets)
        goto done;
    decode_stacks(&s.w, s.w.loc, &s.stacks, s.width, (uint8_t *)PyBytes_AS_STRING(s.ids),
                  (int64_t *)PyBytes_AS_STRING(s.offsets));
    if (s.w.any_labels) {
        if (!(s.blobs = label_blobs(&s.w, s.w.lab, &s.labels)))
            goto done;
    } else {
        s.blobs = Py_NewRef(Py_None);
        Py_SETREF(s.sample_label, Py_NewRef(Py_None));
    }
    result = Py_BuildValue("(OnnOOiOOOO)", s.rest, s.n, s.k, s.offsets, s.ids, s.width,
                           s.sample_stack, s.values, s.blobs, s.sample_label);
done:
    scan_free(&s);
    PyBuffer_Release(&raw);
    return result;
}

/* ---- or_reduce() --------------------------------------------------------------- */

static inline uint64_t load(const uint8_t *p, Py_ssize_t i, int size)
{
    switch (size) {
    case 1: return p[i];
    case 2: return ((const uint16_t *)p)[i];
    case 4: return ((const uint32_t *)p)[i];
    default: return ((const uint64_t *)p)[i];
    }
}

static inline void store(uint8_t *p, Py_ssize_t i, int size, uint64_t v)
{
    switch (size) {
    case 1: p[i] = (uint8_t)v; break;
    case 2: ((uint16_t *)p)[i] = (uint16_t)v; break;
    case 4: ((uint32_t *)p)[i] = (uint32_t)v; break;
    default: ((uint64_t *)p)[i] = v; break;
    }
}

#define OR_LOOP(TI)                                                                     \
    for (Py_ssize_t b = 0; b < nseg; b++) {                                             \
        const TI *it = (const TI *)items.buf;                                           \
        uint64_t acc = 0;                                                               \
        for (int64_t j = st[b]; j < en[b]; j++) {                                       \
            uint64_t at = (uint64_t)it[j];                                              \
            if (at >= ncol) {                                                           \
                bad = 1;                                                                \
                break;                                                                  \
            }                                                                           \
            acc |= load(column.buf, (Py_ssize_t)at, csize);                             \
        }                                                                               \
        store(out, b, csize, acc);                                                      \
    }

static PyObject *or_reduce(PyObject *self, PyObject *args)
{
    Py_buffer column, items, starts, ends;
    int csize, isize;
    (void)self;
    if (!PyArg_ParseTuple(args, "y*iy*iy*y*:or_reduce", &column, &csize, &items, &isize, &starts,
                          &ends))
        return NULL;
    PyObject *result = NULL;
    Py_ssize_t nseg = starts.len / 8, nitems = items.len / (isize > 0 ? isize : 1);
    const int64_t *st = starts.buf, *en = ends.buf;
    uint64_t ncol = (uint64_t)(column.len / (csize > 0 ? csize : 1));
    int bad = 0;
    if ((csize != 1 && csize != 2 && csize != 4 && csize != 8) ||
        (isize != 1 && isize != 2 && isize != 4 && isize != 8) || ends.len != starts.len ||
        column.len % csize || items.len % isize || starts.len % 8) {
        PyErr_SetString(PyExc_ValueError, "or_reduce: bad buffer sizes");
        goto done;
    }
    for (Py_ssize_t b = 0; b < nseg; b++)
        if (st[b] < 0 || st[b] > en[b] || en[b] > nitems) {
            PyErr_SetString(PyExc_ValueError, "or_reduce: segment out of range");
            goto done;
        }
    result = PyBytes_FromStringAndSize(NULL, nseg * csize);
    if (!result)
        goto done;
    uint8_t *out = (uint8_t *)PyBytes_AS_STRING(result);
    Py_BEGIN_ALLOW_THREADS
    switch (isize) {
    case 1: OR_LOOP(uint8_t); break;
    case 2: OR_LOOP(uint16_t); break;
    case 4: OR_LOOP(uint32_t); break;
    default: OR_LOOP(uint64_t); break;
    }
    Py_END_ALLOW_THREADS
    if (bad) {
        Py_CLEAR(result);
        PyErr_SetString(PyExc_ValueError, "or_reduce: item out of range");
    }
done:
    PyBuffer_Release(&column);
    PyBuffer_Release(&items);
    PyBuffer_Release(&starts);
    PyBuffer_Release(&ends);
    return result;
}

static PyMethodDef methods[] = {
    {"scan", scan, METH_O,
     "scan(raw): split a pprof Profile message into its other fields and its samples, "
     "interned and decoded (see _native.c)."},
    {"or_reduce", or_reduce, METH_VARARGS,
     "or_reduce(column, column_itemsize, items, items_itemsize, starts, ends): per segment, "
     "the OR of column[items[j]] over items[starts[b]:ends[b]]."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    .m_base = PyModuleDef_HEAD_INIT,
    .m_name = "_native",
    .m_doc = "leakhunter's compiled kernels (see _native.c).",
    .m_size = -1,
    .m_methods = methods,
};

PyMODINIT_FUNC PyInit__native(void) { return PyModule_Create(&module); }
