/* opencode-module.c --- the Emacs side of the OpenCode module  */
/* The only file that includes emacs-module.h.  It turns queue items into
   Lisp values on the main thread, and exposes the connection to Lisp as
   `opencode--module-*' functions, registered from one table below.
   Errors are signalled as `opencode-module-error' (defined in Lisp), and
   an allocation that fails here as `memory-full'.  Built with
   -fvisibility=hidden: only the two symbols Emacs looks up are exported
   (OC_EXPORT; `make test-c' checks it, and that no other file includes
   emacs-module.h).  */

#include <emacs-module.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <curl/curl.h>

#include "oc-conn.h"
#include "oc-event.h"

#define OC_EXPORT __attribute__ ((visibility ("default")))

OC_EXPORT int plugin_is_GPL_compatible;

#define OC_VERSION "0.1.0"
/* Room for the version string with libcurl's and json-c's.  */
#define OC_VERSION_MAX 128

/* Global references, made once in emacs_module_init.  */
static emacs_value Qnil, Qt, Qlist, Qvector, Qintern,
  Qnull_kw, Qfalse_kw, Qevent, Qdelta, Qstate, Qresponse,
  Qfailure, Qwarning, Qmodule_error, Qmemory_full, Qquit, Qerror,
  Qerror_conditions, Qget, Qmemq;
/* The stream states, indexed by oc_state.  */
static emacs_value Qstates[OC_STATE_DISCONNECTED + 1];

/* The longest list an item becomes: (delta SESSION MESSAGE PART FIELD
   TEXT) and (response ID STATUS DATA RAW HEADERS).  */
#define OC_ITEM_MAX_LIST 6

/* ---- Helpers --------------------------------------------------------- */

static bool
oc_exited (emacs_env *env)
{
  return env->non_local_exit_check (env) != emacs_funcall_exit_return;
}

static void
oc_signal (emacs_env *env, const char *msg)
{
  if (oc_exited (env))
    return;
  emacs_value s = env->make_string (env, msg, (ptrdiff_t) strlen (msg));
  emacs_value data = env->funcall (env, Qlist, 1, &s);
  env->non_local_exit_signal (env, Qmodule_error, data);
}

/* Memory ran out in the glue: what Emacs itself signals then.  */
static void
oc_signal_nomem (emacs_env *env)
{
  if (!oc_exited (env))
    env->non_local_exit_signal (env, Qmemory_full, Qnil);
}

/* ERR from the pure-C side: `memory-full' for oc_err_nomem, else
   `opencode-module-error'.  */
static void
oc_signal_err (emacs_env *env, const char *err)
{
  if (err == oc_err_nomem)
    oc_signal_nomem (env);
  else
    oc_signal (env, err);
}

static emacs_value
oc_str (emacs_env *env, const char *s, size_t n)
{
  return env->make_string (env, s ? s : "", s ? (ptrdiff_t) n : 0);
}

static emacs_value
oc_cstr (emacs_env *env, const char *s)
{
  return oc_str (env, s, s ? strlen (s) : 0);
}

static emacs_value
oc_intern (emacs_env *env, const char *name)
{
  return env->intern (env, name);
}

/* A Lisp string argument as a malloc'ed UTF-8 C string, or NULL when the
   argument is nil (and NIL_OK) or on error (signalled).  */
static char *
oc_arg_string (emacs_env *env, emacs_value v, bool nil_ok, size_t *len)
{
  if (nil_ok && !env->is_not_nil (env, v))
    return NULL;
  ptrdiff_t n = 0;
  if (!env->copy_string_contents (env, v, NULL, &n))
    return NULL;
  char *buf = malloc ((size_t) n);
  if (!buf)
    {
      oc_signal_nomem (env);
      return NULL;
    }
  if (!env->copy_string_contents (env, v, buf, &n))
    {
      free (buf);
      return NULL;
    }
  if (len)
    *len = (size_t) n - 1;
  return buf;
}

/* ---- Keyword cache --------------------------------------------------- */
/* Object keys come from a small vocabulary; interning each one through
   `intern' costs a string and a funcall, so keep the keywords as global
   references.  The table has a fixed size: once full, keys are interned
   without being kept, so hostile input cannot make it grow.  */

