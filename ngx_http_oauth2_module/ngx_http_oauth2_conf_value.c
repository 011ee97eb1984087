
/*
 * Copyright (C) ngx_http_oauth2_module authors
 */


/*
 * The values of directives, read and checked while the configuration is
 * parsed: URLs (https, or http to loopback), secrets (literal, env: or
 * file:), paths on this host, extra authorization parameters, algorithm
 * lists, cookie names and the outbound proxy.  The setters are nginx
 * directive handlers that store into the field the command's offset
 * names; nothing here knows the oauth2_provider block or the main
 * configuration.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <curl/curl.h>

#include "ngx_http_oauth2_module.h"
#include "ngx_http_oauth2_conf_value.h"
#include "ngx_http_oauth2_jwk.h"
#include "ngx_http_oauth2_url.h"


static ngx_int_t ngx_http_oauth2_proxy_unescape(ngx_pool_t *pool,
    ngx_str_t *s);


char *
ngx_http_oauth2_set_url(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_str_t  *field, *value;

    field = ngx_http_oauth2_unset_str(conf, cmd);

    if (field == NULL) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_http_oauth2_check_url(cf, &value[1], (char *) cmd->name.data)
        != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    *field = value[1];

    /* "https://issuer/" and "https://issuer" are different issuers; keep
     * exactly what was written: discovery compares it byte for byte */

    return NGX_CONF_OK;
}


/*
 * Only http and https with a host.  Plain http is refused unless the host
 * is a loopback address, where it is allowed with a warning so that local
 * testing works.
 */

ngx_int_t
ngx_http_oauth2_check_url(ngx_conf_t *cf, ngx_str_t *url, const char *what)
{
    u_char  *host, *end;

    end = url->data + url->len;

    host = ngx_http_oauth2_url_host(url);

    if (host == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid URL \"%V\" in \"%s\": must start with "
                           "\"https://\"", url, what);
        return NGX_ERROR;
    }

    if (host == end || *host == '/' || *host == ':' || *host == '?') {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid URL \"%V\" in \"%s\": no host",
                           url, what);
        return NGX_ERROR;
    }

    if (ngx_http_oauth2_url_chars(url, 1) != NGX_OK) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid URL \"%V\" in \"%s\": invalid "
                           "character", url, what);
        return NGX_ERROR;
    }

    if (ngx_strlchr(host, end, '@') != NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid URL \"%V\" in \"%s\": user information "
                           "is not allowed", url, what);
        return NGX_ERROR;
    }

    if (host - url->data == 7) {
        if (!ngx_http_oauth2_url_is_loopback(url)) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "insecure URL \"%V\" in \"%s\": plain http "
                               "is only allowed to loopback addresses",
                               url, what);
            return NGX_ERROR;
        }

        ngx_conf_log_error(NGX_LOG_WARN, cf, 0,
                           "\"%s\" uses plain http to a loopback address, "
                           "for testing only", what);
    }

    return NGX_OK;
}


/*
 * "proxy http://host:port[/]", "proxy https://host:port[/]" (when libcurl
 * can: TLS to the proxy as well) or "proxy off".  No SOCKS: https
 * provider URLs go through an HTTP proxy in a CONNECT tunnel, so TLS
 * still ends at the provider.  No user information (it would be a secret in
 * a URL that libcurl and the logs handle as a plain string), path, query
 * or fragment.  The port is required: libcurl's default for a proxy is
 * 1080, which nobody expects of an http:// URL.  "off" keeps an empty
 * value: no proxy at all.
 */

