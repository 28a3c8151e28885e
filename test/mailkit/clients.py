#!/usr/bin/env python3
"""Mailkit calls as real clients make them, in both encodings, against a running Mailgate.

    clients.py URL CLIENT_ID CLIENT_MD5 ENCODING STEP [ARGS_JSON]

ENCODING: xml (xmlrpc.client on /rpc.fcgi, client_id sent as a <string> like the PHP clients, user data in
base64, empty sections as {'': None}) or json (urllib on /json.fcgi, parameters as strings like the Java
clients, some at the top level like the Python extractor). STEP: setup | reports | more (the functions the
real clients call beyond the seed's table, in the documented XML-RPC order, and their bad input). Prints one
JSON object: each call's reply as the client library decoded it (XML-RPC ints stay ints, strings stay
strings).
"""
import base64
import json
import sys
import urllib.request
import xmlrpc.client

url, client_id, client_md5, encoding, step = sys.argv[1:6]
args = json.loads(sys.argv[6]) if len(sys.argv) > 6 else {}
b64 = lambda s: base64.b64encode(s.encode("utf-8")).decode("ascii")
proxy = xmlrpc.client.ServerProxy(url + "/rpc.fcgi", allow_none=True)


def xml(fn, *params, cid=None, md5=None):
    try:
        return getattr(proxy, fn)(cid if cid is not None else str(client_id), md5 if md5 is not None else client_md5, *params)
    except xmlrpc.client.Fault as f:  # Mailkit never answers a fault: report it so the test fails
        return {"FAULT": f.faultString}


def js(fn, parameters=None, top=None, cid=None, md5=None, raw=None):
    body = {"function": fn, "id": cid if cid is not None else str(client_id), "md5": md5 if md5 is not None else client_md5}
    if parameters is not None:
        body["parameters"] = parameters
    body.update(top or {})
    data = raw if raw is not None else json.dumps(body).encode("utf-8")
    req = urllib.request.Request(url + "/json.fcgi", data=data, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req) as r:
        return json.loads(r.read().decode("utf-8"))


