#!/usr/bin/env python3
"""Python's own xmlrpc.client, driven one call at a time by the conformance test (stdin and stdout, one JSON
object a line), so that the test can look at the stored state between calls.

In:  {"url": "http://admin:SECRET@127.0.0.1:PORT/CloudMailing", "method": "start_mailing", "params": [...]}
     Values are JSON; {"$binary": "<base64>"} is an xmlrpc.client.Binary (Python 3 clients send bytes so),
     {"$repeat": ["x", N]} a string of N times "x" (bodies over the size limit without a huge line).
Out: {"status", "contentType", "wwwAuthenticate", "allow", "vary", "body"}: the raw HTTP answer, which the
     library itself throws away when the status is not 200; and "client": what the library gave the caller:
     {"value": ...}, {"fault": [code, string]} (xmlrpc.client.Fault) or {"protocolError": [errcode, errmsg]}.
"""
import base64
import json
import sys
import xmlrpc.client


class Recording(xmlrpc.client.Transport):
    """The standard transport, but the raw answer is kept (and parsed by the library's own parser)."""

    last = None

    def single_request(self, host, handler, request_body, verbose=False):
        try:
            resp = self.send_request(host, handler, request_body, verbose).getresponse()
            body = resp.read()
        except Exception:
            self.close()
            raise
        self.last = (resp.status, {h: resp.getheader(h) for h in ("content-type", "www-authenticate", "allow", "vary")}, body)
        if resp.status != 200:
            raise xmlrpc.client.ProtocolError(host + handler, resp.status, resp.reason, dict(resp.getheaders()))
        parser, unmarshaller = self.getparser()
        parser.feed(body)
        parser.close()
        return unmarshaller.close()


def value_in(v):
    if isinstance(v, dict):
        if "$binary" in v:
            return xmlrpc.client.Binary(base64.b64decode(v["$binary"]))
        if "$repeat" in v:
            return v["$repeat"][0] * v["$repeat"][1]
        return {k: value_in(x) for k, x in v.items()}
    if isinstance(v, list):
        return [value_in(x) for x in v]
    return v


def value_out(v):
    if isinstance(v, xmlrpc.client.Binary):
        return {"$binary": base64.b64encode(v.data).decode("ascii")}
    if isinstance(v, xmlrpc.client.DateTime):
        return {"$datetime": v.value}
    if isinstance(v, dict):
        return {k: value_out(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [value_out(x) for x in v]
    return v


for line in sys.stdin:
    call = json.loads(line)
    transport = Recording()
    proxy = xmlrpc.client.ServerProxy(call["url"], transport=transport, allow_none=call.get("allow_none", False))
    try:
        client = {"value": value_out(getattr(proxy, call["method"])(*value_in(call["params"])))}
    except xmlrpc.client.Fault as f:
        client = {"fault": [f.faultCode, f.faultString]}
    except xmlrpc.client.ProtocolError as e:
        client = {"protocolError": [e.errcode, e.errmsg]}
    except Exception as e:  # no answer at all (a dropped connection): the test fails on it
        sys.stdout.write(json.dumps({"error": repr(e)}) + "\n")
        sys.stdout.flush()
        continue
    status, headers, body = transport.last
    out = {
        "status": status,
        "contentType": headers["content-type"],
        "wwwAuthenticate": headers["www-authenticate"],
        "allow": headers["allow"],
        "vary": headers["vary"],
        "body": body.decode("utf-8", "replace"),
        "client": client,
    }
    sys.stdout.write(json.dumps(out) + "\n")
    sys.stdout.flush()