#define OC_KW_SLOTS 4096                /* A power of two.  */
#define OC_KW_MAX_KEY 64                /* Longer keys are not kept.  */
#define OC_KW_MAX_KEPT (OC_KW_SLOTS / 2) /* Half full at most: short probes.  */
/* 64-bit FNV-1a.  */
#define OC_FNV_OFFSET 1469598103934665603ULL
#define OC_FNV_PRIME 1099511628211ULL

typedef struct
{
  char *key;
  size_t len;
  emacs_value sym;
} oc_kw_slot;

static oc_kw_slot oc_kw_table[OC_KW_SLOTS];
static size_t oc_kw_count;

static uint64_t
oc_hash (const char *s, size_t n)
{
  uint64_t h = OC_FNV_OFFSET;
  for (size_t i = 0; i < n; i++)
    h = (h ^ (unsigned char) s[i]) * OC_FNV_PRIME;
  return h;
}

static emacs_value
oc_keyword_uncached (emacs_env *env, const char *key, size_t n)
{
  char *name = malloc (n + 2);
  if (!name)
    {
      oc_signal_nomem (env);
      return Qnil;
    }
  name[0] = ':';
  memcpy (name + 1, key, n);
  name[n + 1] = '\0';
  emacs_value s = env->make_string (env, name, (ptrdiff_t) n + 1);
  free (name);
  return env->funcall (env, Qintern, 1, &s);
}

static emacs_value
oc_keyword (emacs_env *env, const char *key, size_t n)
{
  if (n > OC_KW_MAX_KEY || memchr (key, '\0', n))
    return oc_keyword_uncached (env, key, n);
  size_t i = oc_hash (key, n) & (OC_KW_SLOTS - 1);
  for (size_t probe = 0; probe < OC_KW_SLOTS; probe++)
    {
      oc_kw_slot *s = &oc_kw_table[(i + probe) & (OC_KW_SLOTS - 1)];
      if (!s->key)
        {
          emacs_value sym = oc_keyword_uncached (env, key, n);
          if (oc_exited (env) || oc_kw_count >= OC_KW_MAX_KEPT)
            return sym;
          char *copy = malloc (n + 1);
          if (!copy)
            return sym;
          memcpy (copy, key, n);
          copy[n] = '\0';
          s->key = copy;
          s->len = n;
          s->sym = env->make_global_ref (env, sym);
          oc_kw_count++;
          return sym;
        }
      if (s->len == n && memcmp (s->key, key, n) == 0)
        return s->sym;
    }
  return oc_keyword_uncached (env, key, n);
}

/* ---- JSON to Lisp ---------------------------------------------------- */
/* Objects become plists with keyword keys, arrays vectors, null :null,
   false :false, true t: what `json-parse-string' gives with
   :object-type plist :null-object :null :false-object :false.  */

static emacs_value
oc_json_to_lisp (emacs_env *env, json_object *o)
{
  switch (json_object_get_type (o))
    {
    case json_type_null:
      return Qnull_kw;
    case json_type_boolean:
      return json_object_get_boolean (o) ? Qt : Qfalse_kw;
    case json_type_int:
      return env->make_integer (env, json_object_get_int64 (o));
    case json_type_double:
      return env->make_float (env, json_object_get_double (o));
    case json_type_string:
      return oc_str (env, json_object_get_string (o),
                     (size_t) json_object_get_string_len (o));
    case json_type_array:
      {
        size_t n = json_object_array_length (o);
        if (n == 0)
          return env->funcall (env, Qvector, 0, NULL);
        emacs_value *v = malloc (n * sizeof *v);
        if (!v)
          {
            oc_signal_nomem (env);
            return Qnil;
          }
        for (size_t i = 0; i < n; i++)
          {
            v[i] = oc_json_to_lisp (env, json_object_array_get_idx (o, i));
            if (oc_exited (env))
              {
                free (v);
                return Qnil;
              }
          }
        emacs_value r = env->funcall (env, Qvector, (ptrdiff_t) n, v);
        free (v);
        return r;
      }
    case json_type_object:
      {
        size_t n = (size_t) json_object_object_length (o);
        if (n == 0)
          return Qnil;
        emacs_value *v = malloc (2 * n * sizeof *v);
        if (!v)
          {
            oc_signal_nomem (env);
            return Qnil;
          }
        size_t k = 0;
        json_object_object_foreach (o, key, val)
          {
            if (k + 2 > 2 * n)
              break;
            v[k++] = oc_keyword (env, key, strlen (key));
            v[k++] = val ? oc_json_to_lisp (env, val) : Qnull_kw;
            if (oc_exited (env))
              {
                free (v);
                return Qnil;
              }
          }
        emacs_value r = env->funcall (env, Qlist, (ptrdiff_t) k, v);
        free (v);
        return r;
      }
    }
  return Qnil;
}

