
/*
 * Copyright (C) ngx_http_oauth2_module authors
 */


/*
 * Unit tests of the session cookies: ngx_http_oauth2_seal.c, _codec.c,
 * _cookie.c and _ocache.c, linked with t/shim/ngx_shim.c.
 *
 *   session_test                 run the tests, print "N passed, N failed"
 *   session_test bench [N]       time N opens of a session cookie
 *
 * and, for t/unit/session.sh to compare with t/tools/seal.js:
 *
 *   session_test keys SECRET
 *   session_test seal-session SECRET NAME EXPIRES CREATED ACCESS_EXPIRES
 *                SUB ACCESS REFRESH ID [CLAIM VALUE]...
 *   session_test open-session NAME VALUE SECRET...
 *   session_test seal-state SECRET NAME CREATED STATE NONCE VERIFIER URL
 *   session_test open-state NAME VALUE SECRET...
 *   session_test set-cookie NAME VALUE MAX_AGE SECURE DOMAIN [COOKIE]...
 *   session_test get-cookie NAME [COOKIE]...
 *
 * open-* print JSON as seal.js does (key_index added), or exit 1;
 * get-cookie prints the value or exits 1.  COOKIE: a Cookie header value.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <sys/time.h>

#include "ngx_http_oauth2_seal.h"
#include "ngx_http_oauth2_codec.h"
#include "ngx_http_oauth2_cookie.h"
#include "ngx_http_oauth2_ocache.h"
#include "ngx_shim.h"


#define T_SECRET  "unit-test-secret-0123456789abcdef0123456789"
#define T_SECRET2 "unit-test-rotated-secret-0123456789abcdef012"


static void t_check(int ok, const char *what, int line);
static ngx_str_t t_str(const char *s);
static ngx_array_t *t_keys(ngx_pool_t *pool, char **secrets, int n);
static void t_key_sets(ngx_pool_t *pool, ngx_array_t **keys,
    ngx_array_t **keys2, ngx_array_t **rotated);
static ngx_http_request_t *t_request(ngx_pool_t *pool);
static void t_add_cookie(ngx_http_request_t *r, const char *value);
static ngx_uint_t t_set_cookies(ngx_http_request_t *r, ngx_str_t *out,
    ngx_uint_t max);
static ngx_http_request_t *t_replay(ngx_pool_t *pool, ngx_str_t *set,
    ngx_uint_t n);
static void t_json_str(ngx_str_t *s);
static void t_print_session(ngx_http_oauth2_session_t *s, ngx_uint_t index);
static void t_print_state(ngx_http_oauth2_login_state_t *st,
    ngx_uint_t index);
static ngx_int_t t_collect(ngx_http_request_t *r, ngx_str_t *name,
    ngx_str_t *value, void *data);
static ngx_int_t t_stop_second(ngx_http_request_t *r, ngx_str_t *name,
    ngx_str_t *value, void *data);

static ngx_uint_t t_hex_eq(u_char *p, size_t len, const char *hex);
static void test_vectors(ngx_pool_t *pool);
static void test_keys(ngx_pool_t *pool);
static void test_seal(ngx_pool_t *pool);
static void test_seal_cache(ngx_pool_t *pool);
static void test_session_cache(ngx_pool_t *pool);
static ngx_uint_t t_session_eq(ngx_http_oauth2_session_t *a,
    ngx_http_oauth2_session_t *b);
static void t_sealed_session(ngx_pool_t *pool, ngx_array_t *keys,
    ngx_str_t *name, ngx_uint_t n, size_t rt_len,
    ngx_http_oauth2_session_t *s, ngx_str_t *sealed);
static void test_session(ngx_pool_t *pool);
static void test_state(ngx_pool_t *pool);
static void test_cookie_get(ngx_pool_t *pool);
static void test_cookie_set(ngx_pool_t *pool);
static void test_cookie_each(ngx_pool_t *pool);
static void test_cookie_strip(ngx_pool_t *pool);
static void test_garbage(ngx_pool_t *pool);
static int run_tests(void);
static int run_bench(int argc, char **argv);
static int run_command(ngx_pool_t *pool, int argc, char **argv);


#define T(cond)  t_check((cond) ? 1 : 0, #cond, __LINE__)


static ngx_uint_t  t_passed;
static ngx_uint_t  t_failed;


static void
t_check(int ok, const char *what, int line)
{
    if (ok) {
        t_passed++;
        return;
    }

    t_failed++;
    printf("not ok - line %d: %s\n", line, what);
}


static ngx_str_t
t_str(const char *s)
{
    ngx_str_t  str;

    str.data = (u_char *) s;
    str.len = strlen(s);

    return str;
}


/* keys of T_SECRET, of T_SECRET2, and both with T_SECRET2 first (a
 * rotation: the new secret seals, the old one still opens) */

static void
t_key_sets(ngx_pool_t *pool, ngx_array_t **keys, ngx_array_t **keys2,
    ngx_array_t **rotated)
{
    char  *secrets[2];

    secrets[0] = T_SECRET;
    secrets[1] = T_SECRET2;
    *keys = t_keys(pool, secrets, 1);
    *keys2 = t_keys(pool, secrets + 1, 1);

    secrets[0] = T_SECRET2;
    secrets[1] = T_SECRET;
    *rotated = t_keys(pool, secrets, 2);
}


static ngx_array_t *
t_keys(ngx_pool_t *pool, char **secrets, int n)
{
    int                      i;
    ngx_str_t                s;
    ngx_array_t             *keys;
    ngx_http_oauth2_keys_t  *k;

    keys = ngx_array_create(pool, 2, sizeof(ngx_http_oauth2_keys_t));
    if (keys == NULL) {
        abort();
    }

    for (i = 0; i < n; i++) {
        k = ngx_array_push(keys);
        s = t_str(secrets[i]);

        if (k == NULL || ngx_http_oauth2_derive_keys(&s, k) != NGX_OK) {
            fprintf(stderr, "key derivation failed\n");
            exit(2);
        }
    }

    return keys;
}


static ngx_http_request_t *
t_request(ngx_pool_t *pool)
{
    return ngx_shim_request(pool);
}


/* as nginx does when it reads a Cookie header */

static void
t_add_cookie(ngx_http_request_t *r, const char *value)
{
    if (ngx_shim_request_add_cookie(r, (u_char *) value, strlen(value))
        != NGX_OK)
    {
        abort();
    }
}


static ngx_uint_t
t_set_cookies(ngx_http_request_t *r, ngx_str_t *out, ngx_uint_t max)
{
    ngx_uint_t        i, n;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    n = 0;
    part = &r->headers_out.headers.part;
    h = part->elts;

    for (i = 0; /* void */; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                break;
            }

            part = part->next;
            h = part->elts;
            i = 0;
        }

        if (h[i].hash == 1 && h[i].key.len == 10
            && ngx_strncmp(h[i].key.data, "Set-Cookie", 10) == 0
            && n < max)
        {
            out[n++] = h[i].value;
        }
    }

    return n;
}


/* a request carrying, as a browser would, the cookies set */

static ngx_http_request_t *
t_replay(ngx_pool_t *pool, ngx_str_t *set, ngx_uint_t n)
{
    u_char              *buf, *p, *semi;
    size_t               len;
    ngx_uint_t           i;
    ngx_http_request_t  *r;

    len = 1;

    for (i = 0; i < n; i++) {
        len += set[i].len + 2;
    }

    buf = ngx_pnalloc(pool, len);
    p = buf;

    for (i = 0; i < n; i++) {
        semi = ngx_strlchr(set[i].data, set[i].data + set[i].len, ';');

        if (semi == NULL) {
            semi = set[i].data + set[i].len;
        }

        if (p != buf) {
            *p++ = ';'; *p++ = ' ';
        }

        p = ngx_cpymem(p, set[i].data, semi - set[i].data);
    }

    *p = '\0';

    r = t_request(pool);
    t_add_cookie(r, (char *) buf);

    return r;
}


static void
t_json_str(ngx_str_t *s)
{
    u_char      c;
    ngx_uint_t  i;

    putchar('"');

    for (i = 0; i < s->len; i++) {
        c = s->data[i];

        switch (c) {
        case '"':  fputs("\\\"", stdout); break;
        case '\\': fputs("\\\\", stdout); break;
        case '\b': fputs("\\b", stdout); break;
        case '\f': fputs("\\f", stdout); break;
        case '\n': fputs("\\n", stdout); break;
        case '\r': fputs("\\r", stdout); break;
        case '\t': fputs("\\t", stdout); break;
        default:
            if (c < 0x20) {
                printf("\\u%04x", c);

            } else {
                putchar(c);
            }
        }
    }

    putchar('"');
}


/* a claim value as seal.js decodes it */

static void
t_print_claim(ngx_http_oauth2_claim_t *c)
{
    u_char      *p;
    ngx_str_t    e;
    ngx_uint_t   n;

    if (c->type == NGX_HTTP_OAUTH2_CLAIM_STRING) {
        t_json_str(&c->value);
        return;
    }

    if (c->type != NGX_HTTP_OAUTH2_CLAIM_ARRAY) {
        printf("%.*s", (int) c->value.len, c->value.data);
        return;
    }

    putchar('[');

    p = c->value.data;

    for (n = 0;
         ngx_http_oauth2_claim_element(&p, c->value.data + c->value.len, &e)
         == NGX_OK;
         n++)
    {
        if (n) {
            putchar(',');
        }

        t_json_str(&e);
    }

    putchar(']');
}