out = {}
tag = encoding
if step == "setup":
    if encoding == "xml":
        out["create"] = xml("mailkit.mailinglist.create", "News " + tag, "for " + tag)
        lid = out["create"]["data"]
        out["create_again"] = xml("mailkit.mailinglist.create", "News " + tag, "")
        out["create_missing"] = xml("mailkit.mailinglist.create", "", "")
        out["list"] = xml("mailkit.mailinglist.list")
        personal = {"email": b64("anna." + tag + "@example.org"), "first_name": b64("Anna"), "last_name": b64("Nováková")}
        out["adduser"] = xml("mailkit.mailinglist.adduser", str(lid), "FALSE", personal, {"": None}, {"custom1": b64("gold")})
        out["adduser_again"] = xml("mailkit.mailinglist.adduser", lid, "FALSE", personal, {"city": b64("Brno")}, {"": None})
        out["adduser_bad"] = xml("mailkit.mailinglist.adduser", lid, "FALSE", {"email": "not-an-address"}, {"": None}, {"": None})
        out["adduser_nolist"] = xml("mailkit.mailinglist.adduser", 999999, "FALSE", personal, {"": None}, {"": None})
        out["edituser"] = xml("mailkit.mailinglist.edituser", lid, "anna." + tag + "@example.org", "TRUE", {"first_name": b64("Anička")}, {"": None}, {"": None})
        out["import"] = xml("mailkit.mailinglist.import", lid, [{"email": "bob." + tag + "@example.org", "first_name": "Bob"}, {"email": "broken@"}, {"email": "anna." + tag + "@example.org", "company": "ACME"}])
        out["sendmail"] = xml("mailkit.sendmail", lid, args["campaign"], {"send_to": "carl." + tag + "@example.org", "subject": "Your order " + tag, "message_data": b64("<p>Order for <b>Carl</b></p>")}, {"first_name": b64("Carl")}, {"": None}, {"": None}, {"name": "order.txt", "data": xmlrpc.client.Binary(b"order 42\n")})
        out["sendmail_nocampaign"] = xml("mailkit.sendmail", lid, 999999, {"send_to": "carl." + tag + "@example.org"}, {"": None}, {"": None}, {"": None})
        out["sendmail_noto"] = xml("mailkit.sendmail", lid, args["campaign"], {"subject": "x"}, {"": None}, {"": None}, {"": None})
        out["getstatus"] = xml("mailkit.email.getstatus", "anna." + tag + "@example.org")
        out["getstatus_unknown"] = xml("mailkit.email.getstatus", "nobody." + tag + "@example.org")
        out["unsubscribe"] = xml("mailkit.email.unsubscribe", "bob." + tag + "@example.org", None, False)
        out["unsubscribe_bad"] = xml("mailkit.email.unsubscribe", "not an address", None, False)
        out["getstatus_after"] = xml("mailkit.email.getstatus", "bob." + tag + "@example.org")
        out["wrong_md5"] = xml("mailkit.mailinglist.list", md5="wrong")
        out["unknown_function"] = xml("mailkit.no.such.function")
        out["limit_too_big"] = xml("mailkit.report.raw.bounces", "", "", 1, 25001)
        out["non_numeric"] = xml("mailkit.report.raw.bounces", "abc", "", 1, 10)
        out["list_id"] = lid
    else:
        out["create"] = js("mailkit.mailinglist.create", {"name": "News " + tag, "description": "for " + tag})
        lid = out["create"]["data"]
        out["create_again"] = js("mailkit.mailinglist.create", {"name": "News " + tag})
        out["create_missing"] = js("mailkit.mailinglist.create", [])
        out["list"] = js("mailkit.mailinglist.list", [])
        personal = {"email": b64("anna." + tag + "@example.org"), "first_name": b64("Anna"), "last_name": b64("Nováková")}
        out["adduser"] = js("mailkit.mailinglist.adduser", {"ID_user_list": lid, "confirm": "FALSE", "personal": personal, "address": {"": None}, "custom": {"custom1": b64("gold")}})
        out["adduser_again"] = js("mailkit.mailinglist.adduser", {"ID_user_list": int(lid), "confirm": False, "personal": personal, "address": {"city": b64("Brno")}})
        out["adduser_bad"] = js("mailkit.mailinglist.adduser", {"ID_user_list": lid, "personal": {"email": "not-an-address"}})
        out["adduser_nolist"] = js("mailkit.mailinglist.adduser", {"ID_user_list": "999999", "personal": personal})
        out["edituser"] = js("mailkit.mailinglist.edituser", {"ID_user_list": lid, "ID_email": "anna." + tag + "@example.org", "personal": {"first_name": b64("Anička")}})
        out["import"] = js("mailkit.mailinglist.import", {"ID_user_list": int(lid), "recipients": [{"email": "bob." + tag + "@example.org", "first_name": "Bob"}, {"email": "broken@"}, {"email": "anna." + tag + "@example.org", "company": "ACME"}]})
        out["sendmail"] = js("mailkit.sendmail", {"mailinglist_id": lid, "campaign_id": str(args["campaign"]), "main": {"send_to": "carl." + tag + "@example.org", "subject": "Your order " + tag, "message_data": b64("<p>Order for <b>Carl</b></p>")}, "recipient": {"first_name": b64("Carl")}, "attachment": {"name": "order.txt", "data": b64("order 42\n")}})
        out["sendmail_nocampaign"] = js("mailkit.sendmail", {"mailinglist_id": lid, "campaign_id": 999999, "main": {"send_to": "carl." + tag + "@example.org"}})
        out["sendmail_noto"] = js("mailkit.sendmail", {"mailinglist_id": lid, "campaign_id": args["campaign"], "main": {"subject": "x"}})
        out["getstatus"] = js("mailkit.email.getstatus", {"email_id": "anna." + tag + "@example.org"})
        out["getstatus_unknown"] = js("mailkit.email.getstatus", {"email_id": "nobody." + tag + "@example.org"})
        out["unsubscribe"] = js("mailkit.email.unsubscribe", {"ID_email": "bob." + tag + "@example.org", "ID_send_message": None, "send_optout": False})
        out["unsubscribe_bad"] = js("mailkit.email.unsubscribe", {"ID_email": "not an address"})
        out["getstatus_after"] = js("mailkit.email.getstatus", {"email_id": "bob." + tag + "@example.org"})
        out["wrong_md5"] = js("mailkit.mailinglist.list", md5="wrong")
        out["unknown_function"] = js("mailkit.no.such.function", {})
        out["limit_too_big"] = js("mailkit.report.raw.bounces", {"limit": "25001"})
        out["non_numeric"] = js("mailkit.report.raw.bounces", {"ID_message": "abc"})
        out["malformed"] = js("x", raw=b'{"function": "mailkit.mailinglist.list", ')
        out["list_id"] = int(lid)