/* ---- Items to Lisp --------------------------------------------------- */

/* The list `opencode--module-drain' documents for each kind.  */
static emacs_value
oc_item_to_lisp (emacs_env *env, const oc_item *it)
{
  emacs_value a[OC_ITEM_MAX_LIST];
  switch (it->kind)
    {
    case OC_ITEM_EVENT:
      {
        const oc_item_event *e = &it->event;
        a[0] = Qevent;
        a[1] = oc_cstr (env, e->type);
        a[2] = e->props ? oc_json_to_lisp (env, e->props) : Qnil;
        return env->funcall (env, Qlist, 3, a);
      }
    case OC_ITEM_DELTA:
      {
        const oc_item_delta *d = &it->delta;
        a[0] = Qdelta;
        a[1] = oc_cstr (env, d->session);
        a[2] = oc_cstr (env, d->message);
        a[3] = oc_cstr (env, d->part);
        a[4] = oc_cstr (env, d->field);
        a[5] = oc_str (env, d->text.data, d->text.len);
        return env->funcall (env, Qlist, 6, a);
      }
    case OC_ITEM_STATE:
      {
        /* (state STATE N DETAIL): N is the attempt while connecting, the
           wait before the next attempt once disconnected.  */
        const oc_item_state *st = &it->state;
        long n = st->state == OC_STATE_CONNECTING ? st->attempt
          : st->state == OC_STATE_DISCONNECTED ? st->retry_ms : 0;
        a[0] = Qstate;
        a[1] = Qstates[st->state];
        a[2] = env->make_integer (env, n);
        a[3] = st->detail.len ? oc_str (env, st->detail.data, st->detail.len)
          : Qnil;
        return env->funcall (env, Qlist, 4, a);
      }
    case OC_ITEM_RESPONSE:
      {
        const oc_item_response *r = &it->response;
        a[0] = Qresponse;
        a[1] = env->make_integer (env, r->id);
        a[2] = env->make_integer (env, r->status);
        a[3] = r->json ? oc_json_to_lisp (env, r->json) : Qnil;
        /* The raw body only when it is not JSON; it may be any bytes.  */
        a[4] = (r->json || !r->body.len) ? Qnil
          : env->make_unibyte_string (env, r->body.data,
                                      (ptrdiff_t) r->body.len);
        a[5] = env->make_unibyte_string (env, r->headers.data
                                         ? r->headers.data : "",
                                         (ptrdiff_t) r->headers.len);
        return env->funcall (env, Qlist, 6, a);
      }
    case OC_ITEM_FAILURE:
      {
        const oc_item_failure *f = &it->failure;
        a[0] = Qfailure;
        a[1] = env->make_integer (env, f->id);
        a[2] = env->make_integer (env, f->curl_code);
        a[3] = oc_str (env, f->message.data, f->message.len);
        return env->funcall (env, Qlist, 4, a);
      }
    case OC_ITEM_WARNING:
      a[0] = Qwarning;
      a[1] = oc_str (env, it->warning.message.data, it->warning.message.len);
      return env->funcall (env, Qlist, 2, a);
    }
  return Qnil;
}

/* ---- The connection handle ------------------------------------------- */

typedef struct
{
  oc_conn *conn;              /* NULL once closed.  */
} oc_handle;