static void
t_print_session(ngx_http_oauth2_session_t *s, ngx_uint_t index)
{
    ngx_uint_t                i;
    ngx_http_oauth2_claim_t  *claim;

    printf("{\"expires\":%lld,\"created\":%lld,\"access_expires\":%lld,"
           "\"sub\":", (long long) s->expires, (long long) s->created,
           (long long) s->access_expires);
    t_json_str(&s->sub);
    printf(",\"email\":");
    t_json_str(&s->email);
    printf(",\"claims\":{");

    claim = s->claims.elts;

    for (i = 0; i < s->claims.nelts; i++) {
        if (i) {
            putchar(',');
        }

        t_json_str(&claim[i].name);
        putchar(':');
        t_print_claim(&claim[i]);
    }

    printf("},\"access_token\":");
    t_json_str(&s->access_token);
    printf(",\"refresh_token\":");
    t_json_str(&s->refresh_token);
    printf(",\"id_token\":");
    t_json_str(&s->id_token);
    printf(",\"key_index\":%lu}\n", (unsigned long) index);
}


static void
t_print_state(ngx_http_oauth2_login_state_t *st, ngx_uint_t index)
{
    printf("{\"created\":%lld,\"state\":", (long long) st->created);
    t_json_str(&st->state);
    printf(",\"nonce\":");
    t_json_str(&st->nonce);
    printf(",\"verifier\":");
    t_json_str(&st->verifier);
    printf(",\"return_url\":");
    t_json_str(&st->return_url);
    printf(",\"key_index\":%lu}\n", (unsigned long) index);
}


static ngx_uint_t
t_hex_eq(u_char *p, size_t len, const char *hex)
{
    char    buf[3];
    size_t  i;

    if (strlen(hex) != 2 * len) {
        return 0;
    }

    for (i = 0; i < len; i++) {
        snprintf(buf, sizeof(buf), "%02x", p[i]);

        if (buf[0] != hex[2 * i] || buf[1] != hex[2 * i + 1]) {
            return 0;
        }
    }

    return 1;
}


/* tests */

/* the examples of docs/session-format.md */

static void
test_vectors(ngx_pool_t *pool)
{
    char                           *secrets[1];
    ngx_str_t                       secret, name, sealed, plain, again;
    ngx_uint_t                      index;
    ngx_array_t                    *keys;
    ngx_http_oauth2_claim_t        *claim;
    ngx_http_oauth2_keys_t          k;
    ngx_http_oauth2_session_t       s;
    ngx_http_oauth2_login_state_t   st;

    secrets[0] = "example-cookie-secret-0123456789abcdef";
    secret = t_str(secrets[0]);

    T(ngx_http_oauth2_derive_keys(&secret, &k) == NGX_OK);
    T(t_hex_eq(k.session, 32, "e16f1da33c12544e3163363a6c5afeef"
                              "25806d397b8dc4caf84bea688fdc5861"));
    T(t_hex_eq(k.state, 32, "97772a1c43d7b8dba0ad940da3a2940b"
                            "a5b257a216febb89c29b8babcb6bbbeb"));

    keys = t_keys(pool, secrets, 1);

    name = t_str("oauth2_session");
    sealed = t_str("AQABAgMEBQYHCAkKC3FXWnZtP1ONfZfXzJffpPMTo2RrlKNaYH9m7eRz"
                   "fJ5NvbWW1Jkuaibixi65Dgk32-2YWoJRk9BK2KgUtO7lm-RTPtZqszim"
                   "-7IY5tIrv5Buh23ZLItQSiDW4zXK");

    T(ngx_http_oauth2_open(pool, keys, NGX_HTTP_OAUTH2_SEAL_SESSION, &name,
                           &sealed, &plain, &index) == NGX_OK);
    T(t_hex_eq(plain.data, plain.len,
               "0280f2d6ca06c0a0d4ca06d0bcd4ca0605616c69636511616c696365"
               "406578616d706c652e636f6d020667726f757073040a057573657273"
               "03612c62056c6576656c0201330461742d310000"));
    T(ngx_http_oauth2_session_decode(pool, &plain, &s) == NGX_OK);
    T(s.expires == 1767225600 && s.created == 1767182400
      && s.access_expires == 1767186000 && s.claims.nelts == 2);
    T(s.email.len == 17 && memcmp(s.email.data, "alice@example.com", 17) == 0);

    claim = s.claims.elts;
    T(claim[0].type == NGX_HTTP_OAUTH2_CLAIM_ARRAY
      && claim[0].value.len == 10
      && memcmp(claim[0].value.data, "\x05" "users" "\x03" "a,b", 10) == 0);
    T(claim[1].type == NGX_HTTP_OAUTH2_CLAIM_NUMBER
      && claim[1].value.len == 1 && claim[1].value.data[0] == '3');

    /* and encoding it again gives the same bytes */
    T(ngx_http_oauth2_session_encode(pool, &s, &again) == NGX_OK);
    T(again.len == plain.len && memcmp(again.data, plain.data, plain.len)
                                == 0);

    name = t_str("oauth2_state_abc");
    sealed = t_str("AQwNDg8QERITFBUWF0naMKvcmZANHdCz2ouALGhqmDIHoyJLMkI8rMQH"
                   "TvjXtFXTGDzJhMgHFvd9rAd-lA");

    T(ngx_http_oauth2_open(pool, keys, NGX_HTTP_OAUTH2_SEAL_STATE, &name,
                           &sealed, &plain, &index) == NGX_OK);
    T(t_hex_eq(plain.data, plain.len,
               "01c0a0d4ca060473742d31036e2d3103762d310c2f61667465722f6c6f"
               "67696e"));
    T(ngx_http_oauth2_state_decode(pool, &plain, &st) == NGX_OK);
    T(st.created == 1767182400 && st.return_url.len == 12
      && memcmp(st.return_url.data, "/after/login", 12) == 0);
}


static void
test_keys(ngx_pool_t *pool)
{
    ngx_str_t               s;
    ngx_http_oauth2_keys_t  k1, k2, k3;

    s = t_str(T_SECRET);
    T(ngx_http_oauth2_derive_keys(&s, &k1) == NGX_OK);
    T(ngx_http_oauth2_derive_keys(&s, &k2) == NGX_OK);
    T(memcmp(&k1, &k2, sizeof(k1)) == 0);
    T(memcmp(k1.session, k1.state, NGX_HTTP_OAUTH2_KEY_LEN) != 0);

    s = t_str(T_SECRET2);
    T(ngx_http_oauth2_derive_keys(&s, &k3) == NGX_OK);
    T(memcmp(k1.session, k3.session, NGX_HTTP_OAUTH2_KEY_LEN) != 0);

    s = t_str("");
    T(ngx_http_oauth2_derive_keys(&s, &k3) == NGX_ERROR);
}


