/* dsp_ext._tick: the media tick's C calls, made without giving the interpreter lock away.
 *
 * cffi releases the lock around every C call and takes it back afterwards. On the media thread,
 * while another thread of the engine wants the lock (the API server under web load, a writer
 * thread just woken), taking it back can cost up to the interpreter's switch interval, per call.
 * The per-tick batches are short and call no Python, so the media thread keeps the lock through
 * them: this module calls the same compiled functions of dsp_ext._dsp (bound once by address,
 * see dsp_ext._ffi) from plain CPython functions (METH_FASTCALL, about 0.1 us a call; cffi's
 * call costs more than that, ctypes' ten times as much).
 *
 * A pointer argument is an int (an address: state the caller allocated through cffi and keeps
 * alive), None (NULL) or an object with the buffer protocol (bytes, a C-contiguous numpy array),
 * whose size is checked against what the function will read or write. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stddef.h>
#include <string.h>

#include "dtmf_receiver.h"
#include "port_rows.h"
#include "progress_block.h"
#include "tones.h"

static __typeof__(&echo_process_rows) p_echo_rows;
static __typeof__(&faxtone_rx_process_rows) p_faxtone_rows;
static __typeof__(&dtmf_receiver_rows) p_dtmf_rows;
static __typeof__(&tone_judge_process) p_tone_judge;
static __typeof__(&progress_block_features) p_progress_block;

typedef struct {
    void *p;
    Py_buffer view;
    int has_view;
} ptr_arg;

/* `o` as a pointer to at least `need` bytes (checked for buffers only); writable buffers where
 * the function writes. */
static int get_ptr(PyObject *o, Py_ssize_t need, int writable, const char *what, ptr_arg *a)
{
    a->has_view = 0;
    a->p = NULL;
    if (o == Py_None)
        return 0;
    if (PyLong_Check(o)) {
        a->p = PyLong_AsVoidPtr(o);
        return PyErr_Occurred() ? -1 : 0;
    }
    if (PyObject_GetBuffer(o, &a->view, writable ? (PyBUF_WRITABLE | PyBUF_C_CONTIGUOUS) : PyBUF_C_CONTIGUOUS) < 0)
        return -1;
    a->has_view = 1;
    a->p = a->view.buf;
    if (a->view.len < need) {
        PyErr_Format(PyExc_ValueError, "%s: %zd bytes, the call needs %zd", what, a->view.len, need);
        PyBuffer_Release(&a->view);
        a->has_view = 0;
        return -1;
    }
    return 0;
}

static void release(ptr_arg *args, int n)
{
    for (int i = 0; i < n; i++)
        if (args[i].has_view)
            PyBuffer_Release(&args[i].view);
}

static int get_int(PyObject *o, const char *what, int lo, int *out)
{
    long v = PyLong_AsLong(o);
    if (v == -1 && PyErr_Occurred())
        return -1;
    if (v < lo || v > 1 << 24) {
        PyErr_Format(PyExc_ValueError, "%s out of range: %ld", what, v);
        return -1;
    }
    *out = (int)v;
    return 0;
}

static int check(const char *name, Py_ssize_t nargs, Py_ssize_t want, const void *fn)
{
    if (fn == NULL) {
        PyErr_Format(PyExc_RuntimeError, "%s is not bound (dsp_ext._ffi binds it at import)", name);
        return -1;
    }
    if (nargs != want) {
        PyErr_Format(PyExc_TypeError, "%s takes %zd arguments (%zd given)", name, want, nargs);
        return -1;
    }
    return 0;
}

/* echo_process_rows(states, on, far, near, out, rows, n) */
static PyObject *tick_echo_rows(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    (void)self;
    int rows, n;
    ptr_arg a[5];
    if (check("echo_process_rows", nargs, 7, (const void *)p_echo_rows) < 0
        || get_int(args[5], "rows", 0, &rows) < 0 || get_int(args[6], "n", 0, &n) < 0)
        return NULL;
    Py_ssize_t cells = (Py_ssize_t)rows * n, sample = (Py_ssize_t)sizeof(int16_t);
    int got = 0;
    if (get_ptr(args[0], rows * (Py_ssize_t)sizeof(echo_t *), 0, "states", &a[got]) < 0 || (++got,
        get_ptr(args[1], rows, 0, "on", &a[got]) < 0) || (++got,
        get_ptr(args[2], cells * sample, 0, "far", &a[got]) < 0) || (++got,
        get_ptr(args[3], cells * sample, 0, "near", &a[got]) < 0) || (++got,
        get_ptr(args[4], cells * sample, 1, "out", &a[got]) < 0)) {
        release(a, got);
        return NULL;
    }
    p_echo_rows(a[0].p, a[1].p, a[2].p, a[3].p, a[4].p, rows, n);
    release(a, 5);
    Py_RETURN_NONE;
}