static void
oc_handle_finalize (void *ptr)
{
  oc_handle *h = ptr;
  /* Only let go: the worker frees itself; a finalizer never joins.  */
  if (h->conn)
    oc_conn_abandon (h->conn);
  free (h);
}

static oc_handle *
oc_get_handle (emacs_env *env, emacs_value v, bool live)
{
  if (!env->eq (env, env->type_of (env, v), oc_intern (env, "user-ptr"))
      || env->get_user_finalizer (env, v) != oc_handle_finalize)
    {
      oc_signal (env, "not an OpenCode connection handle");
      return NULL;
    }
  oc_handle *h = env->get_user_ptr (env, v);
  if (oc_exited (env))
    return NULL;
  if (live && !h->conn)
    {
      oc_signal (env, "the OpenCode connection is closed");
      return NULL;
    }
  return h;
}

static long
oc_arg_long (emacs_env *env, ptrdiff_t nargs, emacs_value *args,
             ptrdiff_t i, long dflt)
{
  if (i >= nargs || !env->is_not_nil (env, args[i]))
    return dflt;
  return (long) env->extract_integer (env, args[i]);
}

/* The keyword options of `opencode--module-open'.  */
enum oc_open_opt
{
  OC_OPT_EVENT_PATH, OC_OPT_USER, OC_OPT_PASSWORD, OC_OPT_INSECURE,
  OC_OPT_CONNECT_TIMEOUT, OC_OPT_ANSWER_TIMEOUT, OC_OPT_STALL_TIMEOUT,
  OC_OPT_BACKOFF_MIN, OC_OPT_BACKOFF_MAX, OC_OPT_DOWN_RETRY_MAX,
  OC_OPT_MAX_EVENT, OC_OPT_COUNT
};

static const char *const oc_open_opt_names[OC_OPT_COUNT] = {
  ":event-path", ":user", ":password", ":insecure",
  ":connect-timeout", ":answer-timeout", ":stall-timeout",
  ":backoff-min", ":backoff-max", ":down-retry-max", ":max-event"
};

/* Sort ARGS[FROM..NARGS), a plist of keyword options, into VALUES (nil
   where absent).  Signal on an unknown keyword or a missing value.  */
static bool
oc_open_options (emacs_env *env, ptrdiff_t nargs, emacs_value *args,
                 ptrdiff_t from, emacs_value values[OC_OPT_COUNT])
{
  for (int k = 0; k < OC_OPT_COUNT; k++)
    values[k] = Qnil;
  if ((nargs - from) % 2 != 0)
    {
      oc_signal (env, "options must come in keyword-value pairs");
      return false;
    }
  for (ptrdiff_t i = from; i < nargs; i += 2)
    {
      int found = -1;
      for (int k = 0; k < OC_OPT_COUNT && found < 0; k++)
        if (env->eq (env, args[i], oc_intern (env, oc_open_opt_names[k])))
          found = k;
      if (found < 0)
        {
          oc_signal (env, "unknown option to opencode--module-open");
          return false;
        }
      values[found] = args[i + 1];
    }
  return !oc_exited (env);
}

