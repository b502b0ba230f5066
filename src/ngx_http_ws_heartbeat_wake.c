
/*
 * Copyright (C) The ngx_http_ws_heartbeat_module authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>

#include "ngx_http_ws_heartbeat_wake.h"


typedef struct {
    ngx_fd_t                       fd[2];      /* read, write */
} ngx_http_ws_heartbeat_pipe_t;


typedef struct {
    ngx_uint_t                     n;
    ngx_http_ws_heartbeat_pipe_t   pipe[1];
} ngx_http_ws_heartbeat_pipes_t;


static void ngx_http_ws_heartbeat_wake_close(void *data);
static void ngx_http_ws_heartbeat_wake_read(ngx_event_t *ev);


/* the cycle's pipes, one per worker; NULL when nothing is to be woken */
static ngx_http_ws_heartbeat_pipes_t  *ngx_http_ws_heartbeat_pipes;
static ngx_connection_t              *ngx_http_ws_heartbeat_waker;
static ngx_event_handler_pt           ngx_http_ws_heartbeat_wake_handler;


/*
 * In the master (init_module), for the workers it is about to fork: the
 * pipes live as long as the cycle, and the master closes them with it
 */

ngx_int_t
ngx_http_ws_heartbeat_wake_init(ngx_cycle_t *cycle)
{
    ngx_uint_t                      i, n;
    ngx_core_conf_t                *ccf;
    ngx_pool_cleanup_t             *cln;
    ngx_http_ws_heartbeat_pipes_t  *pp;

    ngx_http_ws_heartbeat_pipes = NULL;

    if (ngx_test_config) {
        return NGX_OK;
    }

    ccf = (ngx_core_conf_t *) ngx_get_conf(cycle->conf_ctx, ngx_core_module);
    n = ccf->master ? (ngx_uint_t) ccf->worker_processes : 1;

    cln = ngx_pool_cleanup_add(cycle->pool,
                               sizeof(ngx_http_ws_heartbeat_pipes_t)
                               + n * sizeof(ngx_http_ws_heartbeat_pipe_t));
    if (cln == NULL) {
        return NGX_ERROR;
    }

    pp = cln->data;
    pp->n = n;

    for (i = 0; i < n; i++) {
        pp->pipe[i].fd[0] = NGX_INVALID_FILE;
        pp->pipe[i].fd[1] = NGX_INVALID_FILE;
    }

    cln->handler = ngx_http_ws_heartbeat_wake_close;

    for (i = 0; i < n; i++) {
        if (pipe(pp->pipe[i].fd) == -1) {
            ngx_log_error(NGX_LOG_EMERG, cycle->log, ngx_errno,
                          "ws_heartbeat: pipe() failed");
            return NGX_ERROR;
        }

        if (ngx_nonblocking(pp->pipe[i].fd[0]) == -1
            || ngx_nonblocking(pp->pipe[i].fd[1]) == -1)
        {
            ngx_log_error(NGX_LOG_EMERG, cycle->log, ngx_socket_errno,
                          "ws_heartbeat: " ngx_nonblocking_n " failed");
            return NGX_ERROR;
        }
    }

    ngx_http_ws_heartbeat_pipes = pp;

    return NGX_OK;
}


static void
ngx_http_ws_heartbeat_wake_close(void *data)
{
    ngx_http_ws_heartbeat_pipes_t  *pp = data;

    ngx_uint_t  i, k;

    for (i = 0; i < pp->n; i++) {
        for (k = 0; k < 2; k++) {
            if (pp->pipe[i].fd[k] != NGX_INVALID_FILE) {
                (void) close(pp->pipe[i].fd[k]);
                pp->pipe[i].fd[k] = NGX_INVALID_FILE;
            }
        }
    }

    if (pp == ngx_http_ws_heartbeat_pipes) {
        ngx_http_ws_heartbeat_pipes = NULL;
    }
}


/* in a worker: its own pipe, read by the event loop */

ngx_int_t
ngx_http_ws_heartbeat_wake_listen(ngx_cycle_t *cycle,
    ngx_event_handler_pt handler)
{
    ngx_uint_t         w;
    ngx_event_t       *rev;
    ngx_connection_t  *c;

    ngx_http_ws_heartbeat_waker = NULL;

    w = (ngx_process == NGX_PROCESS_WORKER) ? ngx_worker : 0;

    if (ngx_http_ws_heartbeat_pipes == NULL
        || w >= ngx_http_ws_heartbeat_pipes->n)
    {
        return NGX_OK;
    }

    c = ngx_get_connection(ngx_http_ws_heartbeat_pipes->pipe[w].fd[0],
                           cycle->log);
    if (c == NULL) {
        return NGX_ERROR;
    }

    rev = c->read;
    rev->log = cycle->log;
    rev->handler = ngx_http_ws_heartbeat_wake_read;
    c->data = cycle;

    if (ngx_add_event(rev, NGX_READ_EVENT, 0) == NGX_ERROR) {
        ngx_free_connection(c);
        return NGX_ERROR;
    }

    ngx_http_ws_heartbeat_wake_handler = handler;
    ngx_http_ws_heartbeat_waker = c;

    return NGX_OK;
}


/* at the worker's exit: the pipe is the master's to close */

void
ngx_http_ws_heartbeat_wake_done(void)
{
    ngx_socket_t       fd;
    ngx_connection_t  *c;

    c = ngx_http_ws_heartbeat_waker;

    if (c == NULL) {
        return;
    }

    ngx_http_ws_heartbeat_waker = NULL;
    fd = c->fd;

    /*
     * Not NGX_CLOSE_EVENT: the master and the other workers keep the
     * pipe open, so closing this fd would not take it out of epoll
     */

    if (ngx_del_conn) {
        ngx_del_conn(c, 0);

    } else {
        (void) ngx_del_event(c->read, NGX_READ_EVENT, 0);
    }

    c->fd = (ngx_socket_t) -1;
    ngx_free_connection(c);

    /* the worker's copy of the fd: no socket is left open at its exit */

    (void) close(fd);
}


static void
ngx_http_ws_heartbeat_wake_read(ngx_event_t *ev)
{
    u_char             buf[64];
    ssize_t            n;
    ngx_connection_t  *c;

    c = ev->data;

    do {
        n = read(c->fd, buf, sizeof(buf));
    } while (n > 0);

    ngx_http_ws_heartbeat_wake_handler(ev);
}


void
ngx_http_ws_heartbeat_wake_others(void)
{
    ngx_uint_t                      i, w;
    ngx_http_ws_heartbeat_pipes_t  *pp;

    pp = ngx_http_ws_heartbeat_pipes;

    if (pp == NULL) {
        return;
    }

    w = (ngx_process == NGX_PROCESS_WORKER) ? ngx_worker : 0;

    for (i = 0; i < pp->n; i++) {
        if (i != w && write(pp->pipe[i].fd[1], "!", 1) != 1) {
            /* a full pipe is a worker woken already */
            continue;
        }
    }
}