static void
test_seal(ngx_pool_t *pool)
{
    u_char        *p;
    ngx_str_t      aad, aad2, plain, sealed, sealed2, out, bad;
    ngx_uint_t     index, i, declined, bit;
    ngx_array_t   *keys, *keys2, *rotated;

    t_key_sets(pool, &keys, &keys2, &rotated);

    aad = t_str("oauth2_session");
    aad2 = t_str("oauth2_sessiom");
    plain = t_str("hello, sealed world");

    T(ngx_http_oauth2_seal(pool, keys, NGX_HTTP_OAUTH2_SEAL_SESSION, &aad,
                           &plain, &sealed) == NGX_OK);
    /* base64url without padding */
    T(sealed.len == (4 * (29 + plain.len) + 2) / 3);
    T(ngx_strlchr(sealed.data, sealed.data + sealed.len, '=') == NULL);

    index = 7;
    T(ngx_http_oauth2_open(pool, keys, NGX_HTTP_OAUTH2_SEAL_SESSION, &aad,
                           &sealed, &out, &index) == NGX_OK);
    T(index == 0);
    T(out.len == plain.len && memcmp(out.data, plain.data, out.len) == 0);

    T(ngx_http_oauth2_open(pool, keys, NGX_HTTP_OAUTH2_SEAL_SESSION, &aad,
                           &sealed, &out, NULL) == NGX_OK);

    /* fresh nonces */
    T(ngx_http_oauth2_seal(pool, keys, NGX_HTTP_OAUTH2_SEAL_SESSION, &aad,
                           &plain, &sealed2) == NGX_OK);
    T(sealed2.len == sealed.len
      && memcmp(sealed2.data, sealed.data, sealed.len) != 0);

    /* bound to purpose, name and key */
    T(ngx_http_oauth2_open(pool, keys, NGX_HTTP_OAUTH2_SEAL_STATE, &aad,
                           &sealed, &out, &index) == NGX_DECLINED);
    T(ngx_http_oauth2_open(pool, keys, NGX_HTTP_OAUTH2_SEAL_SESSION, &aad2,
                           &sealed, &out, &index) == NGX_DECLINED);
    T(ngx_http_oauth2_open(pool, keys2, NGX_HTTP_OAUTH2_SEAL_SESSION, &aad,
                           &sealed, &out, &index) == NGX_DECLINED);

    /* rotation */
    T(ngx_http_oauth2_open(pool, rotated, NGX_HTTP_OAUTH2_SEAL_SESSION,
                           &aad, &sealed, &out, &index) == NGX_OK);
    T(index == 1);
    T(ngx_http_oauth2_seal(pool, rotated, NGX_HTTP_OAUTH2_SEAL_SESSION, &aad,
                           &plain, &sealed2) == NGX_OK);
    T(ngx_http_oauth2_open(pool, keys2, NGX_HTTP_OAUTH2_SEAL_SESSION, &aad,
                           &sealed2, &out, &index) == NGX_OK && index == 0);
    T(ngx_http_oauth2_open(pool, keys, NGX_HTTP_OAUTH2_SEAL_SESSION, &aad,
                           &sealed2, &out, &index) == NGX_DECLINED);

    /* state purpose */
    T(ngx_http_oauth2_seal(pool, keys, NGX_HTTP_OAUTH2_SEAL_STATE, &aad,
                           &plain, &sealed2) == NGX_OK);
    T(ngx_http_oauth2_open(pool, keys, NGX_HTTP_OAUTH2_SEAL_STATE, &aad,
                           &sealed2, &out, &index) == NGX_OK);
    T(ngx_http_oauth2_open(pool, keys, NGX_HTTP_OAUTH2_SEAL_SESSION, &aad,
                           &sealed2, &out, &index) == NGX_DECLINED);

    /* empty plaintext and empty additional data */
    plain.len = 0;
    aad2.len = 0;
    T(ngx_http_oauth2_seal(pool, keys, NGX_HTTP_OAUTH2_SEAL_SESSION, &aad2,
                           &plain, &sealed2) == NGX_OK);
    T(sealed2.len == 39);
    T(ngx_http_oauth2_open(pool, keys, NGX_HTTP_OAUTH2_SEAL_SESSION, &aad2,
                           &sealed2, &out, &index) == NGX_OK && out.len == 0);

    /* every single changed character is refused */
    p = ngx_pnalloc(pool, sealed.len + 3);
    bad.data = p;
    declined = 0;

    for (i = 0; i < sealed.len; i++) {
        for (bit = 0; bit < 2; bit++) {
            memcpy(p, sealed.data, sealed.len);
            bad.len = sealed.len;
            p[i] = (p[i] == (bit ? 'A' : 'B')) ? 'C' : (bit ? 'A' : 'B');

            if (ngx_http_oauth2_open(pool, keys, NGX_HTTP_OAUTH2_SEAL_SESSION,
                                     &aad, &bad, &out, &index)
                == NGX_DECLINED)
            {
                declined++;
            }
        }
    }

    /*
     * the last character carries 4 spare bits that decoders ignore
     * (19 + 29 bytes = 48 = 16 groups of 3: no spare bits here)
     */
    T(declined == 2 * sealed.len);

    /* truncations, padding, foreign characters, version */
    memcpy(p, sealed.data, sealed.len);

    for (i = 0; i < sealed.len; i++) {
        bad.len = i;

        if (ngx_http_oauth2_open(pool, keys, NGX_HTTP_OAUTH2_SEAL_SESSION,
                                 &aad, &bad, &out, &index)
            != NGX_DECLINED)
        {
            break;
        }
    }

    T(i == sealed.len);

    p[sealed.len] = '=';
    bad.len = sealed.len + 1;
    T(ngx_http_oauth2_open(pool, keys, NGX_HTTP_OAUTH2_SEAL_SESSION, &aad,
                           &bad, &out, &index) == NGX_DECLINED);

    /* what follows "=" is not looked at by nginx's decoder */
    p[sealed.len + 1] = 'A';
    p[sealed.len + 2] = 'B';
    bad.len = sealed.len + 3;
    T(ngx_http_oauth2_open(pool, keys, NGX_HTTP_OAUTH2_SEAL_SESSION, &aad,
                           &bad, &out, &index) == NGX_DECLINED);

    p[sealed.len] = 'A';
    p[sealed.len + 1] = 'A';
    bad.len = sealed.len + 2;
    T(ngx_http_oauth2_open(pool, keys, NGX_HTTP_OAUTH2_SEAL_SESSION, &aad,
                           &bad, &out, &index) == NGX_DECLINED);

    bad.len = sealed.len;
    p[5] = '+';
    T(ngx_http_oauth2_open(pool, keys, NGX_HTTP_OAUTH2_SEAL_SESSION, &aad,
                           &bad, &out, &index) == NGX_DECLINED);
    p[5] = '.';
    T(ngx_http_oauth2_open(pool, keys, NGX_HTTP_OAUTH2_SEAL_SESSION, &aad,
                           &bad, &out, &index) == NGX_DECLINED);

    /* version 2: "Ag..." instead of "AQ..." */
    memcpy(p, sealed.data, sealed.len);
    T(p[0] == 'A' && ((p[1] >= 'Q' && p[1] <= 'Z')
                      || (p[1] >= 'a' && p[1] <= 'f')));
    p[1] = 'g';
    T(ngx_http_oauth2_open(pool, keys, NGX_HTTP_OAUTH2_SEAL_SESSION, &aad,
                           &bad, &out, &index) == NGX_DECLINED);

    /*
     * every length (so every tail of the base64url decoder: 0, 2, 3
     * characters), every byte value, additional data that goes to the
     * cipher in one call and in two
     */
    p = ngx_pnalloc(pool, 400);

    for (i = 0; i < 400; i++) {
        p[i] = (u_char) (i * 7 + 3);
    }

    declined = 0;

    for (i = 0; i < 70; i++) {
        plain.data = p;
        plain.len = i;
        aad2.data = p;
        aad2.len = (i % 2) ? 257 + i : i;

        if (ngx_http_oauth2_seal(pool, keys, NGX_HTTP_OAUTH2_SEAL_SESSION,
                                 &aad2, &plain, &sealed2) != NGX_OK
            || ngx_http_oauth2_open(pool, keys, NGX_HTTP_OAUTH2_SEAL_SESSION,
                                    &aad2, &sealed2, &out, &index) != NGX_OK
            || out.len != i || memcmp(out.data, p, i) != 0)
        {
            declined++;
        }

        /* the additional data counts to its last byte */
        aad2.data = p + 1;

        if (ngx_http_oauth2_open(pool, keys, NGX_HTTP_OAUTH2_SEAL_SESSION,
                                 &aad2, &sealed2, &out, &index)
            != (aad2.len ? NGX_DECLINED : NGX_OK))
        {
            declined++;
        }
    }

    T(declined == 0);

    /* no keys is the caller's error */
    keys2->nelts = 0;
    T(ngx_http_oauth2_open(pool, keys2, NGX_HTTP_OAUTH2_SEAL_SESSION, &aad,
                           &sealed, &out, &index) == NGX_ERROR);
    T(ngx_http_oauth2_seal(pool, keys2, NGX_HTTP_OAUTH2_SEAL_SESSION, &aad,
                           &plain, &sealed2) == NGX_ERROR);
}


/* the same session, field by field */

static ngx_uint_t
t_session_eq(ngx_http_oauth2_session_t *a, ngx_http_oauth2_session_t *b)
{
    ngx_uint_t                i;
    ngx_http_oauth2_claim_t  *ca, *cb;

#define t_str_eq(x, y)                                                       \
    ((x).len == (y).len                                                      \
     && ((x).len == 0 || memcmp((x).data, (y).data, (x).len) == 0))

    if (a->expires != b->expires || a->created != b->created
        || a->access_expires != b->access_expires || a->seen != b->seen
        || !t_str_eq(a->sub, b->sub)
        || !t_str_eq(a->email, b->email)
        || !t_str_eq(a->access_token, b->access_token)
        || !t_str_eq(a->refresh_token, b->refresh_token)
        || !t_str_eq(a->id_token, b->id_token)
        || a->claims.nelts != b->claims.nelts)
    {
        return 0;
    }

    ca = a->claims.elts;
    cb = b->claims.elts;

    for (i = 0; i < a->claims.nelts; i++) {
        if (!t_str_eq(ca[i].name, cb[i].name)
            || ca[i].type != cb[i].type
            || !t_str_eq(ca[i].value, cb[i].value))
        {
            return 0;
        }
    }

#undef t_str_eq

    return 1;
}


/*
 * A session with n claims and a refresh token of rt_len bytes, sealed
 * under name with keys
 */

static void
t_sealed_session(ngx_pool_t *pool, ngx_array_t *keys, ngx_str_t *name,
    ngx_uint_t n, size_t rt_len, ngx_http_oauth2_session_t *s,
    ngx_str_t *sealed)
{
    u_char                   *rt;
    ngx_str_t                 plain;
    ngx_uint_t                i;
    ngx_http_oauth2_claim_t  *claim;

    rt = ngx_pnalloc(pool, rt_len + 1);
    if (rt == NULL) {
        abort();
    }

    for (i = 0; i < rt_len; i++) {
        rt[i] = (u_char) ('a' + (i * 7 + rt_len) % 26);
    }

    ngx_memzero(s, sizeof(ngx_http_oauth2_session_t));
    s->expires = 1800000000 + n;
    s->created = 1700000000;
    s->seen = n ? 1700000060 : 0;
    s->sub = t_str("alice");
    s->refresh_token.data = rt;
    s->refresh_token.len = rt_len;

    if (ngx_array_init(&s->claims, pool, 2, sizeof(ngx_http_oauth2_claim_t))
        != NGX_OK)
    {
        abort();
    }

    for (i = 0; i < n; i++) {
        claim = ngx_array_push(&s->claims);
        if (claim == NULL) {
            abort();
        }

        claim->name = t_str((i % 2) ? "groups" : "email");
        claim->value = t_str((i % 2) ? "\x03" "a,b" : "alice@example.com");
        claim->type = (i % 2) ? NGX_HTTP_OAUTH2_CLAIM_ARRAY
                              : NGX_HTTP_OAUTH2_CLAIM_STRING;
    }

    if (ngx_http_oauth2_session_encode(pool, s, &plain) != NGX_OK
        || ngx_http_oauth2_seal(pool, keys, NGX_HTTP_OAUTH2_SEAL_SESSION,
                                name, &plain, sealed)
           != NGX_OK)
    {
        abort();
    }
}


