#!/usr/bin/env python3
"""The Python campaign client itsmepvr/mailkit_campaign (emailKit.py), reproduced for the calls it makes.

    campaign_client.py URL CLIENT_ID CLIENT_MD5 STEPS_JSON

Every call is `requests.post(API_URL, headers={"content-type": "application/json"}, json=body, verify=False)`
of a body {function, id, md5[, parameters]} (requests writes json.dumps of it), the reply read with .json().
Its flow (its __init__.py): createCampaign (mailkit.campaigns.list, and when no campaign has that NAME,
mailkit.profile.emails.list, whose `emails`[0].ID_ALLOW_EMAIL it base64-encodes into mailkit.campaigns.create
with the base64 name and subject, then the campaign id is the reply's ID_message unless the reply has `error`),
createMailingList (mailkit.mailinglist.list, by NAME, else mailkit.mailinglist.create: the id is `data`),
sendMail (mailkit.mailinglist.list indexed [2], then mailkit.sendmail of a base64 body to the campaign and
list) and deliveryReport (mailkit.report.campaign with empty range_from and range_to). A missing key or index
is the crash of the real client: the script lets it propagate (exit status 1).

STEPS_JSON: {"campaign": [name, description], "list": [name, description], "mail": [to, subject, body],
"only": optional list of the steps to run}. Prints one JSON object: each step's result and every reply.
"""
import base64
import json
import sys

import requests

api, client_id, client_md5, steps_json = sys.argv[1] + "/json.fcgi", sys.argv[2], sys.argv[3], sys.argv[4]
steps = json.loads(steps_json)
replies = []


def post(body):
    r = requests.post(api, headers={"content-type": "application/json"}, json=body, verify=False)
    data = r.json()
    replies.append({"function": body["function"], "reply": data})
    return data


def to_base64(data=""):
    return base64.b64encode(bytes(str(data), "ascii")).decode("utf-8")


def envelope(function, parameters=None):
    body = {"function": function, "id": client_id, "md5": client_md5}
    if parameters is not None:
        body["parameters"] = parameters
    return body


state = {"campaign_id": None, "mailing_list_id": None}


def create_campaign(name, description):
    for c in post(envelope("mailkit.campaigns.list")):
        if c["NAME"] == name:
            state["campaign_id"] = c["ID_MESSAGE"]
            return {"existing": c["ID_MESSAGE"]}
    sender = post(envelope("mailkit.profile.emails.list"))["emails"][0]
    res = post(envelope("mailkit.campaigns.create", {"name": to_base64(name), "subject": to_base64(description), "ID_allow_email": to_base64(sender["ID_ALLOW_EMAIL"])}))
    if "error" in res:
        return {"error": res["error"]}
    state["campaign_id"] = res["ID_message"]
    return {"created": res["ID_message"], "sender": sender}


def create_mailing_list(name, description):
    for l in post(envelope("mailkit.mailinglist.list")):
        if l["NAME"] == name:
            state["mailing_list_id"] = l["ID_USER_LIST"]
            return {"existing": l["ID_USER_LIST"]}
    res = post(envelope("mailkit.mailinglist.create", {"name": name, "description": description}))
    if "error" in res:
        return {"error": res["error"]}
    state["mailing_list_id"] = res["data"]
    return {"created": res["data"]}


def send_mail(to, subject, body):
    post(envelope("mailkit.mailinglist.list"))[2]["ID_USER_LIST"]  # the client indexes the third list, unused
    main = {"send_to": to, "subject": subject, "message_data": to_base64(body)}
    return post(envelope("mailkit.sendmail", {"mailinglist_id": state["mailing_list_id"], "campaign_id": state["campaign_id"], "main": main}))


def delivery_report():
    return post(envelope("mailkit.report.campaign", {"range_from": "", "range_to": "", "ID_message": state["campaign_id"]}))


only = steps.get("only") or ["campaign", "list", "mail", "report"]
out = {}
if "campaign" in only:
    out["campaign"] = create_campaign(*steps["campaign"])
if "list" in only:
    out["list"] = create_mailing_list(*steps["list"])
if "mail" in only:
    out["mail"] = send_mail(*steps["mail"])
if "report" in only:
    out["report"] = delivery_report()
out["replies"] = replies
print(json.dumps(out, ensure_ascii=False))