static emacs_value
oc_fopen (emacs_env *env, ptrdiff_t nargs, emacs_value *args, void *data)
{
  (void) data;
  oc_conn_config cfg;
  memset (&cfg, 0, sizeof cfg);
  emacs_value opt[OC_OPT_COUNT];
  if (!oc_open_options (env, nargs, args, 2, opt))
    return Qnil;
  char *url = oc_arg_string (env, args[0], false, NULL);
  char *path = url ? oc_arg_string (env, opt[OC_OPT_EVENT_PATH], true, NULL) : NULL;
  char *user = url ? oc_arg_string (env, opt[OC_OPT_USER], true, NULL) : NULL;
  char *pass = url ? oc_arg_string (env, opt[OC_OPT_PASSWORD], true, NULL) : NULL;
  emacs_value result = Qnil;
  if (oc_exited (env))
    goto out;
  cfg.base_url = url;
  cfg.event_path = path;
  cfg.user = user;
  cfg.password = pass;
  cfg.insecure = env->is_not_nil (env, opt[OC_OPT_INSECURE]);
  cfg.connect_timeout_ms = oc_arg_long (env, OC_OPT_COUNT, opt, OC_OPT_CONNECT_TIMEOUT, 0);
  cfg.answer_timeout_ms = oc_arg_long (env, OC_OPT_COUNT, opt, OC_OPT_ANSWER_TIMEOUT, 0);
  cfg.stall_timeout_s = oc_arg_long (env, OC_OPT_COUNT, opt, OC_OPT_STALL_TIMEOUT, 0);
  cfg.backoff_min_ms = oc_arg_long (env, OC_OPT_COUNT, opt, OC_OPT_BACKOFF_MIN, 0);
  cfg.backoff_max_ms = oc_arg_long (env, OC_OPT_COUNT, opt, OC_OPT_BACKOFF_MAX, 0);
  cfg.down_retry_max_ms = oc_arg_long (env, OC_OPT_COUNT, opt, OC_OPT_DOWN_RETRY_MAX, 0);
  cfg.max_event = (size_t) oc_arg_long (env, OC_OPT_COUNT, opt, OC_OPT_MAX_EVENT, 0);
  if (oc_exited (env))
    goto out;
  cfg.notify_fd = -1;
  if (env->is_not_nil (env, args[1]))
    {
      int fd = env->open_channel (env, args[1]);
      if (oc_exited (env))
        goto out;
      cfg.notify_fd = fd;
    }
  oc_handle *h = calloc (1, sizeof *h);
  if (!h)
    {
      if (cfg.notify_fd >= 0)
        close (cfg.notify_fd);
      oc_signal_nomem (env);
      goto out;
    }
  const char *err = NULL;
  h->conn = oc_conn_start (&cfg, &err);
  if (!h->conn)
    {
      if (cfg.notify_fd >= 0)
        close (cfg.notify_fd);
      free (h);
      oc_signal_err (env, err);
      goto out;
    }
  result = env->make_user_ptr (env, oc_handle_finalize, h);
  if (oc_exited (env))
    {
      /* Could not wrap it: let it go.  */
      oc_conn_stop (h->conn);
      free (h);
      result = Qnil;
    }
 out:
  free (url);
  free (path);
  free (user);
  if (pass)
    {
      memset (pass, 0, strlen (pass));
      free (pass);
    }
  return result;
}

static emacs_value
oc_fclose (emacs_env *env, ptrdiff_t nargs, emacs_value *args, void *data)
{
  (void) nargs;
  (void) data;
  oc_handle *h = oc_get_handle (env, args[0], false);
  if (!h)
    return Qnil;
  if (h->conn)
    {
      oc_conn_stop (h->conn);
      h->conn = NULL;
      return Qt;
    }
  return Qnil;
}

static emacs_value
oc_flive_p (emacs_env *env, ptrdiff_t nargs, emacs_value *args, void *data)
{
  (void) nargs;
  (void) data;
  oc_handle *h = oc_get_handle (env, args[0], false);
  return h && h->conn ? Qt : Qnil;
}

/* The conversion of one item left a non-local exit pending.  Clear it
   and return true when it is an error (a condition with `error' among
   its conditions): the item is then reported as a warning and the drain
   goes on, since one bad item must not cost the others.  Anything else
   stays pending and returns false: a `quit' (C-g, which Emacs signals
   from inside `funcall' when quitting is allowed) or another non-error
   signal, or a `throw'.  */
static bool
oc_exit_is_error (emacs_env *env)
{
  emacs_value sym, data;
  if (env->non_local_exit_get (env, &sym, &data) != emacs_funcall_exit_signal
      || env->eq (env, sym, Qquit))
    return false;
  env->non_local_exit_clear (env);
  emacs_value a[2] = { sym, Qerror_conditions };
  emacs_value conds = env->funcall (env, Qget, 2, a);
  bool is_error = false;
  if (!oc_exited (env))
    {
      a[0] = Qerror;
      a[1] = conds;
      is_error = env->is_not_nil (env, env->funcall (env, Qmemq, 2, a));
    }
  if (oc_exited (env))
    return false;               /* A new exit (a quit) took its place.  */
  if (!is_error)
    env->non_local_exit_signal (env, sym, data);
  return is_error;
}

