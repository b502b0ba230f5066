
/*
 * Copyright (C) The ngx_http_ws_heartbeat_module authors
 *
 * All the status side asks of the sessions' side besides the zone: that
 * this worker close now the sessions a DELETE marked in the zone (other
 * workers are woken through their pipes; see ..._wake.c).  Defined in
 * ngx_http_ws_heartbeat_close.c, with every other end of a session.
 */


#ifndef _NGX_HTTP_WS_HEARTBEAT_COMMAND_H_INCLUDED_
#define _NGX_HTTP_WS_HEARTBEAT_COMMAND_H_INCLUDED_


void ngx_http_ws_heartbeat_close_marked(void);


#endif /* _NGX_HTTP_WS_HEARTBEAT_COMMAND_H_INCLUDED_ */
