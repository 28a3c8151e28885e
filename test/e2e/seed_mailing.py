"""The seed's integration, end to end, as a CloudMailing customer would run it (Python's xmlrpc.client,
no allow_none, nothing Mailgate-specific but the URL).

usage: seed_mailing.py URL N
Creates a mailing, sets properties with datetime values, adds N recipients in calls of 1000, starts it,
follows get_recipients_status_updated_since and list_mailings until FINISHED, prints one JSON line.
"""
import json
import sys
import time
import xmlrpc.client
from datetime import datetime, timedelta, timezone

url, n = sys.argv[1], int(sys.argv[2])
cm_master = xmlrpc.client.ServerProxy(url)
t0 = time.monotonic()

mailing_id = cm_master.create_mailing(
    "my-mailing@%example.org",                                   # Sender email (the seed's own, '%' and all)
    "My Mailing",                                                # Sender name
    "The great newsletter for {{ firstname }}",                  # Subject
    "<h1>Title</h1><p>Coucou {{ firstname }} {{ lastname }}</p>",  # HTML content
    "Title\nCoucou {{ firstname }}\n",                           # Plain text content
    "UTF-8"                                                      # Text encoding
)

now = datetime.now(timezone.utc).replace(tzinfo=None)  # naive UTC, as the gateway reads zone-less dates
cm_master.set_mailing_properties(mailing_id, {
    'scheduled_start': now - timedelta(seconds=5),
    'scheduled_end': now + timedelta(hours=3),
    'click_tracking': True,
})

added = 0
for start in range(0, n, 1000):
    batch = [
        {'email': 'user%d@example.org' % i, 'firstname': 'First%d' % i, 'lastname': 'LAST', 'another_custom_field': 'blabla'}
        for i in range(start, min(n, start + 1000))
    ]
    results = cm_master.add_recipients(mailing_id, batch)
    assert len(results) == len(batch)
    for r in results:
        assert 'id' in r and 'error' not in r, r
    added += len(results)
t_added = time.monotonic()

cm_master.start_mailing(mailing_id)

FINAL = {'FINISHED', 'ERROR', 'TIMEOUT', 'GENERAL_ERROR'}
final = {}
cursor = ''
status_filter = []  # No filter = all status except 'READY'
polls = 0
filter = {'id': [mailing_id]}
mailing = cm_master.list_mailings(filter)[0]
while True:
    result = cm_master.get_recipients_status_updated_since(cursor, status_filter, 1000)
    cursor = result['cursor']
    for r in result['recipients']:
        final[r['id']] = r['status']
    polls += 1
    if not result['recipients']:
        mailing = cm_master.list_mailings(filter)[0]
        if mailing['status'] == 'FINISHED':
            # Drain until every recipient was reported in a final status. The feed may lag a moment behind a
            # commit (its horizon waits for transactions still open anywhere on the server): a recipient seen
            # WARNING (a retry) may show its last change only after the mailing reads FINISHED. It never
            # skips, so keep polling.
            deadline = time.monotonic() + 60
            while (len(final) < mailing['total_recipient'] or any(s not in FINAL for s in final.values())) and time.monotonic() < deadline:
                result = cm_master.get_recipients_status_updated_since(cursor, status_filter, 1000)
                cursor = result['cursor']
                for r in result['recipients']:
                    final[r['id']] = r['status']
                if not result['recipients']:
                    time.sleep(0.05)
            break
        time.sleep(0.2)
t_done = time.monotonic()

counts = {}
for s in final.values():
    counts[s] = counts.get(s, 0) + 1
print(json.dumps({
    'mailing_id': mailing_id,
    'added': added,
    'feed_counts': counts,
    'feed_recipients': len(final),
    'polls': polls,
    'mailing': {k: mailing[k] for k in ('status', 'total_recipient', 'total_sent', 'total_pending', 'total_error', 'total_softbounce')},
    'seconds_add': round(t_added - t0, 3),
    'seconds_send': round(t_done - t_added, 3),
}))