elif step == "reports":
    m, s = args["bounced_mailing"], args["bounced_send"]
    if encoding == "xml":
        out["campaigns"] = xml("mailkit.campaigns.list")
        out["campaign_one"] = xml("mailkit.campaigns.list", m)
        out["report"] = xml("mailkit.report", "2000-01-01", "2100-01-01")
        out["report_campaign"] = xml("mailkit.report.campaign", m, "", "")
        out["message_bounces"] = xml("mailkit.report.message.bounces", s)
        out["raw_messages"] = xml("mailkit.report.raw.messages", args["transactional"], "", 1, 100)
        out["raw_bounces"] = xml("mailkit.report.raw.bounces", m, s, 1, 25000)
        out["delete"] = xml("mailkit.mailinglist.delete", args["list_id"], "FALSE")
        out["delete_again"] = xml("mailkit.mailinglist.delete", args["list_id"], "FALSE")
    else:
        out["campaigns"] = js("mailkit.campaigns.list")
        out["campaign_one"] = js("mailkit.campaigns.list", top={"ID_message": m})
        out["report"] = js("mailkit.report", {"range_from": "2000-01-01", "range_to": "2100-01-01"})
        out["report_campaign"] = js("mailkit.report.campaign", {"ID_message": str(m)})
        out["message_bounces"] = js("mailkit.report.message.bounces", {"ID_send": str(s)})
        out["raw_messages"] = js("mailkit.report.raw.messages", {"ID_message": str(args["transactional"]), "limit": 100})
        out["raw_bounces"] = js("mailkit.report.raw.bounces", {"ID_message": str(m), "ID_send": str(s), "ID_UNDELIVERED_LOG": "1", "limit": "25000"})
        out["delete"] = js("mailkit.mailinglist.delete", {"ID_user_list": args["list_id"], "keep_list": "FALSE"})
        out["delete_again"] = js("mailkit.mailinglist.delete", {"ID_user_list": args["list_id"], "keep_list": "FALSE"})