/*
 * ngx_http_oauth2_session_open_cached(): a hit gives the session a decode
 * gives, in memory of its own, and only for the same value, name and key
 */

static void
test_session_cache(ngx_pool_t *pool)
{
    u_char                          *p;
    size_t                           size;
    ngx_str_t                        name, name2, sealed, sealed2, bad;
    ngx_str_t                        junk;
    ngx_uint_t                       i, n, index, errors;
    ngx_array_t                     *keys, *keys2, *rotated;
    ngx_http_oauth2_claim_t         *claim;
    ngx_http_oauth2_session_t        s, d, o;
    ngx_http_oauth2_ocache_stats_t   st0, st;

    static const char  b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                               "abcdefghijklmnopqrstuvwxyz0123456789-_";

    t_key_sets(pool, &keys, &keys2, &rotated);

    name = t_str("oauth2_op");
    name2 = t_str("oauth2_oq");
    size = 64 * 1024;

    /* 0, 1 and 2 claims: the miss that enters it, then hits */

    for (n = 0; n < 3; n++) {
        t_sealed_session(pool, keys, &name, n, 43, &s, &sealed);

        ngx_http_oauth2_open_cache_stats(&st0);

        for (i = 0; i < 3; i++) {
            index = 7;
            T(ngx_http_oauth2_session_open_cached(pool, size, keys, &name,
                                                  &sealed, &d, &index)
              == NGX_OK);
            T(index == 0 && t_session_eq(&d, &s));

            /* what a request does to its copy stays in the request */
            if (d.claims.nelts) {
                claim = d.claims.elts;
                claim[0].value.data[0] = 'X';
                claim[0].value.len = 1;
            }

            d.sub.data[0] = 'X';
        }

        ngx_http_oauth2_open_cache_stats(&st);
        T(st.misses == st0.misses + 1 && st.hits == st0.hits + 2);
        T(st.size == size && st.used > sealed.len);

        /* the claims array of a copy is the request's own */
        T(ngx_array_push(&d.claims) != NULL);
        T(ngx_http_oauth2_session_open_cached(pool, size, keys, &name,
                                              &sealed, &o, NULL) == NGX_OK);
        T(t_session_eq(&o, &s));

        /* no cache: the same */
        T(ngx_http_oauth2_session_open_cached(pool, 0, keys, &name, &sealed,
                                              &o, NULL) == NGX_OK);
        T(t_session_eq(&o, &s));

        /* the same value under another name or key: not a hit */
        T(ngx_http_oauth2_session_open_cached(pool, size, keys, &name2,
                                              &sealed, &o, NULL)
          == NGX_DECLINED);
        T(ngx_http_oauth2_session_open_cached(pool, size, keys2, &name,
                                              &sealed, &o, NULL)
          == NGX_DECLINED);
    }

    /* its key moved to second place: opened again, with the new index */
    index = 7;
    T(ngx_http_oauth2_session_open_cached(pool, size, rotated, &name,
                                          &sealed, &o, &index) == NGX_OK);
    T(index == 1 && t_session_eq(&o, &s));
    T(ngx_http_oauth2_session_open_cached(pool, size, keys, &name, &sealed,
                                          &o, &index) == NGX_OK);
    T(index == 0);

    /*
     * any other character, past the part that chooses the bucket or in
     * it, a shorter or a longer value, while the original is cached
     */
    p = ngx_pnalloc(pool, sealed.len + 4);
    bad.data = p;
    errors = 0;

    for (i = 0; i < sealed.len + 2; i++) {
        memcpy(p, sealed.data, sealed.len);
        bad.len = sealed.len;

        if (i < sealed.len) {
            /* the character's highest bit: the last character's unused
             * low bits would decode to the same bytes */
            p[i] = b64[(strchr(b64, p[i]) - b64) ^ 0x20];

        } else {
            bad.len = (i == sealed.len) ? sealed.len - 1 : sealed.len + 4;
            memcpy(p + sealed.len, "AAAA", 4);
        }

        if (ngx_http_oauth2_session_open_cached(pool, size, keys, &name,
                                                &bad, &o, NULL)
            != NGX_DECLINED)
        {
            errors++;
        }

        if (ngx_http_oauth2_session_open_cached(pool, size, keys, &name,
                                                &sealed, &o, NULL)
            != NGX_OK
            || !t_session_eq(&o, &s))
        {
            errors++;
        }
    }

    T(errors == 0);

    /*
     * many more sessions than a small cache holds, each twice, and larger
     * ones that push out several; the sanitizer build checks what is
     * replaced
     */
    errors = 0;

    for (i = 0; i < 600; i++) {
        t_sealed_session(pool, keys, &name, i % 3,
                         (i % 50 == 0) ? 600 : i % 200, &s, &sealed2);

        ngx_http_oauth2_open_cache_stats(&st0);

        for (n = 0; n < 2; n++) {
            if (ngx_http_oauth2_session_open_cached(pool, 16 * 1024, keys,
                                                    &name, &sealed2, &o,
                                                    NULL)
                != NGX_OK
                || !t_session_eq(&o, &s))
            {
                errors++;
            }
        }

        /* the second open was a hit, even for a large session in a full
         * cache; the entries never take more than the size */
        ngx_http_oauth2_open_cache_stats(&st);

        if (st.hits != st0.hits + 1 || st.misses != st0.misses + 1
            || st.used > 16 * 1024 || st.size != 16 * 1024)
        {
            errors++;
        }
    }

    T(errors == 0);
    T(st.entries > 16 && st.used > 8 * 1024);

    /* a value longer than a 16th of the size is not cached */
    t_sealed_session(pool, keys, &name, 1, 900, &s, &sealed2);
    T(sealed2.len > 16 * 1024 / 16);

    for (i = 0; i < 2; i++) {
        ngx_http_oauth2_open_cache_stats(&st0);
        T(ngx_http_oauth2_session_open_cached(pool, 16 * 1024, keys, &name,
                                              &sealed2, &o, NULL) == NGX_OK);
        T(t_session_eq(&o, &s));
        ngx_http_oauth2_open_cache_stats(&st);
        T(st.hits == st0.hits);
    }

    /* a plaintext that is no session: NGX_ABORT, never cached */
    junk = t_str("\x01not a session");
    T(ngx_http_oauth2_seal(pool, keys, NGX_HTTP_OAUTH2_SEAL_SESSION, &name,
                           &junk, &sealed2) == NGX_OK);
    ngx_http_oauth2_open_cache_stats(&st0);

    for (i = 0; i < 2; i++) {
        T(ngx_http_oauth2_session_open_cached(pool, size, keys, &name,
                                              &sealed2, &o, NULL)
          == NGX_ABORT);
    }

    ngx_http_oauth2_open_cache_stats(&st);
    T(st.misses == st0.misses + 2 && st.hits == st0.hits);
    T(ngx_http_oauth2_session_open_cached(pool, 0, keys, &name, &sealed2,
                                          &o, NULL) == NGX_ABORT);

    /* the process's exit frees the entries (the sanitizer's leak check) */
    ngx_http_oauth2_ocache_exit();
    ngx_http_oauth2_seal_exit();
    ngx_http_oauth2_open_cache_stats(&st);
    T(st.entries == 0 && st.used == 0);

    T(ngx_http_oauth2_session_open_cached(pool, size, keys, &name, &sealed,
                                          &o, NULL) == NGX_OK);

    ngx_http_oauth2_ocache_exit();
    ngx_http_oauth2_seal_exit();
}


/* more keys than cached contexts, and failures between successes */

static void
test_seal_cache(ngx_pool_t *pool)
{
    char          secret[20][64], *secrets[20];
    ngx_str_t     aad, plain, sealed[20], out;
    ngx_uint_t    i, round, ok, index;
    ngx_array_t  *keys[20], *all;

    aad = t_str("c");
    plain = t_str("cache");

    for (i = 0; i < 20; i++) {
        snprintf(secret[i], sizeof(secret[i]),
                 "cache-test-secret-%02lu-0123456789abcdef0123456789",
                 (unsigned long) i);
        secrets[i] = secret[i];
        keys[i] = t_keys(pool, &secrets[i], 1);
    }

    all = t_keys(pool, secrets, 20);
    ok = 1;

    for (round = 0; round < 3; round++) {
        for (i = 0; i < 20; i++) {
            if (ngx_http_oauth2_seal(pool, keys[i], i & 1, &aad, &plain,
                                     &sealed[i])
                != NGX_OK)
            {
                ok = 0;
            }
        }

        for (i = 0; i < 20; i++) {
            /* the right key, a wrong one, the right one again */

            if (ngx_http_oauth2_open(pool, keys[i], i & 1, &aad, &sealed[i],
                                     &out, &index) != NGX_OK
                || out.len != 5 || memcmp(out.data, "cache", 5) != 0
                || ngx_http_oauth2_open(pool, keys[(i + 1) % 20], i & 1,
                                        &aad, &sealed[i], &out, &index)
                   != NGX_DECLINED
                || ngx_http_oauth2_open(pool, keys[i], i & 1, &aad,
                                        &sealed[i], &out, &index) != NGX_OK
                || ngx_http_oauth2_open(pool, all, i & 1, &aad, &sealed[i],
                                        &out, &index) != NGX_OK
                || index != i)
            {
                ok = 0;
            }
        }
    }

    T(ok);
}