char *
ngx_http_oauth2_set_proxy(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_oauth2_provider_t *pc = conf;

    u_char     *host, *end, *p, *at, *colon, *url;
    size_t      scheme;
    ngx_str_t  *field, *value, user, password, shown;

    field = ngx_http_oauth2_unset_str(conf, cmd);

    if (field == NULL) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_strcmp(value[1].data, "off") == 0) {
        ngx_str_set(field, "");
        return NGX_CONF_OK;
    }

    end = value[1].data + value[1].len;

    if (value[1].len > 7
        && ngx_strncasecmp(value[1].data, (u_char *) "http://", 7) == 0)
    {
        scheme = 7;

    } else if (value[1].len > 8
               && ngx_strncasecmp(value[1].data, (u_char *) "https://", 8)
                  == 0)
    {
        if (!(curl_version_info(CURLVERSION_NOW)->features
              & CURL_VERSION_HTTPS_PROXY))
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid \"proxy\": this libcurl cannot "
                               "use https proxies");
            return NGX_CONF_ERROR;
        }

        scheme = 8;

    } else {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid \"proxy\": must be \"off\" or start "
                           "with \"http://\" or \"https://\"");
        return NGX_CONF_ERROR;
    }

    host = value[1].data + scheme;

    /*
     * "user:password@": kept apart from the URL, which is what the logs
     * and libcurl's messages show; no message below repeats the value as
     * written, only the URL without them
     */

    for (p = host; p < end; p++) {
        if (*p == '/' || *p == '?' || *p == '#') {
            break;
        }
    }

    at = NULL;

    while (p > host) {
        if (*--p == '@') {
            at = p;
            break;
        }
    }

    if (at != NULL) {
        colon = ngx_strlchr(host, at, ':');

        user.data = host;
        user.len = (colon ? colon : at) - host;

        if (colon) {
            password.data = colon + 1;
            password.len = at - colon - 1;

        } else {
            ngx_str_null(&password);
        }

        if (user.len == 0
            || ngx_http_oauth2_proxy_unescape(cf->pool, &user) != NGX_OK
            || (password.len
                && ngx_http_oauth2_proxy_unescape(cf->pool, &password)
                   != NGX_OK))
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid \"proxy\": invalid user "
                               "information");
            return NGX_CONF_ERROR;
        }

        pc->proxy_user = user;
        pc->proxy_password = password;

        url = ngx_pnalloc(cf->pool, scheme + (end - at - 1));
        if (url == NULL) {
            return NGX_CONF_ERROR;
        }

        p = ngx_cpymem(url, value[1].data, scheme);
        p = ngx_cpymem(p, at + 1, end - at - 1);

        value[1].len = p - url;
        value[1].data = url;

        host = url + scheme;
        end = p;
    }

    if (ngx_http_oauth2_url_chars(&value[1], 1) != NGX_OK) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid \"proxy\" \"%V\": invalid character",
                           &value[1]);
        return NGX_CONF_ERROR;
    }

    shown = value[1];

    if (end[-1] == '/') {
        end--;
    }

    if (host == end || *host == ':') {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid \"proxy\" \"%V\": no host", &shown);
        return NGX_CONF_ERROR;
    }

    for (p = host; p < end; p++) {
        if (*p == '/' || *p == '?' || *p == '#') {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid \"proxy\" \"%V\": only "
                               "\"http(s)://host:port\" is allowed",
                               &shown);
            return NGX_CONF_ERROR;
        }
    }

    p = ngx_strlchr(host, end, ']');
    p = ngx_strlchr(p ? p : host, end, ':');

    if (p == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid \"proxy\" \"%V\": the port is required",
                           &shown);
        return NGX_CONF_ERROR;
    }

    if (p + 1 == end || ngx_atoi(p + 1, end - p - 1) < 1
        || ngx_atoi(p + 1, end - p - 1) > 65535)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid \"proxy\" \"%V\": invalid port",
                           &shown);
        return NGX_CONF_ERROR;
    }

    field->len = end - value[1].data;
    field->data = value[1].data;

    return NGX_CONF_OK;
}


/* strict %XX decoding in place; no control characters, no NUL */

static ngx_int_t
ngx_http_oauth2_proxy_unescape(ngx_pool_t *pool, ngx_str_t *s)
{
    u_char     *d, c, *src;
    size_t      i;
    ngx_int_t   hi, lo;

    d = ngx_pnalloc(pool, s->len);
    if (d == NULL) {
        return NGX_ERROR;
    }

    src = s->data;
    s->data = d;

    for (i = 0; i < s->len; i++) {
        c = src[i];

        if (c == '%') {
            if (i + 2 >= s->len) {
                return NGX_ERROR;
            }

            hi = ngx_hextoi(&src[i + 1], 1);
            lo = ngx_hextoi(&src[i + 2], 1);

            if (hi == NGX_ERROR || lo == NGX_ERROR) {
                return NGX_ERROR;
            }

            c = (u_char) (hi * 16 + lo);
            i += 2;

        } else if (c == '@') {
            return NGX_ERROR;
        }

        if (c < 0x20 || c == 0x7f) {
            return NGX_ERROR;
        }

        *d++ = c;
    }

    s->len = d - s->data;

    return NGX_OK;
}