elif step == "more":
    lid, sid, mid, tag = args["list_id"], args["send_id"], args["mailing"], encoding
    if encoding == "xml":
        out["links"] = xml("mailkit.report.message.links", sid)
        out["links_unknown"] = xml("mailkit.report.message.links", 999999)
        out["links_missing"] = xml("mailkit.report.message.links", "")
        out["responses"] = xml("mailkit.report.raw.responses", "", "", 1, 25000)
        out["responses_page"] = xml("mailkit.report.raw.responses", mid, sid, args["from_log"], 2)
        out["responses_bad_limit"] = xml("mailkit.report.raw.responses", "", "", 1, 25001)
        out["responses_bad_start"] = xml("mailkit.report.raw.responses", "", "", "abc", 10)
        out["unsubscribed"] = xml("mailkit.mailinglist.unsubscribed", "2000-01-01")
        out["unsubscribed_later"] = xml("mailkit.mailinglist.unsubscribed", "2100-01-01")
        out["unsubscribed_bad"] = xml("mailkit.mailinglist.unsubscribed", "yesterday")
        out["engagement"] = xml("mailkit.mailinglist.engagement", lid, "", 25000)
        out["engagement_page"] = xml("mailkit.mailinglist.engagement", lid, args["from_email"], 2)
        out["engagement_unknown"] = xml("mailkit.mailinglist.engagement", 999999, "", 10)
        out["engagement_missing"] = xml("mailkit.mailinglist.engagement", "", "", 10)
        out["emails"] = xml("mailkit.profile.emails.list")
        sender = out["emails"]["emails"][0]["ID_ALLOW_EMAIL"]
        campaign = {"name": b64("Launch " + tag), "subject": b64("Launch day"), "ID_allow_email": b64(str(sender)), "type_message": b64("email"), "content": b64("<p>Launch</p>")}
        out["create"] = xml("mailkit.campaigns.create", campaign)
        out["create_again"] = xml("mailkit.campaigns.create", campaign)
        out["create_bad_sender"] = xml("mailkit.campaigns.create", dict(campaign, name=b64("Other " + tag), ID_allow_email=b64("1")))
        out["create_missing_name"] = xml("mailkit.campaigns.create", dict(campaign, name=""))
        out["revalidate_missing"] = xml("mailkit.email.revalidate", "", None, "TRUE", None, None, None)
        out["delete_keep_unknown"] = xml("mailkit.mailinglist.delete", 999999, "TRUE")
    else:
        out["links"] = js("mailkit.report.message.links", {"ID_send": str(sid)})
        out["links_unknown"] = js("mailkit.report.message.links", {"ID_send": "999999"})
        out["links_missing"] = js("mailkit.report.message.links", {})
        out["responses"] = js("mailkit.report.raw.responses", {"limit": "25000"})
        out["responses_page"] = js("mailkit.report.raw.responses", {"ID_message": str(mid), "ID_send": str(sid), "ID_log": str(args["from_log"]), "limit": "2"})
        out["responses_bad_limit"] = js("mailkit.report.raw.responses", {"limit": "25001"})
        out["responses_bad_start"] = js("mailkit.report.raw.responses", {"ID_log": "abc"})
        out["unsubscribed"] = js("mailkit.mailinglist.unsubscribed", {"range_from": "2000-01-01"})
        out["unsubscribed_later"] = js("mailkit.mailinglist.unsubscribed", {"range_from": "2100-01-01"})
        out["unsubscribed_bad"] = js("mailkit.mailinglist.unsubscribed", {"range_from": "yesterday"})
        out["engagement"] = js("mailkit.mailinglist.engagement", {"ID_user_list": str(lid)})
        out["engagement_page"] = js("mailkit.mailinglist.engagement", {"ID_user_list": str(lid), "ID_email": str(args["from_email"]), "limit": 2})
        out["engagement_unknown"] = js("mailkit.mailinglist.engagement", {"ID_user_list": "999999"})
        out["engagement_missing"] = js("mailkit.mailinglist.engagement", {})
        out["emails"] = js("mailkit.profile.emails.list")
        sender = out["emails"]["emails"][0]["ID_ALLOW_EMAIL"]
        campaign = {"name": b64("Launch " + tag), "subject": b64("Launch day"), "ID_allow_email": b64(str(sender)), "content": b64("<p>Launch</p>")}
        out["create"] = js("mailkit.campaigns.create", campaign)
        out["create_again"] = js("mailkit.campaigns.create", campaign)
        out["create_bad_sender"] = js("mailkit.campaigns.create", dict(campaign, name=b64("Other " + tag), ID_allow_email=b64("1")))
        out["create_missing_name"] = js("mailkit.campaigns.create", dict(campaign, name=""))
        out["revalidate_missing"] = js("mailkit.email.revalidate", {"ID_email": "", "agreement": "TRUE"})
        out["delete_keep_unknown"] = js("mailkit.mailinglist.delete", {"ID_user_list": "999999", "keep_list": "TRUE"})
print(json.dumps(out, ensure_ascii=False, default=str))