static void
test_session(ngx_pool_t *pool)
{
    u_char                    *p;
    ngx_str_t                  plain, cut;
    ngx_uint_t                 i, ok;
    ngx_http_oauth2_claim_t   *claim, *c;
    ngx_http_oauth2_session_t  s, d;

    ngx_memzero(&s, sizeof(s));

    s.expires = 1800000000;
    s.created = 1700000000;
    s.access_expires = 0;
    s.sub = t_str("248289761001");

    T(ngx_array_init(&s.claims, pool, 2, sizeof(ngx_http_oauth2_claim_t))
      == NGX_OK);

    claim = ngx_array_push(&s.claims);
    claim->name = t_str("email");
    claim->value = t_str("jane@example.com");
    claim->type = NGX_HTTP_OAUTH2_CLAIM_STRING;
    claim = ngx_array_push(&s.claims);
    claim->name = t_str("groups");
    claim->value = t_str("\x01" "a" "\x03" "b,c");
    claim->type = NGX_HTTP_OAUTH2_CLAIM_ARRAY;

    s.access_token = t_str("at-123");
    s.id_token = t_str("eyJ.eyJ.sig");

    T(ngx_http_oauth2_session_encode(pool, &s, &plain) == NGX_OK);
    T(plain.data[0] == 2);

    T(ngx_http_oauth2_session_decode(pool, &plain, &d) == NGX_OK);
    T(d.expires == s.expires && d.created == s.created
      && d.access_expires == 0);
    T(d.sub.len == 12 && memcmp(d.sub.data, "248289761001", 12) == 0);
    T(d.claims.nelts == 2);
    c = d.claims.elts;
    T(c[0].name.len == 5 && memcmp(c[0].name.data, "email", 5) == 0);
    T(c[1].type == NGX_HTTP_OAUTH2_CLAIM_ARRAY && c[1].value.len == 6
      && memcmp(c[1].value.data, "\x01" "a" "\x03" "b,c", 6) == 0);
    T(d.access_token.len == 6 && d.refresh_token.len == 0
      && d.id_token.len == 11);

    /* strings point into the plaintext */
    T(d.sub.data > plain.data && d.sub.data < plain.data + plain.len);

    /* every proper prefix, and any trailing byte, is refused */
    ok = 1;

    for (i = 0; i < plain.len; i++) {
        cut.data = plain.data;
        cut.len = i;

        if (ngx_http_oauth2_session_decode(pool, &cut, &d) != NGX_DECLINED) {
            ok = 0;
        }
    }

    T(ok);

    p = ngx_pnalloc(pool, plain.len + 1);
    memcpy(p, plain.data, plain.len);
    p[plain.len] = 0;
    cut.data = p;
    cut.len = plain.len + 1;
    T(ngx_http_oauth2_session_decode(pool, &cut, &d) == NGX_DECLINED);

    /* version: format 1 (untyped claims) is refused */
    cut.len = plain.len;
    p[0] = 1;
    T(ngx_http_oauth2_session_decode(pool, &cut, &d) == NGX_DECLINED);

    /* a minimal session: zero times, nothing else */
    ngx_memzero(&s, sizeof(s));
    T(ngx_http_oauth2_session_encode(pool, &s, &plain) == NGX_OK);
    T(plain.len == 10);
    T(ngx_http_oauth2_session_decode(pool, &plain, &d) == NGX_OK
      && d.claims.nelts == 0 && d.sub.len == 0);

    /* non-minimal varint: 0x80 0x00 for 0 */
    p = (u_char *) "\x02\x80\x00\x00\x00\x00\x00\x00\x00\x00\x00";
    cut.data = p;
    cut.len = 11;
    T(ngx_http_oauth2_session_decode(pool, &cut, &d) == NGX_DECLINED);

    /* a 10-byte varint */
    p = (u_char *) "\x02\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01"
                   "\x00\x00\x00\x00\x00\x00\x00\x00";
    cut.data = p;
    cut.len = 19;
    T(ngx_http_oauth2_session_decode(pool, &cut, &d) == NGX_DECLINED);

    /* the largest 9-byte varint is 2^63 - 1: a valid time_t */
    p = (u_char *) "\x02\xff\xff\xff\xff\xff\xff\xff\xff\x7f"
                   "\x00\x00\x00\x00\x00\x00\x00\x00";
    cut.data = p;
    cut.len = 18;
    T(ngx_http_oauth2_session_decode(pool, &cut, &d) == NGX_OK
      && d.expires == NGX_MAX_TIME_T_VALUE);

    /* a length past the end */
    p = (u_char *) "\x02\x00\x00\x00\x05" "abcd" "\x00\x00\x00\x00\x00";
    cut.data = p;
    cut.len = 14;
    T(ngx_http_oauth2_session_decode(pool, &cut, &d) == NGX_DECLINED);

    /* more claims than bytes */
    p = (u_char *) "\x02\x00\x00\x00\x00\x00\x7f\x00\x00\x00";
    cut.data = p;
    cut.len = 10;

    /* a control character in a claim, an unknown type, a bad number */
    p = (u_char *) "\x02\x00\x00\x00\x00\x00\x01\x01n\x01\x02a\n"
                   "\x00\x00\x00";
    cut.data = p;
    cut.len = 16;
    T(ngx_http_oauth2_session_decode(pool, &cut, &d) == NGX_DECLINED);
    p = (u_char *) "\x02\x00\x00\x00\x00\x00\x01\x01n\x01\x02" "ab"
                   "\x00\x00\x00";
    cut.data = p;
    T(ngx_http_oauth2_session_decode(pool, &cut, &d) == NGX_OK);
    p = (u_char *) "\x02\x00\x00\x00\x00\x00\x01\x01n\x05\x02" "ab"
                   "\x00\x00\x00";
    cut.data = p;
    T(ngx_http_oauth2_session_decode(pool, &cut, &d) == NGX_DECLINED);
    p = (u_char *) "\x02\x00\x00\x00\x00\x00\x01\x01n\x02\x02" "01"
                   "\x00\x00\x00";
    cut.data = p;
    T(ngx_http_oauth2_session_decode(pool, &cut, &d) == NGX_DECLINED);
    p = (u_char *) "\x02\x00\x00\x00\x00\x00\x01\x01n\x04\x02\x01\x7f"
                   "\x00\x00\x00";
    cut.data = p;
    T(ngx_http_oauth2_session_decode(pool, &cut, &d) == NGX_DECLINED);

    p = (u_char *) "\x02\x00\x00\x00\x00\x00\x7f\x00\x00\x00";
    cut.data = p;
    cut.len = 10;
    T(ngx_http_oauth2_session_decode(pool, &cut, &d) == NGX_DECLINED);

    /* negative times are the caller's error */
    s.expires = -1;
    T(ngx_http_oauth2_session_encode(pool, &s, &plain) == NGX_ERROR);
}


static void
test_state(ngx_pool_t *pool)
{
    ngx_str_t                      plain, cut;
    ngx_uint_t                     i, ok;
    ngx_http_oauth2_login_state_t  st, d;

    ngx_memzero(&st, sizeof(st));

    st.created = 1700000000;
    st.state = t_str("s-0123456789");
    st.nonce = t_str("n-abcdef");
    st.verifier = t_str("v-0123456789012345678901234567890123456789012");
    st.return_url = t_str("/app/page?x=1&y=\"2\"");

    T(ngx_http_oauth2_state_encode(pool, &st, &plain) == NGX_OK);
    T(ngx_http_oauth2_state_decode(pool, &plain, &d) == NGX_OK);
    T(d.created == st.created);
    T(d.state.len == st.state.len
      && memcmp(d.state.data, st.state.data, d.state.len) == 0);
    T(d.return_url.len == st.return_url.len
      && memcmp(d.return_url.data, st.return_url.data, d.return_url.len)
         == 0);

    ok = 1;

    for (i = 0; i < plain.len; i++) {
        cut.data = plain.data;
        cut.len = i;

        if (ngx_http_oauth2_state_decode(pool, &cut, &d) != NGX_DECLINED) {
            ok = 0;
        }
    }

    T(ok);

    cut.data = plain.data;
    cut.len = plain.len;
    plain.data[0] = 9;
    T(ngx_http_oauth2_state_decode(pool, &cut, &d) == NGX_DECLINED);

    /* a session plaintext is not a state */
    cut.data = (u_char *) "\x01\x00\x00\x00\x00\x00\x00\x00\x00";
    cut.len = 9;
    T(ngx_http_oauth2_state_decode(pool, &cut, &d) == NGX_DECLINED);
}