char *
ngx_http_oauth2_set_secret(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_str_t  *field, *value;

    field = ngx_http_oauth2_unset_str(conf, cmd);

    if (field == NULL) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_http_oauth2_conf_read_secret(cf, &value[1], field,
                                         (char *) cmd->name.data)
        != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/*
 * A secret is written literally, as "env:NAME" (read from the
 * environment of the process that reads the configuration) or as
 * "file:/path" (the file's content without trailing white space).  Its
 * value never appears in a message.
 */

ngx_int_t
ngx_http_oauth2_conf_read_secret(ngx_conf_t *cf, ngx_str_t *spec,
    ngx_str_t *secret, const char *what)
{
    char             *env;
    u_char           *name;
    size_t            len;
    ssize_t           n;
    ngx_fd_t          fd;
    ngx_str_t         path;
    ngx_file_t        file;
    ngx_file_info_t   fi;

    if (spec->len > 4 && ngx_strncmp(spec->data, "env:", 4) == 0) {

        name = ngx_pnalloc(cf->temp_pool, spec->len - 4 + 1);
        if (name == NULL) {
            return NGX_ERROR;
        }

        ngx_cpystrn(name, spec->data + 4, spec->len - 4 + 1);

        env = getenv((char *) name);

        if (env == NULL || env[0] == '\0') {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"%s\": environment variable \"%s\" is "
                               "not set or empty", what, name);
            return NGX_ERROR;
        }

        secret->len = ngx_strlen(env);
        secret->data = ngx_pnalloc(cf->pool, secret->len);
        if (secret->data == NULL) {
            return NGX_ERROR;
        }

        ngx_memcpy(secret->data, env, secret->len);

        return NGX_OK;
    }

    if (spec->len > 5 && ngx_strncmp(spec->data, "file:", 5) == 0) {

        path.len = spec->len - 5;
        path.data = spec->data + 5;

        if (ngx_conf_full_name(cf->cycle, &path, 1) != NGX_OK) {
            return NGX_ERROR;
        }

        fd = ngx_open_file(path.data, NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);
        if (fd == NGX_INVALID_FILE) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                               "\"%s\": cannot open \"%s\"", what,
                               path.data);
            return NGX_ERROR;
        }

        if (ngx_fd_info(fd, &fi) == NGX_FILE_ERROR) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                               "\"%s\": cannot stat \"%s\"", what,
                               path.data);
            goto failed;
        }

        len = (size_t) ngx_file_size(&fi);

        if (len == 0 || len > 64 * 1024) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"%s\": \"%s\" must hold between 1 byte "
                               "and 64 KiB", what, path.data);
            goto failed;
        }

        ngx_memzero(&file, sizeof(ngx_file_t));
        file.fd = fd;
        file.name = path;
        file.log = cf->log;

        secret->data = ngx_pnalloc(cf->pool, len);
        if (secret->data == NULL) {
            goto failed;
        }

        n = ngx_read_file(&file, secret->data, len, 0);

        if (n != (ssize_t) len) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                               "\"%s\": cannot read \"%s\"", what,
                               path.data);
            goto failed;
        }

        ngx_close_file(fd);

        while (len && (secret->data[len - 1] == '\n'
                       || secret->data[len - 1] == '\r'
                       || secret->data[len - 1] == ' '
                       || secret->data[len - 1] == '\t'))
        {
            len--;
        }

        if (len == 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"%s\": \"%s\" is empty", what, path.data);
            return NGX_ERROR;
        }

        secret->len = len;

        return NGX_OK;

    failed:

        ngx_close_file(fd);
        return NGX_ERROR;
    }

    *secret = *spec;

    return NGX_OK;
}


char *
ngx_http_oauth2_set_redirect_uri(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_str_t  *field, *value;

    field = ngx_http_oauth2_unset_str(conf, cmd);

    if (field == NULL) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (value[1].len && value[1].data[0] == '/') {

        if (value[1].len > 1 && value[1].data[1] == '/') {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid \"redirect_uri\" \"%V\": a path "
                               "must start with a single \"/\"", &value[1]);
            return NGX_CONF_ERROR;
        }

    } else if (ngx_http_oauth2_check_url(cf, &value[1], "redirect_uri")
               != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    *field = value[1];

    return NGX_CONF_OK;
}