/* Every pending item (at most MAX, the optional second argument, when
   it is a positive integer: the rest stay queued and the pipe is woken
   again for them) as a Lisp list.  The items are freed only once the
   list is made.  When a quit (or any non-error exit) interrupts the
   conversion, the exit is left pending for Emacs to act on, the Lisp
   values made so far are dropped, and every drained item is put back at
   the head of the queue (oc_queue_requeue), which wakes the process
   again: the next drain delivers them, none lost and none twice.  The
   same holds when the vector of values cannot be allocated.  */
static emacs_value
oc_fdrain (emacs_env *env, ptrdiff_t nargs, emacs_value *args, void *data)
{
  (void) data;
  oc_handle *h = oc_get_handle (env, args[0], false);
  if (!h || !h->conn)
    return Qnil;
  long max = oc_arg_long (env, nargs, args, 1, 0);
  if (oc_exited (env))
    return Qnil;
  oc_item *items = oc_queue_drain_max (oc_conn_queue (h->conn),
                                       max > 0 ? (size_t) max : 0);
  size_t n = 0;
  for (oc_item *it = items; it; it = it->next)
    n++;
  if (n == 0)
    return Qnil;
  emacs_value *v = malloc (n * sizeof *v);
  if (!v)
    {
      oc_queue_requeue (oc_conn_queue (h->conn), items);
      oc_signal_nomem (env);
      return Qnil;
    }
  size_t k = 0;
  for (oc_item *it = items; it; it = it->next)
    {
      emacs_value x = oc_item_to_lisp (env, it);
      if (oc_exited (env))
        {
          if (!oc_exit_is_error (env))
            break;
          emacs_value w[2] = { Qwarning, oc_cstr (env, "an event could not be converted") };
          x = env->funcall (env, Qlist, 2, w);
          if (oc_exited (env))
            break;
        }
      v[k++] = x;
    }
  emacs_value r = oc_exited (env) ? Qnil
    : env->funcall (env, Qlist, (ptrdiff_t) k, v);
  free (v);
  if (oc_exited (env))
    {
      oc_queue_requeue (oc_conn_queue (h->conn), items);
      return Qnil;
    }
  oc_item_free_list (items);
  return r;
}

static emacs_value
oc_frequest (emacs_env *env, ptrdiff_t nargs, emacs_value *args, void *data)
{
  (void) data;
  oc_handle *h = oc_get_handle (env, args[0], true);
  if (!h)
    return Qnil;
  size_t body_len = 0;
  char *method = oc_arg_string (env, args[1], false, NULL);
  char *path = method ? oc_arg_string (env, args[2], false, NULL) : NULL;
  char *body = path ? oc_arg_string (env, args[3], true, &body_len) : NULL;
  long timeout = path ? oc_arg_long (env, nargs, args, 4, 0) : 0;
  emacs_value r = Qnil;
  if (!oc_exited (env))
    {
      const char *err = NULL;
      long id = oc_conn_request (h->conn, method, path, body, body_len,
                                 timeout, &err);
      if (id < 0)
        oc_signal_err (env, err);
      else
        r = env->make_integer (env, id);
    }
  free (method);
  free (path);
  free (body);
  return r;
}

static emacs_value
oc_fcancel (emacs_env *env, ptrdiff_t nargs, emacs_value *args, void *data)
{
  (void) nargs;
  (void) data;
  oc_handle *h = oc_get_handle (env, args[0], false);
  if (!h || !h->conn)
    return Qnil;
  long id = (long) env->extract_integer (env, args[1]);
  if (oc_exited (env))
    return Qnil;
  oc_conn_cancel (h->conn, id);
  return Qt;
}

static emacs_value
oc_freconnect (emacs_env *env, ptrdiff_t nargs, emacs_value *args, void *data)
{
  (void) nargs;
  (void) data;
  oc_handle *h = oc_get_handle (env, args[0], false);
  if (!h || !h->conn)
    return Qnil;
  oc_conn_reconnect_now (h->conn);
  return Qt;
}