static void
test_cookie_get(ngx_pool_t *pool)
{
    ngx_str_t            name, value;
    ngx_http_request_t  *r;

    name = t_str("sess");

    r = t_request(pool);
    T(ngx_http_oauth2_cookie_get(r, &name, &value, NULL) == NGX_DECLINED);

    t_add_cookie(r, "a=1; sessx=2;sess_id=3 ;  sess = v1 ; sess=v2");
    T(ngx_http_oauth2_cookie_get(r, &name, &value, NULL) == NGX_OK);
    T(value.len == 2 && memcmp(value.data, "v1", 2) == 0);

    /* several headers (HTTP/2), quotes, tabs, items without "=" */
    r = t_request(pool);
    t_add_cookie(r, "a=1;;; noequals ; =x");
    t_add_cookie(r, "\tsess=\"quoted\"\t; b=2");
    T(ngx_http_oauth2_cookie_get(r, &name, &value, NULL) == NGX_OK);
    T(value.len == 6 && memcmp(value.data, "quoted", 6) == 0);

    r = t_request(pool);
    t_add_cookie(r, "sess=");
    T(ngx_http_oauth2_cookie_get(r, &name, &value, NULL) == NGX_OK
      && value.len == 0);

    /* chunks, in any order, over several headers */
    r = t_request(pool);
    t_add_cookie(r, "sess_2=def; x=y");
    t_add_cookie(r, "sess=chunks.3; sess_1=abc; sess_3=gh; sess_4=stale");
    T(ngx_http_oauth2_cookie_get(r, &name, &value, NULL) == NGX_OK);
    T(value.len == 8 && memcmp(value.data, "abcdefgh", 8) == 0);

    /* inconsistent sets */
    r = t_request(pool);
    t_add_cookie(r, "sess=chunks.3; sess_1=abc; sess_3=gh");
    T(ngx_http_oauth2_cookie_get(r, &name, &value, NULL) == NGX_DECLINED);

    r = t_request(pool);
    t_add_cookie(r, "sess=chunks.2; sess_1=abc; sess_2=");
    T(ngx_http_oauth2_cookie_get(r, &name, &value, NULL) == NGX_DECLINED);

    r = t_request(pool);
    t_add_cookie(r, "sess=chunks.0; sess_1=abc");
    T(ngx_http_oauth2_cookie_get(r, &name, &value, NULL) == NGX_DECLINED);

    r = t_request(pool);
    t_add_cookie(r, "sess=chunks.02; sess_1=abc; sess_2=d");
    T(ngx_http_oauth2_cookie_get(r, &name, &value, NULL) == NGX_DECLINED);

    r = t_request(pool);
    t_add_cookie(r, "sess=chunks.17; sess_1=abc");
    T(ngx_http_oauth2_cookie_get(r, &name, &value, NULL) == NGX_DECLINED);

    r = t_request(pool);
    t_add_cookie(r, "sess=chunks.; sess_1=abc");
    T(ngx_http_oauth2_cookie_get(r, &name, &value, NULL) == NGX_DECLINED);

    r = t_request(pool);
    t_add_cookie(r, "sess=chunks.2x; sess_1=abc; sess_2=d");
    T(ngx_http_oauth2_cookie_get(r, &name, &value, NULL) == NGX_DECLINED);

    /* chunk names are canonical: sess_01 is not chunk 1 */
    r = t_request(pool);
    t_add_cookie(r, "sess=chunks.1; sess_01=abc");
    T(ngx_http_oauth2_cookie_get(r, &name, &value, NULL) == NGX_DECLINED);

    /* the first of duplicated chunks wins */
    r = t_request(pool);
    t_add_cookie(r, "sess=chunks.1; sess_1=abc; sess_1=zzz");
    T(ngx_http_oauth2_cookie_get(r, &name, &value, NULL) == NGX_OK
      && value.len == 3 && memcmp(value.data, "abc", 3) == 0);

    /* chunks without their marker are not a cookie */
    r = t_request(pool);
    t_add_cookie(r, "sess_1=abc");
    T(ngx_http_oauth2_cookie_get(r, &name, &value, NULL) == NGX_DECLINED);
}


static void
test_cookie_set(ngx_pool_t *pool)
{
    u_char              *big;
    size_t               len;
    ngx_str_t            name, value, domain, nodomain, set[40], got;
    ngx_uint_t           n, i, ok;
    ngx_http_request_t  *r, *r2;

    name = t_str("sess");
    value = t_str("AQabc-_");
    domain = t_str("example.com");
    ngx_str_null(&nodomain);

    r = t_request(pool);
    T(ngx_http_oauth2_cookie_set(r, &name, &value, 3600, 0, &nodomain)
      == NGX_OK);
    n = t_set_cookies(r, set, 40);
    T(n == 1);
    got = t_str("sess=AQabc-_; Path=/; Max-Age=3600; HttpOnly; "
                "SameSite=Lax");
    T(set[0].len == got.len && memcmp(set[0].data, got.data, got.len) == 0);

    r = t_request(pool);
    T(ngx_http_oauth2_cookie_set(r, &name, &value, 60, 1, &domain)
      == NGX_OK);
    n = t_set_cookies(r, set, 40);
    got = t_str("sess=AQabc-_; Path=/; Max-Age=60; HttpOnly; SameSite=Lax; "
                "Secure; Domain=example.com");
    T(n == 1 && set[0].len == got.len
      && memcmp(set[0].data, got.data, got.len) == 0);

    /* a browser-session cookie */
    r = t_request(pool);
    T(ngx_http_oauth2_cookie_set(r, &name, &value, -1, 0, NULL) == NGX_OK);
    n = t_set_cookies(r, set, 40);
    got = t_str("sess=AQabc-_; Path=/; HttpOnly; SameSite=Lax");
    T(n == 1 && set[0].len == got.len
      && memcmp(set[0].data, got.data, got.len) == 0);

    /* deletion, chunks the request carried included */
    r = t_request(pool);
    t_add_cookie(r, "sess=chunks.2; sess_1=a; sess_2=b; sess_5=old");
    T(ngx_http_oauth2_cookie_set(r, &name, &value, 0, 1, &nodomain)
      == NGX_OK);
    n = t_set_cookies(r, set, 40);
    T(n == 4);
    got = t_str("sess=; Path=/; Max-Age=0; "
                "Expires=Thu, 01 Jan 1970 00:00:00 GMT; HttpOnly; "
                "SameSite=Lax; Secure");
    T(set[0].len == got.len && memcmp(set[0].data, got.data, got.len) == 0);
    T(set[1].len > 7 && memcmp(set[1].data, "sess_1=;", 8) == 0);
    T(set[3].len > 7 && memcmp(set[3].data, "sess_5=;", 8) == 0);

    /* a short value replaces a chunked one */
    r = t_request(pool);
    t_add_cookie(r, "sess=chunks.2; sess_1=a; sess_2=b");
    T(ngx_http_oauth2_cookie_set(r, &name, &value, 100, 0, &nodomain)
      == NGX_OK);
    n = t_set_cookies(r, set, 40);
    T(n == 3);
    T(memcmp(set[0].data, "sess=AQabc-_;", 13) == 0);
    T(memcmp(set[1].data, "sess_1=; Path=/; Max-Age=0;", 27) == 0);
    T(memcmp(set[2].data, "sess_2=; Path=/; Max-Age=0;", 27) == 0);

    /* long values: chunks under the limit, reassembled by cookie_get */
    len = 16 * 3900;
    big = ngx_pnalloc(pool, len);

    for (i = 0; i < len; i++) {
        big[i] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                 "0123456789-_"[(i * 7 + i / 64) % 64];
    }

    for (len = 3900; len <= 16 * 3900; len += 3900) {
        value.data = big;
        value.len = len;

        r = t_request(pool);
        t_add_cookie(r, "sess=chunks.5; sess_1=a; sess_2=b; sess_3=c; "
                        "sess_4=d; sess_5=e; sess_16=f");

        if (ngx_http_oauth2_cookie_set(r, &name, &value, 1209600, 1, &domain)
            != NGX_OK)
        {
            break;
        }

        n = t_set_cookies(r, set, 40);
        ok = 1;

        for (i = 0; i < n; i++) {
            if (set[i].len > 4000) {
                ok = 0;
            }
        }

        /* replay only the live cookies (not the deletions) */
        while (n > 0
               && memmem(set[n - 1].data, set[n - 1].len, "Max-Age=0", 9)
                  != NULL)
        {
            n--;
        }

        r2 = t_replay(pool, set, n);

        if (!ok || ngx_http_oauth2_cookie_get(r2, &name, &got, NULL) != NGX_OK
            || got.len != value.len
            || memcmp(got.data, value.data, got.len) != 0)
        {
            break;
        }
    }

    T(len > 16 * 3900);

    /* 16 full chunks hold 16 * 3900 bytes; a bit more does not fit */
    value.len = 16 * 3930;
    big = ngx_pnalloc(pool, value.len);
    memset(big, 'A', value.len);
    value.data = big;
    r = t_request(pool);
    T(ngx_http_oauth2_cookie_set(r, &name, &value, 1209600, 1, &domain)
      == NGX_DECLINED);
    T(t_set_cookies(r, set, 40) == 0);

    /* the value at the single-cookie limit, and one byte over it */
    value.len = 4000 - (sizeof("sess=") - 1)
                - (sizeof("; Path=/; Max-Age=3600; HttpOnly; SameSite=Lax")
                   - 1);
    r = t_request(pool);
    T(ngx_http_oauth2_cookie_set(r, &name, &value, 3600, 0, NULL) == NGX_OK);
    n = t_set_cookies(r, set, 40);
    T(n == 1 && set[0].len == 4000);

    value.len++;
    r = t_request(pool);
    T(ngx_http_oauth2_cookie_set(r, &name, &value, 3600, 0, NULL) == NGX_OK);
    n = t_set_cookies(r, set, 40);
    T(n == 3 && memcmp(set[2].data, "sess=chunks.2;", 14) == 0);
}


