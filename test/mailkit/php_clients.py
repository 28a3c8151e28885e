#!/usr/bin/env python3
"""Mailkit's two PHP clients, reproduced in Python for the calls they make and the way they read the replies.

    php_clients.py URL CLIENT_ID CLIENT_MD5 OPS_JSON

OPS_JSON is a list of [client, operation, arguments]; the script prints a JSON list with, per operation, what
the client's method returned (`result`), the exception it would throw (`error`, its class name), and the reply
as the client decoded it (`reply`).

igloonet/mailkit-api (PHP, XML-RPC, src/RPC/Adapters/XmlAdapter.php): the request is what PHP's
xmlrpc_encode_request writes (pretty verbosity, utf-8): client_id and client_md5 as <string>s, then the values
of the manager's parameter array in order: PHP ints as <int>, strings as <string>, null as <nil/>, booleans as
the strings TRUE/FALSE (getBooleanString), user data base64-encoded, an empty section as the struct {'': null}
(fixEmptyUserDataSections). The reply is read with xmlrpc_decode: a fault is a transport failure; a bare string
that is 'Unauthorized' or one of the call's possible errors is an error; anything else is a success, read with
the manager's getter: getStringValue (the value must be a string), getStringData (a struct whose `data` is a
string).

mailkit/mailkit-api (PHP, JSON, src/RPC/Adapters/JsonAdapter.php): the body is Nette's Json::encode (compact,
unescaped slashes and unicode) of {function, id, md5, parameters}; empty sections are PHP's empty array, `[]`.
A reply with error_status other than 0 is an error (an unknown error text too); otherwise the manager reads
the decoded object.
"""
import base64
import json
import re
import sys
import urllib.request
import xmlrpc.client
from xml.sax.saxutils import escape

url, client_id, client_md5, ops_json = sys.argv[1:5]
b64 = lambda s: base64.b64encode(s.encode("utf-8")).decode("ascii")


class ClientError(Exception):
    pass


last_reply = [None]  # the reply of the operation's call, as the client decoded it


# --- igloonet/mailkit-api: XML-RPC ------------------------------------------------------------------------

def php_value(v, depth):
    pad = " " * depth
    if v is None:
        inner = [pad + " <nil/>"]
    elif isinstance(v, bool):  # never sent as such: the managers send "TRUE"/"FALSE"
        raise TypeError("booleans are strings here")
    elif isinstance(v, int):
        inner = [pad + " <int>%d</int>" % v]
    elif isinstance(v, str):
        inner = [pad + " <string>%s</string>" % escape(v)]
    elif isinstance(v, dict):
        inner = [pad + " <struct>"]
        for k, x in v.items():
            inner += [pad + "  <member>", pad + "   <name>%s</name>" % escape(k)] + php_value(x, depth + 3) + [pad + "  </member>"]
        inner += [pad + " </struct>"]
    else:
        raise TypeError(type(v))
    return [pad + "<value>"] + inner + [pad + "</value>"]


def php_request(method, params):
    lines = ['<?xml version="1.0" encoding="utf-8"?>', "<methodCall>", "<methodName>%s</methodName>" % method, "<params>"]
    for p in [client_id, client_md5] + list(params.values()):
        lines += [" <param>"] + php_value(p, 2) + [" </param>"]
    lines += ["</params>", "</methodCall>", ""]
    return "\n".join(lines).encode("utf-8")


def igloonet_call(method, params, possible_errors):
    req = urllib.request.Request(url + "/rpc.fcgi", data=php_request(method, params), headers={"Content-Type": "text/xml"})
    with urllib.request.urlopen(req) as r:
        body = r.read()
    try:
        (value,), _ = xmlrpc.client.loads(body)
    except xmlrpc.client.Fault as f:
        raise ClientError("InvalidRpcResponseException: fault %s" % f.faultString)
    last_reply[0] = value
    if isinstance(value, str):
        if value.strip() == "Unauthorized":
            raise ClientError("UnauthorizedException")
        for e in possible_errors:
            if value == e or re.search(e, value):
                return {"error": value}, value
    return {"value": value}, value


def string_value(resp):
    if not isinstance(resp.get("value"), str):
        raise ClientError("InvalidDataTypeException: not a string")
    return resp["value"]


def string_data(resp):
    v = resp.get("value")
    if not isinstance(v, dict) or not isinstance(v.get("data"), str):
        raise ClientError("InvalidDataTypeException: no string data")
    return v["data"]


def sections(user, with_email):
    personal = {k: b64(user[k]) for k in ["vocative", "prefix", "first_name", "last_name", "email", "reply_to", "company"] if user.get(k) is not None}
    if not with_email:
        personal.pop("email", None)
    address = {k: b64(user[k]) for k in ["nick_name", "country", "street", "state", "zip", "city", "mobile", "phone", "fax"] if user.get(k) is not None}
    custom = {"custom%d" % n: b64(v) for n, v in sorted((int(n), v) for n, v in user.get("custom", {}).items())}
    return personal, address, custom