static emacs_value
oc_fstats (emacs_env *env, ptrdiff_t nargs, emacs_value *args, void *data)
{
  (void) nargs;
  (void) data;
  oc_handle *h = oc_get_handle (env, args[0], true);
  if (!h)
    return Qnil;
  oc_queue_counters s;
  oc_queue_stats (oc_conn_queue (h->conn), &s);
  emacs_value a[] = {
    oc_intern (env, ":merged"), env->make_integer (env, (intmax_t) s.merged),
    oc_intern (env, ":wakeups"), env->make_integer (env, (intmax_t) s.wakeups),
    oc_intern (env, ":pending"), env->make_integer (env, (intmax_t) s.pending)
  };
  return env->funcall (env, Qlist, sizeof a / sizeof a[0], a);
}

static emacs_value
oc_fversion (emacs_env *env, ptrdiff_t nargs, emacs_value *args, void *data)
{
  (void) nargs;
  (void) args;
  (void) data;
  char buf[OC_VERSION_MAX];
  snprintf (buf, sizeof buf, "%s (libcurl %s, json-c %s)", OC_VERSION,
            curl_version_info (CURLVERSION_NOW)->version, json_c_version ());
  return oc_cstr (env, buf);
}

static emacs_value
oc_fparse_json (emacs_env *env, ptrdiff_t nargs, emacs_value *args, void *data)
{
  (void) nargs;
  (void) data;
  size_t len = 0;
  char *s = oc_arg_string (env, args[0], false, &len);
  if (!s)
    return Qnil;
  const char *err = NULL;
  json_object *o = oc_json_parse (s, len, &err);
  free (s);
  if (!o)
    {
      oc_signal_err (env, err ? err : "malformed JSON");
      return Qnil;
    }
  emacs_value r = oc_json_to_lisp (env, o);
  json_object_put (o);
  return r;
}

/* ---- Registration ---------------------------------------------------- */

typedef struct
{
  const char *name;
  ptrdiff_t min, max;
  emacs_value (*fn) (emacs_env *, ptrdiff_t, emacs_value *, void *);
  const char *doc;
} oc_fn_spec;

static const oc_fn_spec oc_functions[] = {
  { "opencode--module-open", 2, 2 + 2 * OC_OPT_COUNT, oc_fopen,
    "Open a connection to the OpenCode server at URL; return a handle.\n"
    "PROCESS is a pipe process woken when items are ready.  OPTIONS are\n"
    "keyword-value pairs, each optional:\n"
    ":event-path  the URL-encoded path of the event stream (none if nil)\n"
    ":user :password  HTTP basic auth\n"
    ":insecure  non-nil: skip TLS certificate checks\n"
    ":connect-timeout  ms to connect (10000)\n"
    ":answer-timeout  ms from connected to the first header line, after\n"
    "   which the stream is retried and a GET sent again (4000)\n"
    ":stall-timeout  seconds of a silent stream before it is dropped (90)\n"
    ":backoff-min :backoff-max  ms between reconnections (1000, 30000)\n"
    ":down-retry-max  longest ms between attempts while nothing listens (2000)\n"
    ":max-event  bytes of the largest event kept (16 MiB)\n\n"
    "(fn URL PROCESS &rest OPTIONS)" },
  { "opencode--module-close", 1, 1, oc_fclose,
    "Close HANDLE: stop its worker and free it.  Return t if it was open.\n\n"
    "(fn HANDLE)" },
  { "opencode--module-live-p", 1, 1, oc_flive_p,
    "Return t if HANDLE is open.\n\n(fn HANDLE)" },
  { "opencode--module-drain", 1, 2, oc_fdrain,
    "Take every pending item of HANDLE, oldest first, or at most MAX.\n"
    "When MAX items are taken and more remain, the rest stay queued (text\n"
    "deltas still merging into them) and HANDLE's process is woken again.\n"
    "Items are (event TYPE PROPS), (delta SESSION MESSAGE PART FIELD TEXT),\n"
    "(state STATE MS DETAIL), (response ID STATUS DATA RAW HEADERS),\n"
    "(failure ID CURL-CODE MESSAGE) and (warning MESSAGE).  An item that\n"
    "cannot be converted becomes a warning; a quit while converting leaves\n"
    "every item queued for the next call.\n\n"
    "(fn HANDLE &optional MAX)" },
  { "opencode--module-request", 4, 5, oc_frequest,
    "Start an HTTP request on HANDLE; return its id.\n"
    "METHOD is \"GET\", \"POST\", \"PATCH\", \"PUT\" or \"DELETE\"; PATH is\n"
    "URL-encoded and starts with /; BODY is a JSON string or nil;\n"
    "TIMEOUT is in milliseconds.\n\n"
    "(fn HANDLE METHOD PATH BODY &optional TIMEOUT)" },
  { "opencode--module-cancel", 2, 2, oc_fcancel,
    "Cancel request ID of HANDLE; its result is never delivered.\n\n"
    "(fn HANDLE ID)" },
  { "opencode--module-reconnect", 1, 1, oc_freconnect,
    "Make HANDLE's dropped stream reconnect now, backoff started afresh.\n\n"
    "(fn HANDLE)" },
  { "opencode--module-stats", 1, 1, oc_fstats,
    "Return a plist of counters of HANDLE's queue.\n\n(fn HANDLE)" },
  { "opencode--module-version", 0, 0, oc_fversion,
    "Return the module's version string.\n\n(fn)" },
  { "opencode--module-parse-json", 1, 1, oc_fparse_json,
    "Parse STRING as JSON the way events are parsed.\n\n(fn STRING)" },
};