static ngx_int_t
t_collect(ngx_http_request_t *r, ngx_str_t *name, ngx_str_t *value,
    void *data)
{
    ngx_uint_t  *n = data;

    (*n)++;

    return NGX_OK;
}


static ngx_int_t
t_stop_second(ngx_http_request_t *r, ngx_str_t *name, ngx_str_t *value,
    void *data)
{
    ngx_uint_t  *n = data;

    return (++*n == 2) ? NGX_DONE : NGX_OK;
}


static void
test_cookie_each(ngx_pool_t *pool)
{
    ngx_str_t            prefix;
    ngx_uint_t           n;
    ngx_http_request_t  *r;

    prefix = t_str("st_");

    r = t_request(pool);
    t_add_cookie(r, "st_a=1; x=2; st_b=3; st=4");
    t_add_cookie(r, "st_c=5");

    n = 0;
    T(ngx_http_oauth2_cookie_each(r, &prefix, t_collect, &n) == NGX_OK);
    T(n == 3);

    n = 0;
    T(ngx_http_oauth2_cookie_each(r, &prefix, t_stop_second, &n)
      == NGX_DONE);
    T(n == 2);
}


static void
test_cookie_strip(ngx_pool_t *pool)
{
    ngx_str_t                       prefix, name, value, expect, got, other;
    ngx_uint_t                      i, inplace;
    const char                    **c;
    ngx_table_elt_t                *h;
    ngx_http_request_t             *r;
    ngx_http_oauth2_cookie_scan_t   sc, *scan;

    /*
     * header, what is left, whether it is left in place (a piece of the
     * old value): the same with and without cookie_get's scan
     */
    static const char   *cases[][3] = {
        { "sess=x", "", "" },
        { "sess=x; sess_1=y", "", "" },
        { "a=1;b=2; sess=x", "a=1;b=2", "" },
        { " a=1 ;b=2 ; sess=x ; sess_2=y", "a=1 ;b=2", "" },
        { "sess=x;a=1;b=2", "a=1;b=2", "" },
        { "a;b;c;sess=1;d;e;f;g;h", "a;b;c; d; e; f; g; h", NULL },
        { "sess=1;d;e;f;g;h;i;j", "d;e;f;g;h;i;j", "" },
        { "a=1; sessx=2; sess_st_abc=3; b=4", "a=1; sessx=2; b=4", NULL },
        { "sess=1; a=2 ;sess_1=3", "a=2", "" },
        { "sess_st_x=1;  b=2 ;c ;", "b=2 ;c", "" },
        { "a=1;;  b", "a=1;;  b", "" },
        { "", "", "" },
    };

    prefix = t_str("sess");
    name = t_str("sess");

    r = t_request(pool);
    t_add_cookie(r, "a=1; sess=chunks.2;  sess_1=x ; b=\"2\" ;sess_2=y; c");
    t_add_cookie(r, "sess_9=z");
    t_add_cookie(r, "d=4");

    /* a value got before stays valid */
    T(ngx_http_oauth2_cookie_get(r, &name, &value, NULL) == NGX_OK);

    T(ngx_http_oauth2_cookie_strip(r, &prefix, NULL) == NGX_OK);

    h = ngx_shim_request_cookie(r, 0);
    expect = t_str("a=1; b=\"2\"; c");
    T(h->value.len == expect.len
      && memcmp(h->value.data, expect.data, expect.len) == 0);
    T(h->hash != 0);

    h = ngx_shim_request_cookie(r, 1);
    T(h->value.len == 0 && h->hash == 0);

    h = ngx_shim_request_cookie(r, 2);
    T(h->value.len == 3 && memcmp(h->value.data, "d=4", 3) == 0);

    T(value.len == 2 && memcmp(value.data, "xy", 2) == 0);

    /* the cookie is gone for later lookups too */
    T(ngx_http_oauth2_cookie_get(r, &name, &value, NULL) == NGX_DECLINED);

    /*
     * what is left is a piece of the header, unless one of ours sat
     * between two others: then the pairs before the first of ours stay as
     * they were, those after it are joined with "; "
     */
    for (i = 0; i < 2 * sizeof(cases) / sizeof(cases[0]); i++) {
        c = cases[i / 2];
        scan = (i % 2) ? &sc : NULL;

        r = t_request(pool);
        t_add_cookie(r, c[0]);
        h = ngx_shim_request_cookie(r, 0);
        value = h->value;
        expect = t_str(c[1]);
        inplace = (c[2] != NULL);

        (void) ngx_http_oauth2_cookie_get(r, &name, &got, scan);

        T(ngx_http_oauth2_cookie_strip(r, &prefix, scan) == NGX_OK);

        T(h->value.len == expect.len
          && memcmp(h->value.data, expect.data, expect.len) == 0);
        T((h->hash == 0) == (expect.len == 0 && c[0][0] != '\0'));

        /* the old value is never written to */
        T(memcmp(value.data, c[0], value.len) == 0);

        if (inplace) {
            T(h->value.data >= value.data
              && h->value.data + h->value.len <= value.data + value.len);

        } else {
            T(h->value.data + h->value.len <= value.data
              || h->value.data >= value.data + value.len);
        }

        /* a scan serves once: after an internal redirect it walks again */
        if (scan) {
            T(sc.header == NULL);
        }
    }

    /* the scan is what the strip goes by (here one made up) ... */
    r = t_request(pool);
    t_add_cookie(r, "sess=x; a=1; b=2");
    T(ngx_http_oauth2_cookie_get(r, &name, &got, &sc) == NGX_OK);
    T(sc.own && !sc.split && sc.end - sc.start == 8);
    sc.start = sc.end - 3;
    T(ngx_http_oauth2_cookie_strip(r, &prefix, &sc) == NGX_OK);
    h = ngx_shim_request_cookie(r, 0);
    T(h->value.len == 3 && memcmp(h->value.data, "b=2", 3) == 0);

    /* ... but not if the header changed since, ... */
    r = t_request(pool);
    t_add_cookie(r, "a=1; sess=x");
    T(ngx_http_oauth2_cookie_get(r, &name, &got, &sc) == NGX_OK);
    h = ngx_shim_request_cookie(r, 0);
    expect = t_str("sess=x; b=2");
    h->value = expect;
    T(ngx_http_oauth2_cookie_strip(r, &prefix, &sc) == NGX_OK);
    T(h->value.len == 3 && memcmp(h->value.data, "b=2", 3) == 0);

    /* ... if it was for another name, ... */
    r = t_request(pool);
    t_add_cookie(r, "a=1; sess=x; other=2");
    other = t_str("other");
    T(ngx_http_oauth2_cookie_get(r, &other, &got, &sc) == NGX_OK);
    T(ngx_http_oauth2_cookie_strip(r, &prefix, &sc) == NGX_OK);
    h = ngx_shim_request_cookie(r, 0);
    T(h->value.len == 12 && memcmp(h->value.data, "a=1; other=2", 12) == 0);

    /* ... or if there are several Cookie headers */
    r = t_request(pool);
    t_add_cookie(r, "sess=x");
    t_add_cookie(r, "a=1; sess_1=y");
    T(ngx_http_oauth2_cookie_get(r, &name, &got, &sc) == NGX_OK);
    T(sc.header == NULL);
    T(ngx_http_oauth2_cookie_strip(r, &prefix, &sc) == NGX_OK);
    T(ngx_shim_request_cookie(r, 0)->hash == 0);
    h = ngx_shim_request_cookie(r, 1);
    T(h->value.len == 3 && memcmp(h->value.data, "a=1", 3) == 0);

    /* nothing to strip: the header is left alone */
    r = t_request(pool);
    t_add_cookie(r, "a=1;b=2");
    h = ngx_shim_request_cookie(r, 0);
    value = h->value;
    T(ngx_http_oauth2_cookie_strip(r, &prefix, NULL) == NGX_OK);
    T(h->value.data == value.data && h->value.len == value.len);
}


/* random input: never a crash, never NGX_ERROR */

