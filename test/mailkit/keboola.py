#!/usr/bin/env python3
"""Keboola's Mailkit extractor (keboola/component-mailkit-extractor, src/mailkit_client.py and component.py),
reproduced for the four datasets it reads that Mailgate answers here, with its paging and its de-duplication.

    keboola.py URL CLIENT_ID CLIENT_MD5 CONFIG_JSON

Every call is `requests.post(ENDPOINT, json=payload)` where payload is the call's own keys ("parameters", or
"ID_message" at the top for campaigns.list) updated with function, id and md5; a reply that is not HTTP 200,
or that cannot be decoded, is logged and read as nothing. Paging (_paginate): start from the state's id (none
at first), ask for `limit` records (BATCH_SIZE, 5000; engagement 25,000), write the page, stop when it is
empty, smaller than minPageSize (200; 0 turns the check off), or when its last id is the id it started from;
else go on from the last record's id, itself included: the writer drops a row whose primary key is the last
one it wrote (_write_results).

CONFIG_JSON: {"datasets": [...], "campaign_ids", "send_ids", "list_ids", "date_from", "limit", "min_page_size"}.
Prints {dataset: rows written, in order} and the calls made.
"""
import json
import sys

import requests

endpoint, client_id, client_md5, config = sys.argv[1] + "/json.fcgi", sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
calls = []


def call_api(function, payload):
    payload.update({"function": function, "id": client_id, "md5": client_md5})
    calls.append(json.loads(json.dumps(payload)))
    try:
        resp = requests.post(endpoint, json=payload)
        if resp.status_code != 200:
            raise Exception("%s error: %s" % (function, resp.text))
        return resp.json()
    except Exception as e:  # the extractor logs and reads nothing
        sys.stderr.write("failed: %s\n" % e)
    return None


class Writer:
    """_write_results: rows in order, a row whose primary key is the last one written is dropped."""

    def __init__(self, primary_key):
        self.primary_key, self.last, self.rows = primary_key, "", []

    def write(self, data):
        for row in data or []:
            if row[self.primary_key] == self.last:
                continue
            self.rows.append(row)
            self.last = row[self.primary_key]


def paginate(fetch_page, on_page, min_page_size, next_id=""):
    while True:
        items, page_next = fetch_page(next_id)
        if not items:
            break
        on_page(items)
        if min_page_size and len(items) < min_page_size:
            break
        if not page_next or page_next == next_id:
            break
        next_id = page_next


def raw_responses(campaign_id, next_id, limit):
    parameters = {"limit": limit}
    if campaign_id:
        parameters["ID_message"] = campaign_id
    if next_id:
        parameters["ID_log"] = next_id
    items = call_api("mailkit.report.raw.responses", {"parameters": parameters})
    return items or [], items[-1].get("ID_log") if items else next_id


def engagement(list_id, id_email, limit):
    parameters = {"ID_user_list": list_id, "limit": limit}
    if id_email:
        parameters["ID_email"] = id_email
    items = call_api("mailkit.mailinglist.engagement", {"parameters": parameters})
    return items or [], str(items[-1].get("ID_EMAIL", "")) if items else ""


out = {}
min_page_size = config.get("min_page_size", 200)
for ds in config["datasets"]:
    if ds == "MSG_LINKS":
        links = []
        for campaign_id in config.get("campaign_ids") or [""]:
            for send_id in config["send_ids"]:
                parameters = {"ID_send": send_id}
                if campaign_id:
                    parameters["ID_message"] = campaign_id
                if data := call_api("mailkit.report.message.links", {"parameters": parameters}):
                    links.extend(data)
        w = Writer("ID_URL")
        w.write(links)
        out[ds] = w.rows
    elif ds == "RAW_RESPONSES":
        w = Writer("ID_log")
        for campaign_id in config.get("campaign_ids") or [""]:
            paginate(lambda nid: raw_responses(campaign_id, nid, config.get("limit", 5000)), w.write, min_page_size)
        out[ds] = w.rows
    elif ds == "MLIST_UNSUBSCRIBED":
        payload = {}
        if config.get("date_from"):
            payload["parameters"] = {"range_from": config["date_from"]}
        w = Writer("EMAIL")
        w.write(call_api("mailkit.mailinglist.unsubscribed", payload) or [])
        out[ds] = w.rows
    elif ds == "ENGAGEMENT":
        w = Writer("ID_EMAIL")
        for list_id in config["list_ids"]:
            w.last = ""

            def on_page(data, list_id=list_id):
                for row in data:
                    row["ID_USER_LIST"] = list_id
                w.write(data)

            paginate(lambda nid, lid=list_id: engagement(lid, nid, config.get("limit", 25000)), on_page, min_page_size)
        out[ds] = w.rows
out["calls"] = calls
print(json.dumps(out, ensure_ascii=False))