static emacs_value
oc_global (emacs_env *env, const char *name)
{
  return env->make_global_ref (env, env->intern (env, name));
}

/* What emacs_module_init returns; Emacs reports a non-zero one in its
   `module-init-failed' error.  */
enum oc_init_status
{
  OC_INIT_OK,
  OC_INIT_OLD_RUNTIME,          /* The runtime struct is too small.  */
  OC_INIT_OLD_EMACS,            /* No Emacs 28 environment.  */
  OC_INIT_CURL,                 /* curl_global_init failed.  */
  OC_INIT_LISP                  /* Interning or defalias signalled.  */
};

OC_EXPORT int
emacs_module_init (struct emacs_runtime *runtime)
{
  if (runtime->size < (ptrdiff_t) sizeof *runtime)
    return OC_INIT_OLD_RUNTIME;
  emacs_env *env = runtime->get_environment (runtime);
  if (env->size < (ptrdiff_t) sizeof (struct emacs_env_28))
    return OC_INIT_OLD_EMACS;
  if (!oc_conn_global_init ())
    return OC_INIT_CURL;

  Qnil = oc_global (env, "nil");
  Qt = oc_global (env, "t");
  Qlist = oc_global (env, "list");
  Qvector = oc_global (env, "vector");
  Qintern = oc_global (env, "intern");
  Qnull_kw = oc_global (env, ":null");
  Qfalse_kw = oc_global (env, ":false");
  Qevent = oc_global (env, "event");
  Qdelta = oc_global (env, "delta");
  Qstate = oc_global (env, "state");
  Qresponse = oc_global (env, "response");
  Qfailure = oc_global (env, "failure");
  Qwarning = oc_global (env, "warning");
  Qmodule_error = oc_global (env, "opencode-module-error");
  Qmemory_full = oc_global (env, "memory-full");
  Qquit = oc_global (env, "quit");
  Qerror = oc_global (env, "error");
  Qerror_conditions = oc_global (env, "error-conditions");
  Qget = oc_global (env, "get");
  Qmemq = oc_global (env, "memq");
  for (int st = 0; st <= OC_STATE_DISCONNECTED; st++)
    Qstates[st] = oc_global (env, oc_state_name ((oc_state) st));

  emacs_value defalias = env->intern (env, "defalias");
  for (size_t i = 0; i < sizeof oc_functions / sizeof oc_functions[0]; i++)
    {
      const oc_fn_spec *s = &oc_functions[i];
      emacs_value fn = env->make_function (env, s->min, s->max, s->fn,
                                           s->doc, NULL);
      emacs_value a[2] = { env->intern (env, s->name), fn };
      env->funcall (env, defalias, 2, a);
    }
  return oc_exited (env) ? OC_INIT_LISP : OC_INIT_OK;
}