static void
test_garbage(ngx_pool_t *pool)
{
    u_char                         buf[300];
    char                          *secrets[1];
    ngx_str_t                      in, out, aad;
    ngx_uint_t                     i, k, errors, index;
    ngx_array_t                   *keys;
    ngx_http_oauth2_session_t      s;
    ngx_http_oauth2_login_state_t  st;
    static const char              b64[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_=.";

    secrets[0] = T_SECRET;
    keys = t_keys(pool, secrets, 1);
    aad = t_str("n");
    errors = 0;

    srandom(12345);

    for (i = 0; i < 20000; i++) {
        in.data = buf;
        in.len = random() % sizeof(buf);

        for (k = 0; k < in.len; k++) {
            buf[k] = (i & 1) ? (u_char) random()
                             : (u_char) b64[random() % (sizeof(b64) - 1)];
        }

        if (ngx_http_oauth2_open(pool, keys, (i >> 1) & 1, &aad, &in, &out,
                                 &index)
            != NGX_DECLINED)
        {
            errors++;
        }

        /* plaintexts that look almost right */
        buf[0] = 1;

        for (k = 1; k < in.len; k++) {
            buf[k] = (random() % 3) ? (u_char) (random() % 8)
                                    : (u_char) random();
        }

        if (ngx_http_oauth2_session_decode(pool, &in, &s) == NGX_ERROR
            || ngx_http_oauth2_state_decode(pool, &in, &st) == NGX_ERROR)
        {
            errors++;
        }
    }

    T(errors == 0);
}


static int
run_tests(void)
{
    ngx_pool_t  *pool;

    pool = ngx_create_pool(4096, &ngx_shim_log);

    test_vectors(pool);
    test_keys(pool);
    test_seal(pool);
    test_seal_cache(pool);
    test_session_cache(pool);
    test_session(pool);
    test_state(pool);
    test_cookie_get(pool);
    test_cookie_set(pool);
    test_cookie_each(pool);
    test_cookie_strip(pool);

    /* client garbage is never logged */
    ngx_shim_log_reset();
    test_garbage(pool);
    T(ngx_shim_logged_len == 0);

    ngx_destroy_pool(pool);

    printf("session: %lu passed, %lu failed\n",
           (unsigned long) t_passed, (unsigned long) t_failed);

    return t_failed ? 1 : 0;
}


/* how long opening a session cookie takes */

static int
run_bench(int argc, char **argv)
{
    char                       *secrets[2];
    double                      ns;
    ngx_str_t                   aad, plain, sealed, out;
    ngx_uint_t                  i, n, index;
    ngx_pool_t                 *pool, *rpool;
    ngx_array_t                *keys;
    struct timeval              t0, t1;
    ngx_http_oauth2_claim_t    *claim;
    ngx_http_oauth2_session_t   s, d;

    n = argc > 2 ? (ngx_uint_t) atol(argv[2]) : 200000;

    pool = ngx_create_pool(4096, &ngx_shim_log);

    secrets[0] = T_SECRET;
    keys = t_keys(pool, secrets, 1);
    aad = t_str("oauth2_session");

    ngx_memzero(&s, sizeof(s));
    s.expires = 1800000000;
    s.created = 1700000000;
    s.sub = t_str("248289761001");
    (void) ngx_array_init(&s.claims, pool, 2,
                          sizeof(ngx_http_oauth2_claim_t));
    claim = ngx_array_push(&s.claims);
    claim->name = t_str("email");
    claim->value = t_str("jane.doe@example.com");

    if (ngx_http_oauth2_session_encode(pool, &s, &plain) != NGX_OK
        || ngx_http_oauth2_seal(pool, keys, NGX_HTTP_OAUTH2_SEAL_SESSION,
                                &aad, &plain, &sealed) != NGX_OK)
    {
        return 2;
    }

    gettimeofday(&t0, NULL);

    for (i = 0; i < n; i++) {
        rpool = ngx_create_pool(4096, &ngx_shim_log);

        if (ngx_http_oauth2_open(rpool, keys, NGX_HTTP_OAUTH2_SEAL_SESSION,
                                 &aad, &sealed, &out, &index) != NGX_OK
            || ngx_http_oauth2_session_decode(rpool, &out, &d) != NGX_OK)
        {
            return 2;
        }

        ngx_destroy_pool(rpool);
    }

    gettimeofday(&t1, NULL);

    ns = ((t1.tv_sec - t0.tv_sec) * 1e9 + (t1.tv_usec - t0.tv_usec) * 1e3)
         / n;

    printf("open + decode of a %lu-byte session cookie: %.0f ns "
           "(%lu runs, with the shim's malloc() pools)\n",
           (unsigned long) sealed.len, ns, (unsigned long) n);

    ngx_destroy_pool(pool);

    return 0;
}


/* the cross-check commands */

static int
run_command(ngx_pool_t *pool, int argc, char **argv)
{
    int                             i;
    const char                     *cmd;
    ngx_str_t                       name, value, plain, sealed, domain;
    ngx_str_t                       set[40];
    ngx_uint_t                      index, n, k;
    ngx_array_t                    *keys;
    ngx_http_request_t             *r;
    ngx_http_oauth2_keys_t          kk;
    ngx_http_oauth2_claim_t        *claim;
    ngx_http_oauth2_session_t       s;
    ngx_http_oauth2_login_state_t   st;

    cmd = argv[1];

    if (strcmp(cmd, "keys") == 0 && argc == 3) {
        name = t_str(argv[2]);

        if (ngx_http_oauth2_derive_keys(&name, &kk) != NGX_OK) {
            return 2;
        }

        printf("session ");
        for (k = 0; k < NGX_HTTP_OAUTH2_KEY_LEN; k++) {
            printf("%02x", kk.session[k]);
        }

        printf("\nstate ");
        for (k = 0; k < NGX_HTTP_OAUTH2_KEY_LEN; k++) {
            printf("%02x", kk.state[k]);
        }

        printf("\n");
        return 0;
    }

    if (strcmp(cmd, "seal-session") == 0 && argc >= 11 && argc % 2 == 1) {
        keys = t_keys(pool, &argv[2], 1);
        name = t_str(argv[3]);

        ngx_memzero(&s, sizeof(s));
        s.expires = (time_t) atoll(argv[4]);
        s.created = (time_t) atoll(argv[5]);
        s.access_expires = (time_t) atoll(argv[6]);
        s.sub = t_str(argv[7]);
        s.access_token = t_str(argv[8]);
        s.refresh_token = t_str(argv[9]);
        s.id_token = t_str(argv[10]);

        (void) ngx_array_init(&s.claims, pool, 4,
                              sizeof(ngx_http_oauth2_claim_t));

        for (i = 11; i + 1 < argc; i += 2) {
            claim = ngx_array_push(&s.claims);
            claim->name = t_str(argv[i]);
            claim->value = t_str(argv[i + 1]);
            claim->type = NGX_HTTP_OAUTH2_CLAIM_STRING;
        }

        if (ngx_http_oauth2_session_encode(pool, &s, &plain) != NGX_OK
            || ngx_http_oauth2_seal(pool, keys, NGX_HTTP_OAUTH2_SEAL_SESSION,
                                    &name, &plain, &sealed) != NGX_OK)
        {
            return 2;
        }

        printf("%.*s\n", (int) sealed.len, sealed.data);
        return 0;
    }

    if (strcmp(cmd, "seal-state") == 0 && argc == 9) {
        keys = t_keys(pool, &argv[2], 1);
        name = t_str(argv[3]);

        st.created = (time_t) atoll(argv[4]);
        st.state = t_str(argv[5]);
        st.nonce = t_str(argv[6]);
        st.verifier = t_str(argv[7]);
        st.return_url = t_str(argv[8]);

        if (ngx_http_oauth2_state_encode(pool, &st, &plain) != NGX_OK
            || ngx_http_oauth2_seal(pool, keys, NGX_HTTP_OAUTH2_SEAL_STATE,
                                    &name, &plain, &sealed) != NGX_OK)
        {
            return 2;
        }

        printf("%.*s\n", (int) sealed.len, sealed.data);
        return 0;
    }

    if ((strcmp(cmd, "open-session") == 0 || strcmp(cmd, "open-state") == 0)
        && argc >= 5)
    {
        name = t_str(argv[2]);
        value = t_str(argv[3]);
        keys = t_keys(pool, &argv[4], argc - 4);

        if (strcmp(cmd, "open-session") == 0) {
            if (ngx_http_oauth2_open(pool, keys, NGX_HTTP_OAUTH2_SEAL_SESSION,
                                     &name, &value, &plain, &index) != NGX_OK
                || ngx_http_oauth2_session_decode(pool, &plain, &s) != NGX_OK)
            {
                return 1;
            }

            t_print_session(&s, index);
            return 0;
        }

        if (ngx_http_oauth2_open(pool, keys, NGX_HTTP_OAUTH2_SEAL_STATE,
                                 &name, &value, &plain, &index) != NGX_OK
            || ngx_http_oauth2_state_decode(pool, &plain, &st) != NGX_OK)
        {
            return 1;
        }

        t_print_state(&st, index);
        return 0;
    }

    if (strcmp(cmd, "set-cookie") == 0 && argc >= 7) {
        name = t_str(argv[2]);
        value = t_str(argv[3]);
        domain = t_str(argv[6]);

        r = t_request(pool);

        for (i = 7; i < argc; i++) {
            t_add_cookie(r, argv[i]);
        }

        if (ngx_http_oauth2_cookie_set(r, &name, &value,
                                       (time_t) atoll(argv[4]),
                                       (ngx_uint_t) atoi(argv[5]), &domain)
            != NGX_OK)
        {
            return 1;
        }

        n = t_set_cookies(r, set, 40);

        for (k = 0; k < n; k++) {
            printf("%.*s\n", (int) set[k].len, set[k].data);
        }

        return 0;
    }

    if (strcmp(cmd, "get-cookie") == 0 && argc >= 3) {
        name = t_str(argv[2]);
        r = t_request(pool);

        for (i = 3; i < argc; i++) {
            t_add_cookie(r, argv[i]);
        }

        if (ngx_http_oauth2_cookie_get(r, &name, &value, NULL) != NGX_OK) {
            return 1;
        }

        printf("%.*s\n", (int) value.len, value.data);
        return 0;
    }

    fprintf(stderr, "session_test: bad command or arguments\n");

    return 2;
}


int
main(int argc, char **argv)
{
    int          rc;
    ngx_pool_t  *pool;

    ngx_shim_init(NGX_LOG_INFO, "SESSION_TEST_VERBOSE");

    if (argc == 1) {
        return run_tests();
    }

    if (strcmp(argv[1], "bench") == 0) {
        return run_bench(argc, argv);
    }

    pool = ngx_create_pool(4096, &ngx_shim_log);
    if (pool == NULL) {
        return 2;
    }

    rc = run_command(pool, argc, argv);

    ngx_destroy_pool(pool);

    return rc;
}