def igloonet(op, a):
    if op == "editUser":
        personal, address, custom = [s or {"": None} for s in sections(a["user"], with_email=False)]
        params = {"mailinglist_id": a["list"], "email_id": a["user"]["email"], "keep_values": "TRUE" if a.get("keep_values", True) else "FALSE",
                  0: personal, 1: address, 2: custom}
        resp, raw = igloonet_call("mailkit.mailinglist.edituser", params, ["Missing ID_email", "Invalid ID_email", "Missing ID_mailing_list", "Invalid ID_mailing_list"])
        if "error" in resp:
            raise ClientError("UserEdit error: " + resp["error"])
        message = string_value(resp).strip()
        if message != "OK":
            raise ClientError("UserEditUnknownErrorException: " + message)
        return True, raw
    if op in ("deleteMailingList", "flushMailingList"):
        keep = op == "flushMailingList" or a.get("keep_list", False)
        params = {"ID_user_list": a["list"], "keep_list": "TRUE" if keep else "FALSE"}
        resp, raw = igloonet_call("mailkit.mailinglist.delete", params, ["Missing ID_user_list", "Invalid ID_user_list"])
        if "error" in resp:
            raise ClientError("MailingListDeletion error: " + resp["error"])
        if string_data(resp).strip() != "OK":
            raise ClientError("MailingListDeletionUnknownErrorException")
        return True, raw
    if op == "revalidate":
        params = {"ID_email": str(a["email_id"]), "ID_message": None, "agreement": "TRUE" if a["agreement"] else "FALSE", "channel": None, "dummy": None, "language": None}
        resp, raw = igloonet_call("mailkit.email.revalidate", params, ["^.+ is not unsubscribed$"])
        if "error" in resp:
            raise ClientError("UserRevalidationNotUnsubscribedException" if resp["error"].endswith(" is not unsubscribed") else "UserRevalidationUnknownErrorException")
        result = string_value(resp)
        return (a["agreement"] and result == "Email has been revalidated") or (not a["agreement"] and result == "Sent subscribe email"), raw
    raise ValueError(op)


# --- mailkit/mailkit-api: JSON ----------------------------------------------------------------------------

def official_call(method, parameters, possible_errors):
    body = json.dumps({"function": method, "id": client_id, "md5": client_md5, "parameters": parameters}, separators=(",", ":"), ensure_ascii=False)
    req = urllib.request.Request(url + "/json.fcgi", data=body.encode("utf-8"), headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req) as r:
        data = json.loads(r.read().decode("utf-8"))
    last_reply[0] = data
    if not isinstance(data, (dict, list)):
        raise ClientError("InvalidRpcResponseDataTypeException")
    if isinstance(data, dict) and "error_status" in data and int(data["error_status"]) != 0:
        error = data.get("error", "")
        if error.strip() == "Unauthorized":
            raise ClientError("UnauthorizedException")
        if not any(error == e or (e.startswith("/") and re.search(e.strip("/"), error)) for e in possible_errors):
            raise ClientError("RpcResponseUnknownErrorException: " + error)
        return {"error": error}, data
    return {"value": data}, data


def official(op, a):
    if op == "editUser":
        personal, address, custom = [s or [] for s in sections(a["user"], with_email=False)]
        params = {"ID_user_list": a["list"], "ID_email": a["user"]["email"], "personal": personal, "address": address, "custom": custom}
        resp, raw = official_call("mailkit.mailinglist.edituser", params, ["Missing ID_email", "Invalid ID_email", "Missing ID_user_list", "Invalid ID_user_list", "Missing ID_mailing_list", "Invalid ID_mailing_list"])
        if "error" in resp:
            raise ClientError("UserEdit error: " + resp["error"])
        if str(resp["value"].get("error", "")).strip() != "OK":
            raise ClientError("UserEditUnknownErrorException")
        return True, raw
    if op == "deleteMailingList":
        params = {"ID_user_list": a["list"], "keep_list": "TRUE" if a.get("keep_list") else "FALSE"}
        resp, raw = official_call("mailkit.mailinglist.delete", params, ["Missing ID_user_list", "Invalid ID_user_list"])
        if "error" in resp:
            raise ClientError("MailingListDeletion error: " + resp["error"])
        data = resp["value"].get("data")
        if not isinstance(data, str) or data.strip() != "OK":
            raise ClientError("MailingListDeletionUnknownErrorException")
        return True, raw
    if op == "revalidate":
        params = {"ID_email": str(a["email_id"]), "ID_message": None, "agreement": "TRUE" if a["agreement"] else "FALSE", "channel": None, "dummy": None, "language": None}
        resp, raw = official_call("mailkit.email.revalidate", params, ["/^.+ is not unsubscribed$/"])
        if "error" in resp:
            raise ClientError("UserRevalidationNotUnsubscribedException" if resp["error"].endswith(" is not unsubscribed") else "UserRevalidationUnknownErrorException")
        result = resp["value"].get("error", "")
        return (a["agreement"] and result == "Email has been revalidated") or (not a["agreement"] and result == "Sent subscribe email"), raw
    raise ValueError(op)


out = []
for client, op, args in json.loads(ops_json):
    run = igloonet if client == "igloonet" else official
    last_reply[0] = None
    try:
        result, _ = run(op, args)
        out.append({"result": result, "error": None, "reply": last_reply[0]})
    except ClientError as e:
        out.append({"result": None, "error": str(e), "reply": last_reply[0]})
print(json.dumps(out, ensure_ascii=False, default=str))