/* faxtone_rx_process_rows(states, on, x, rows, n, bits) */
static PyObject *tick_faxtone_rows(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    (void)self;
    int rows, n;
    ptr_arg a[4];
    if (check("faxtone_rx_process_rows", nargs, 6, (const void *)p_faxtone_rows) < 0
        || get_int(args[3], "rows", 0, &rows) < 0 || get_int(args[4], "n", 0, &n) < 0)
        return NULL;
    int got = 0;
    if (get_ptr(args[0], rows * (Py_ssize_t)sizeof(faxtone_rx_t *), 0, "states", &a[got]) < 0 || (++got,
        get_ptr(args[1], rows, 0, "on", &a[got]) < 0) || (++got,
        get_ptr(args[2], (Py_ssize_t)rows * n * (Py_ssize_t)sizeof(int16_t), 0, "x", &a[got]) < 0) || (++got,
        get_ptr(args[5], rows * (Py_ssize_t)sizeof(int), 1, "bits", &a[got]) < 0)) {
        release(a, got);
        return NULL;
    }
    p_faxtone_rows(a[0].p, a[1].p, a[2].p, rows, n, a[3].p);
    release(a, 4);
    Py_RETURN_NONE;
}

/* dtmf_receiver_rows(t, ports, count, x, sent_ports, sent_count, sent, kinds) -> int; the frames'
 * sizes are the rows' own (t->n), checked by the caller (DtmfRows) and here for buffers. */
static PyObject *tick_dtmf_rows(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    (void)self;
    int count, sent_count, kinds;
    ptr_arg a[5];
    if (check("dtmf_receiver_rows", nargs, 8, (const void *)p_dtmf_rows) < 0
        || get_int(args[2], "count", 0, &count) < 0 || get_int(args[5], "sent_count", 0, &sent_count) < 0
        || get_int(args[7], "kinds", 0, &kinds) < 0)
        return NULL;
    int got = 0;
    if (get_ptr(args[0], (Py_ssize_t)sizeof(dtmf_rows_t), 0, "rows", &a[got]) < 0 || (++got,
        get_ptr(args[1], count, 0, "ports", &a[got]) < 0) || (++got,
        get_ptr(args[3], 0, 0, "x", &a[got]) < 0) || (++got,
        get_ptr(args[4], sent_count, 0, "sent_ports", &a[got]) < 0) || (++got,
        get_ptr(args[6], 0, 0, "sent", &a[got]) < 0)) {
        release(a, got);
        return NULL;
    }
    const dtmf_rows_t *t = a[0].p;
    Py_ssize_t frame = t != NULL ? (Py_ssize_t)t->n * (Py_ssize_t)sizeof(int16_t) : 0;
    if ((a[2].has_view && a[2].view.len < count * frame) || (a[4].has_view && a[4].view.len < sent_count * frame)) {
        release(a, 5);
        PyErr_SetString(PyExc_ValueError, "dtmf_receiver_rows: fewer frame bytes than ports");
        return NULL;
    }
    int r = p_dtmf_rows(t, a[1].p, count, a[2].p, a[3].p, sent_count, a[4].p, kinds);
    release(a, 5);
    return PyLong_FromLong(r);
}

/* tone_judge_process(j, in, n, on, level, max_blocks) -> int; on and level hold max_blocks x
 * (the judge's signatures) entries */
