"""The seed's own calls (000_11d49d42c7c7d379.txt), unchanged but for the URL, against a running gateway.

Usage: python3 seed_client.py PORT API_KEY
With SEED_WAIT_FINISHED=1 (a worker running), the report loops run until the mailing is FINISHED;
otherwise they stop after one round and the script checks the shapes of the answers.
Prints one JSON line with what it saw; exits non-zero on the first failed check.
"""
import json
import os
import sys
import time
import xmlrpc.client as xmlrpclib
from datetime import datetime, timedelta

port, api_key = int(sys.argv[1]), sys.argv[2]
wait_finished = os.environ.get("SEED_WAIT_FINISHED") == "1"

config = {
    'ip': '127.0.0.1',
    'api_key': api_key,
}
cm_master = xmlrpclib.ServerProxy("http://admin:%(api_key)s@%(ip)s:%(port)d/CloudMailing" % dict(config, port=port))

# Create a mailing
mailing_id = cm_master.create_mailing(
    "my-mailing@%example.org",         # Sender email
    "My Mailing",                      # Sender name
    "The great newsletter",            # Subject
    "<h1>Title</h1><p>Coucou</p>",     # HTML content
    "Title\nCoucou\n",                 # Plain text content
    "UTF-8"                            # Text encoding (for both HTML and plain text content)
)
assert isinstance(mailing_id, int), mailing_id

scheduled_start = (datetime.now() + timedelta(hours=3)).replace(microsecond=0)
if wait_finished:
    scheduled_start = None
props = {
    'scheduled_duration': 1440,  # in minutes
    'click_tracking': True,
}
if scheduled_start:
    props['scheduled_start'] = scheduled_start
assert cm_master.set_mailing_properties(mailing_id, props) == 0

# Add some recipients
added = cm_master.add_recipients(mailing_id, [
    {'email': 'john.doe@example.org', 'firstname': 'John', 'lastname': 'DOE', 'another_custom_field': 'blabla'},
    {'email': 'wilfred.smith@example.org'},
    {'email': 'not an email'},
])
assert len(added) == 3, added
assert added[0]['email'] == 'john.doe@example.org' and 'id' in added[0] and 'error' not in added[0], added[0]
assert added[1]['email'] == 'wilfred.smith@example.org' and 'id' in added[1], added[1]
assert 'error' in added[2] and 'id' not in added[2], added[2]

# Start a mailing
status = cm_master.start_mailing(mailing_id)
assert status == ('RUNNING' if wait_finished else 'READY'), status

# Retrieve recipients reports
seen = {}
mailing_is_running = True
cursor = ''
status_filter = []  # No filter = all status except 'READY' (no sens to get them)
rounds = 0
while mailing_is_running:
    result = cm_master.get_recipients_status_updated_since(cursor, status_filter, 1000)
    cursor = result['cursor']
    recipients_status = result['recipients']
    assert isinstance(cursor, str) and cursor, result
    assert isinstance(recipients_status, list), result
    for r in recipients_status:
        assert set(['id', 'email', 'status', 'try_count', 'in_progress', 'modified']) <= set(r), r
        seen[r['id']] = r['status']
    rounds += 1
    if not wait_finished:
        break
    mailing_is_running = any(s not in ('FINISHED', 'ERROR', 'TIMEOUT', 'GENERAL_ERROR') for s in seen.values()) or len(seen) < 2
    if mailing_is_running:
        time.sleep(0.2)

# Retrieve mailing report
filter = {'id': [mailing_id]}
mailing = cm_master.list_mailings(filter)[0]
while mailing['status'] != 'FINISHED':
    print("Total recipients: %d" % mailing['total_recipient'], file=sys.stderr)
    print("Recipients finished: %d" % mailing['total_sent'], file=sys.stderr)
    print("Recipients in error: %d" % mailing['total_error'], file=sys.stderr)
    if not wait_finished:
        break
    time.sleep(0.2)
    mailing = cm_master.list_mailings(filter)[0]

assert mailing['id'] == mailing_id
assert mailing['total_recipient'] == 2, mailing
assert mailing['click_tracking'] is True and mailing['read_tracking'] is True, mailing
assert mailing['scheduled_duration'] == 1440, mailing
if scheduled_start:
    # The gateway reads a zone-less dateTime as UTC and answers UTC: what was sent comes back.
    assert isinstance(mailing['scheduled_start'], xmlrpclib.DateTime), mailing
    assert mailing['scheduled_start'].value == scheduled_start.strftime('%Y%m%dT%H:%M:%S'), (mailing['scheduled_start'], scheduled_start)
    assert mailing['status'] == 'READY', mailing

# Recipient statuses by id
statuses = cm_master.get_recipients_status([a['id'] for a in added[:2]], {'with_contact_data': True})
assert [s['id'] for s in statuses] == [a['id'] for a in added[:2]], statuses
assert statuses[0]['contact']['firstname'] == 'John', statuses[0]

# Faults and introspection, as a Python client sees them
# The original answers start_mailing's faults with the HTTP status equal to the fault code: integrations of
# the original catch ProtocolError there.
try:
    cm_master.start_mailing(987654321)
    raise AssertionError('expected an HTTP 404')
except xmlrpclib.ProtocolError as e:
    assert e.errcode == 404, e
methods = cm_master.system.listMethods()
assert 'add_recipients' in methods, methods
multi = xmlrpclib.MultiCall(cm_master)
multi.get_mailings_count({'id': [mailing_id]})
multi.pause_mailing(987654321)
multi_results = multi()
assert multi_results[0] == 1
try:
    multi_results[1]
    raise AssertionError('expected a fault')
except xmlrpclib.Fault as f:
    assert f.faultCode == 404, f
bad = xmlrpclib.ServerProxy("http://admin:wrong@127.0.0.1:%d/CloudMailing" % port)
try:
    bad.get_mailings_count()
    raise AssertionError('expected fault 401')
except xmlrpclib.Fault as f:
    assert f.faultCode == 401 and f.faultString == 'Authorization Failed!', f

print(json.dumps({'mailing_id': mailing_id, 'status': mailing['status'], 'rounds': rounds, 'seen': seen,
                  'total_recipient': mailing['total_recipient']}))
