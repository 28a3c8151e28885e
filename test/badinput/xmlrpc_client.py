#!/usr/bin/env python3
"""Python's own xmlrpc.client, driven one call at a time by the bad-input corpus (one JSON object a line on
stdin and stdout), with a socket timeout as the safety net.

In:  {"url": "http://admin:SECRET@127.0.0.1:PORT/CloudMailing", "method": "...", "params": [...], "allow_none": bool}
     Values are JSON (lone surrogates included: json.loads keeps them, and xmlrpc.client writes them as
     character references); {"$binary": "<base64>"} is an xmlrpc.client.Binary.
Out: {"status", "contentType", "body"}: the raw HTTP answer, whatever its status; or {"failed", "detail"}.
"""
import base64
import json
import sys
import xmlrpc.client

TIMEOUT = float(sys.argv[1]) if len(sys.argv) > 1 else 20.0


class Recording(xmlrpc.client.Transport):
    """The standard transport with a timeout; the raw answer is kept whatever its status."""

    last = None

    def make_connection(self, host):
        conn = super().make_connection(host)
        conn.timeout = TIMEOUT
        return conn

    def single_request(self, host, handler, request_body, verbose=False):
        try:
            resp = self.send_request(host, handler, request_body, verbose).getresponse()
            body = resp.read()
        except Exception:
            self.close()
            raise
        self.last = (resp.status, resp.getheader("content-type") or "", body)
        return (None,)


def value_in(v):
    if isinstance(v, dict):
        if "$binary" in v:
            return xmlrpc.client.Binary(base64.b64decode(v["$binary"]))
        return {k: value_in(x) for k, x in v.items()}
    if isinstance(v, list):
        return [value_in(x) for x in v]
    return v


for line in sys.stdin:
    call = json.loads(line)
    transport = Recording()
    proxy = xmlrpc.client.ServerProxy(call["url"], transport=transport, allow_none=call.get("allow_none", False))
    try:
        getattr(proxy, call["method"])(*value_in(call["params"]))
        status, content_type, body = transport.last
        out = {"status": status, "contentType": content_type, "body": body.decode("utf-8", "replace")}
    except TimeoutError as e:
        out = {"failed": "no answer", "detail": repr(e)}
    except Exception as e:
        out = {"failed": "connection dropped", "detail": repr(e)}
    sys.stdout.write(json.dumps(out) + "\n")
    sys.stdout.flush()