/*
 * Extra authorization request parameters, already encoded:
 * "access_type=offline&prompt=consent".  The module's own cannot be
 * overridden.
 */

char *
ngx_http_oauth2_set_auth_params(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_oauth2_provider_t *p = conf;

    u_char      *c, *start, *eq;
    ngx_str_t   *value, name;
    ngx_uint_t   i;

    static ngx_str_t  own[] = {
        ngx_string("response_type"), ngx_string("client_id"),
        ngx_string("redirect_uri"), ngx_string("scope"),
        ngx_string("state"), ngx_string("nonce"),
        ngx_string("code_challenge"), ngx_string("code_challenge_method"),
        ngx_string("response_mode")
    };

    if (p->auth_params.data) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_http_oauth2_url_chars(&value[1], 1) != NGX_OK) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid \"authorization_params\": invalid "
                           "character (write it URL-encoded)");
        return NGX_CONF_ERROR;
    }

    start = value[1].data;

    while (start < value[1].data + value[1].len) {
        c = ngx_strlchr(start, value[1].data + value[1].len, '&');
        if (c == NULL) {
            c = value[1].data + value[1].len;
        }

        eq = ngx_strlchr(start, c, '=');

        name.data = start;
        name.len = (eq ? eq : c) - start;

        for (i = 0; i < sizeof(own) / sizeof(own[0]); i++) {
            if (own[i].len == name.len
                && ngx_strncmp(own[i].data, name.data, name.len) == 0)
            {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "\"authorization_params\" cannot set "
                                   "\"%V\", the module sends it", &name);
                return NGX_CONF_ERROR;
            }
        }

        start = c + 1;
    }

    p->auth_params = value[1];

    return NGX_CONF_OK;
}


/* a path on this host: "/...", never "//host" */

char *
ngx_http_oauth2_set_path(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_str_t  *field, *value;

    field = ngx_http_oauth2_unset_str(conf, cmd);

    if (field == NULL) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (value[1].len == 0 || value[1].data[0] != '/'
        || (value[1].len > 1
            && (value[1].data[1] == '/' || value[1].data[1] == '\\')))
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid \"%V\" \"%V\": a path on this host "
                           "starting with a single \"/\" is expected",
                           &cmd->name, &value[1]);
        return NGX_CONF_ERROR;
    }

    if (ngx_http_oauth2_url_chars(&value[1], 0) != NGX_OK) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid \"%V\" \"%V\": invalid character",
                           &cmd->name, &value[1]);
        return NGX_CONF_ERROR;
    }

    *field = value[1];

    return NGX_CONF_OK;
}


char *
ngx_http_oauth2_set_algs(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    char  *p = conf;

    ngx_str_t   *value;
    ngx_uint_t   i, bit, *algs;

    /* id_token_algs, bearer_algs */

    algs = (ngx_uint_t *) (p + cmd->offset);

    if (*algs) {
        return "is duplicate";
    }

    value = cf->args->elts;

    for (i = 1; i < cf->args->nelts; i++) {

        bit = ngx_http_oauth2_alg_bit(&value[i]);

        if (bit == 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "unsupported %s algorithm \"%V\"",
                               (cmd->name.data[0] == 'b')
                               ? "access token" : "ID token",
                               &value[i]);
            return NGX_CONF_ERROR;
        }

        *algs |= bit;
    }

    return NGX_CONF_OK;
}


char *
ngx_http_oauth2_set_cookie_name(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_oauth2_provider_t *p = conf;

    u_char     *c;
    ngx_str_t  *value;

    if (p->cookie_name.data) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (value[1].len == 0 || value[1].len > 64) {
        return "has an invalid cookie name";
    }

    for (c = value[1].data; c < value[1].data + value[1].len; c++) {
        if (!(isalnum(*c) || *c == '_' || *c == '-')) {
            return "has an invalid cookie name";
        }
    }

    p->cookie_name = value[1];

    return NGX_CONF_OK;
}


/* the ngx_str_t field of the directive, NULL if it is set already */

ngx_str_t *
ngx_http_oauth2_unset_str(void *conf, ngx_command_t *cmd)
{
    ngx_str_t  *field;

    field = (ngx_str_t *) ((char *) conf + cmd->offset);

    return (field->data == NULL) ? field : NULL;
}