static PyObject *tick_tone_judge(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    (void)self;
    int n, max_blocks;
    ptr_arg a[4];
    if (check("tone_judge_process", nargs, 6, (const void *)p_tone_judge) < 0
        || get_int(args[2], "n", 0, &n) < 0 || get_int(args[5], "max_blocks", 0, &max_blocks) < 0)
        return NULL;
    int got = 0;
    if (get_ptr(args[0], (Py_ssize_t)sizeof(tone_judge_t), 1, "judge", &a[got]) < 0)
        return NULL;
    ++got;
    if (a[0].p == NULL) {
        release(a, got);
        PyErr_SetString(PyExc_ValueError, "tone_judge_process: no judge");
        return NULL;
    }
    Py_ssize_t cells = (Py_ssize_t)max_blocks * ((const tone_judge_t *)a[0].p)->nsig;
    if (get_ptr(args[1], n * (Py_ssize_t)sizeof(int16_t), 0, "in", &a[got]) < 0 || (++got,
        get_ptr(args[3], cells, 1, "on", &a[got]) < 0) || (++got,
        get_ptr(args[4], cells * (Py_ssize_t)sizeof(double), 1, "level", &a[got]) < 0)) {
        release(a, got);
        return NULL;
    }
    int r = p_tone_judge(a[0].p, a[1].p, n, a[2].p, a[3].p, max_blocks);
    release(a, 4);
    return PyLong_FromLong(r);
}

/* progress_block_features(s, x, sent, out): x and sent (or None) PROGRESS_BLOCK doubles */
static PyObject *tick_progress_block(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    (void)self;
    ptr_arg a[4];
    if (check("progress_block_features", nargs, 4, (const void *)p_progress_block) < 0)
        return NULL;
    Py_ssize_t block = PROGRESS_BLOCK * (Py_ssize_t)sizeof(double);
    int got = 0;
    if (get_ptr(args[0], 0, 1, "state", &a[got]) < 0 || (++got,
        get_ptr(args[1], block, 0, "x", &a[got]) < 0) || (++got,
        get_ptr(args[2], block, 0, "sent", &a[got]) < 0) || (++got,
        get_ptr(args[3], (Py_ssize_t)sizeof(progress_features_t), 1, "out", &a[got]) < 0)) {
        release(a, got);
        return NULL;
    }
    p_progress_block(a[0].p, a[1].p, a[2].p, a[3].p);
    release(a, 4);
    Py_RETURN_NONE;
}

/* bind(name, address): the function of dsp_ext._dsp this module calls under that name */
static PyObject *tick_bind(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    (void)self;
    if (nargs != 2 || !PyUnicode_Check(args[0])) {
        PyErr_SetString(PyExc_TypeError, "bind(name: str, address: int)");
        return NULL;
    }
    const char *name = PyUnicode_AsUTF8(args[0]);
    void *addr = PyLong_AsVoidPtr(args[1]);
    if (name == NULL || (addr == NULL && PyErr_Occurred()))
        return NULL;
    if (addr == NULL) {
        PyErr_SetString(PyExc_ValueError, "bind: a NULL address");
        return NULL;
    }
    /* object pointer <-> function pointer: POSIX guarantees it (dlsym); C99 leaves it open */
    if (strcmp(name, "echo_process_rows") == 0)
        memcpy(&p_echo_rows, &addr, sizeof addr);
    else if (strcmp(name, "faxtone_rx_process_rows") == 0)
        memcpy(&p_faxtone_rows, &addr, sizeof addr);
    else if (strcmp(name, "dtmf_receiver_rows") == 0)
        memcpy(&p_dtmf_rows, &addr, sizeof addr);
    else if (strcmp(name, "tone_judge_process") == 0)
        memcpy(&p_tone_judge, &addr, sizeof addr);
    else if (strcmp(name, "progress_block_features") == 0)
        memcpy(&p_progress_block, &addr, sizeof addr);
    else {
        PyErr_Format(PyExc_KeyError, "no tick function %s", name);
        return NULL;
    }
    Py_RETURN_NONE;
}

#define FASTCALL(fn) ((PyCFunction)(void (*)(void))(fn)), METH_FASTCALL

static PyMethodDef methods[] = {
    {"bind", FASTCALL(tick_bind), "bind(name, address): the dsp_ext._dsp function called under that name"},
    {"echo_process_rows", FASTCALL(tick_echo_rows), "echo_process_rows, keeping the interpreter lock"},
    {"faxtone_rx_process_rows", FASTCALL(tick_faxtone_rows), "faxtone_rx_process_rows, keeping the lock"},
    {"dtmf_receiver_rows", FASTCALL(tick_dtmf_rows), "dtmf_receiver_rows, keeping the interpreter lock"},
    {"tone_judge_process", FASTCALL(tick_tone_judge), "tone_judge_process, keeping the interpreter lock"},
    {"progress_block_features", FASTCALL(tick_progress_block), "progress_block_features, keeping the lock"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "dsp_ext._tick",
    "The media tick's C calls, made without giving the interpreter lock away (see tickmod.c).",
    -1, methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__tick(void)
{
    return PyModule_Create(&module);
}
