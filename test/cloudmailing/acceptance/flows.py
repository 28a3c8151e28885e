#!/usr/bin/env python3
"""The original CloudMailing server's acceptance flows, run against a Mailgate gateway.

The flows (what is called, in which order, and what is asserted) follow the original server's own acceptance
suite (ricard33/cloud-mailing, deployment/acceptance_tests/cm_tests.py); this is our own Python 3 code, not a
copy of it. The client connects exactly as that suite does: HTTPS to /CloudMailing with `admin` and the API key
in the URL, the certificate not verified. After the original's flows come three of Mailgate's own (the seed
guide's mailing, an unreadable status-feed cursor, a `testing` mailing kept in the capture).

Settings, from the command line or else the environment:
  --ip              MAILGATE_IP                 (127.0.0.1)
  --port            MAILGATE_PORT               (33610)
  --api-key         MAILGATE_API_KEY            (required)
  --data-dir        ACCEPTANCE_DATA_DIR         (./data beside this script: email.rfc822)
  --dkim-key        ACCEPTANCE_DKIM_KEY         (PEM private key for test_run_mailing's `dkim` property)
  --ids-out         ACCEPTANCE_IDS_OUT          (file that receives one JSON line: the mailing ids of each flow)
  --big-mailings    ACCEPTANCE_BIG_MAILINGS     (3: test_run_big_mailings' mailings)
  --big-recipients  ACCEPTANCE_BIG_RECIPIENTS   (2500: recipients of each of them)
  --seed-recipients ACCEPTANCE_SEED_RECIPIENTS  (300: recipients of the seed guide's mailing)
  --poll            ACCEPTANCE_POLL_SECONDS     (0.5: pause between two polls)
Other arguments go to unittest (-v, -f, a test such as CloudMailingAcceptance.test_run_mailing). Prints nothing but unittest's report; exits non-zero
when a test fails.
"""
import argparse
import base64
import email.parser
import email.utils
import json
import os
import random
import re
import ssl
import sys
import time
import unittest
import urllib.parse
import urllib.request
import xmlrpc.client

DOMAIN = 'unittest.cloud-mailing.net'
MAIL_FROM = 'my-mailing@%s' % DOMAIN

# The relay refuses these two with 550 (the test relay is told so); test_run_mailing counts them in error.
REFUSED = ('no-such-mailbox@calexium.example', 'postmaster@unknown-domain-for-tests.example')

# Recipients of test_run_mailing: 5 the relay accepts, 2 it refuses; some with the fields the message uses.
RUN_RECIPIENTS = [
    {'email': 'camille.durand@orange.example', 'firstname': 'Camille', 'lastname': 'DURAND'},
    {'email': 'jdoe@free.example', 'firstname': 'John', 'lastname': 'DOE'},
    {'email': 'a.ricci+news@gmail.example', 'firstname': 'Anna', 'lastname': 'RICCI'},
    {'email': 'contact@calexium.example'},
    {'email': 'paul.martin@calexium.example', 'firstname': 'Paul', 'lastname': 'MARTIN'},
    {'email': REFUSED[0]},
    {'email': REFUSED[1], 'firstname': 'Nobody'},
]

BIG_DOMAINS = (
    'free.example', 'orange.example', 'mail.example.com', 'wanadoo.example', 'calexium.example',
    'yahoo.example', 'live.example', 'laposte.example', 'my-company.example', 'ma-societe.example',
)

FINAL = ('FINISHED', 'ERROR', 'TIMEOUT', 'GENERAL_ERROR')


def read_settings(argv):
    env = os.environ.get
    here = os.path.dirname(os.path.abspath(__file__))
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0], add_help=False)
    p.add_argument('--ip', default=env('MAILGATE_IP', '127.0.0.1'))
    p.add_argument('--port', type=int, default=int(env('MAILGATE_PORT', '33610')))
    p.add_argument('--api-key', default=env('MAILGATE_API_KEY'))
    p.add_argument('--data-dir', default=env('ACCEPTANCE_DATA_DIR', os.path.join(here, 'data')))
    p.add_argument('--dkim-key', default=env('ACCEPTANCE_DKIM_KEY'))
    p.add_argument('--ids-out', default=env('ACCEPTANCE_IDS_OUT'))
    p.add_argument('--big-mailings', type=int, default=int(env('ACCEPTANCE_BIG_MAILINGS', '3')))
    p.add_argument('--big-recipients', type=int, default=int(env('ACCEPTANCE_BIG_RECIPIENTS', '2500')))
    p.add_argument('--seed-recipients', type=int, default=int(env('ACCEPTANCE_SEED_RECIPIENTS', '300')))
    p.add_argument('--poll', type=float, default=float(env('ACCEPTANCE_POLL_SECONDS', '0.5')))
    settings, rest = p.parse_known_args(argv)
    if not settings.api_key:
        p.error('the API key is required (--api-key or MAILGATE_API_KEY)')
    return settings, rest


SETTINGS = None
# What the gateway's side of the test needs to know about each flow (written to --ids-out at the end).
RECORD = {'refused': list(REFUSED)}


def connect():
    config = {'api_key': urllib.parse.quote(SETTINGS.api_key, safe=''), 'ip': SETTINGS.ip, 'port': SETTINGS.port}
    return xmlrpc.client.ServerProxy('https://admin:%(api_key)s@%(ip)s:%(port)d/CloudMailing' % config,
                                     context=ssl._create_unverified_context())


def message_file():
    return os.path.join(SETTINGS.data_dir, 'email.rfc822')


class CloudMailingAcceptance(unittest.TestCase):
    maxDiff = None

    def setUp(self):
        self.domain_name = DOMAIN
        self.rpc = connect()
        # As the original suite: every test starts with no mailing of the test domain.
        self.rpc.delete_all_mailings_for_domain(self.domain_name)

    # ----------------------------------------------------------------------------------------------- helpers

    def check_sender_domain(self, path):
        """Only ever mail from the test domain (the original suite's safety check on its fixtures)."""
        with open(path, 'rb') as f:
            message = email.parser.BytesParser().parse(f, headersonly=True)
        sender = email.utils.getaddresses([str(message['From'])])[0][1]
        self.assertEqual(sender.split('@')[1], self.domain_name)

    def create_from_fixture(self):
        """create_mailing_ext as a Python 3 client of the original calls it: base64.b64encode of the bytes."""
        path = message_file()
        self.check_sender_domain(path)
        with open(path, 'rb') as f:
            mailing_id = self.rpc.create_mailing_ext(base64.b64encode(f.read()))
        self.assertGreater(mailing_id, 0)
        return mailing_id

    def last_mailing(self):
        return self.rpc.list_mailings(self.domain_name)[-1]

    def add_checked(self, mailing_id, recipients, method='add_recipients'):
        results = getattr(self.rpc, method)(mailing_id, recipients)
        self.assertEqual(len(results), len(recipients))
        for sent, got in zip(recipients, results):
            self.assertEqual(got.get('email'), sent['email'])
            self.assertNotIn('error', got)
        return results

    def pause(self):
        time.sleep(SETTINGS.poll)

    def wait_finished(self, mailing_id, limit_seconds):
        mailing = self.rpc.list_mailings({'id': [mailing_id]})[0]
        t0 = time.time()
        while mailing['status'] != 'FINISHED':
            self.assertIn(mailing['status'], ('READY', 'RUNNING'))
            self.assertLess(time.time() - t0, limit_seconds, 'mailing %d not FINISHED: %r' % (mailing_id, mailing))
            self.pause()
            mailing = self.rpc.list_mailings({'id': [mailing_id]})[0]
        return mailing

    def feed_all(self, cursor, filter_, expected):
        """Every page of the status feed from `cursor`, until `expected` recipients were seen (bounded): the feed
        may lag a moment behind a commit (its horizon waits for transactions still open anywhere on the server),
        it never skips, so an empty page is not the end. Returns (recipients by id, last cursor)."""
        seen = {}
        t0 = time.time()
        while True:
            page = self.rpc.get_recipients_status_updated_since(cursor, filter_)
            cursor = page['cursor']
            for r in page['recipients']:
                seen[r['id']] = r
            if not page['recipients']:
                if len(seen) >= expected:
                    return seen, cursor
                self.assertLess(time.time() - t0, 60, 'the feed shows %d of %d recipients' % (len(seen), expected))
                self.pause()

    # ---------------------------------------------------------------------------------- the original's flows

    def test_get_mailings(self):
        self.assertIsInstance(self.rpc.list_mailings(self.domain_name), (list, tuple))

    def test_create_mailing(self):
        before = len(self.rpc.list_mailings(self.domain_name))
        self.assertGreaterEqual(before, 0)
        mailing_id = self.rpc.create_mailing(MAIL_FROM, 'My Mailing', 'The great newsletter',
                                             '<h1>Title</h1><p>Coucou</p>', 'Title\nCoucou\n', 'UTF-8')
        self.assertGreater(mailing_id, 0)
        mailings = self.rpc.list_mailings(self.domain_name)
        self.assertEqual(len(mailings), before + 1)
        self.assertEqual(mailings[-1]['id'], mailing_id)
        self.assertEqual(mailings[-1]['mail_from'], MAIL_FROM)
        # Nothing is refused when added: an unknown domain or mailbox is the relay's business, later.
        recipients = [{'email': 'camille.durand@orange.example'},
                      {'email': 'jdoe@free.example'},
                      {'email': 'contact@calexium.example'},
                      {'email': 'paul.martin@calexium.example'},
                      {'email': 'no-such-mailbox@calexium.example'},
                      {'email': 'someone@no-such-domain-at-all-for-tests.example'}]
        self.add_checked(mailing_id, recipients)
        mailing = self.last_mailing()
        self.assertEqual(mailing['id'], mailing_id)
        self.assertEqual(mailing['total_recipient'], 6)

        # A second one, from a whole message.
        mailing2_id = self.create_from_fixture()
        self.assertEqual(len(self.rpc.list_mailings(self.domain_name)), before + 2)
        self.rpc.list_mailings()  # no filter at all: every mailing of the account
        RECORD['create_mailing'] = [mailing_id, mailing2_id]

    def test_run_mailing(self):
        key_path = SETTINGS.dkim_key
        self.assertTrue(key_path and os.path.exists(key_path), 'a DKIM private key is needed (--dkim-key)')
        with open(key_path, 'rt') as f:
            dkim_private_key = f.read()
        before = len(self.rpc.list_mailings(self.domain_name))
        mailing_id = self.create_from_fixture()
        mailings = self.rpc.list_mailings(self.domain_name)
        self.assertEqual(len(mailings), before + 1)
        self.assertEqual(mailings[-1]['mail_from'], MAIL_FROM)
        self.add_checked(mailing_id, RUN_RECIPIENTS)
        self.assertEqual(self.last_mailing()['total_recipient'], 7)
        self.rpc.set_mailing_properties(mailing_id, {
            'scheduled_duration': 3,
            'testing': False,
            'dkim': {'selector': 'mail', 'domain': self.domain_name, 'privkey': dkim_private_key},
        })
        RECORD['run_mailing'] = {'id': mailing_id, 'recipients': RUN_RECIPIENTS,
                                 'dkim': {'selector': 'mail', 'domain': self.domain_name}}

        self.rpc.start_mailing(mailing_id)
        self.rpc.mailing_manager_force_check()
        self.rpc.update_statistics()
        mailing = self.last_mailing()
        t0 = time.time()
        while mailing['total_pending'] > 0:
            self.assertIn(mailing['status'], ('READY', 'RUNNING'))
            self.assertLess(time.time() - t0, 120)
            self.rpc.mailing_manager_force_check()
            self.pause()
            mailing = self.last_mailing()
        mailing = self.last_mailing()
        self.assertEqual(mailing['total_recipient'], 7)
        self.assertEqual(mailing['total_pending'], 0)
        self.assertEqual(mailing['total_sent'], 5)
        self.assertEqual(mailing['total_error'], 2)

    def test_send_test_emails(self):
        mailing_id = self.create_from_fixture()
        self.rpc.set_mailing_properties(mailing_id, {'testing': True})
        recipients = [{'email': 'camille.durand@orange.example'}, {'email': 'jdoe@free.example'}]
        self.add_checked(mailing_id, recipients, 'send_test')
        RECORD['send_test'] = {'id': mailing_id, 'recipients': recipients}
        mailing = self.last_mailing()
        self.assertEqual(mailing['total_recipient'], 2)
        t0 = time.time()
        while mailing['total_pending'] > 1:
            self.assertEqual(mailing['status'], 'FILLING_RECIPIENTS')
            self.assertLess(time.time() - t0, 30)
            self.pause()
            mailing = self.last_mailing()
        mailing = self.last_mailing()
        self.assertEqual(mailing['status'], 'FILLING_RECIPIENTS')
        self.assertEqual(mailing['total_recipient'], 2)
        self.assertEqual(mailing['total_sent'], 2)
        self.assertEqual(mailing['total_error'], 0)

    # test_memory_consumption of the original is left out: it reads the resident memory of the original's
    # `cm_satellite` process with ps, which has no counterpart here (the worker runs inside the gateway).

    def big_recipients(self, count):
        for n in range(count):
            yield {'email': 'email%d@%s' % (n, random.choice(BIG_DOMAINS)),
                   'first_name': 'Firstname%d' % n,
                   'last_name': 'Lastname%d' % n,
                   'company': 'The company',
                   'comment': 'Free \n multiline text %d.' % n}

    def create_big_mailing(self, count):
        before = len(self.rpc.list_mailings(self.domain_name))
        mailing_id = self.create_from_fixture()
        mailings = self.rpc.list_mailings(self.domain_name)
        self.assertEqual(len(mailings), before + 1)
        self.assertEqual(mailings[-1]['mail_from'], MAIL_FROM)
        self.rpc.set_mailing_properties(mailing_id, {'scheduled_duration': 1440, 'testing': True,
                                                     'dont_close_if_empty': True})
        # Started first, filled afterwards: dont_close_if_empty keeps it open while it is empty.
        self.rpc.start_mailing(mailing_id)
        chunk = []
        for recipient in self.big_recipients(count):
            chunk.append(recipient)
            if len(chunk) >= 1000:
                self.add_checked(mailing_id, chunk)
                chunk = []
        if chunk:
            self.add_checked(mailing_id, chunk)
        self.assertEqual(self.last_mailing()['total_recipient'], count)
        self.rpc.set_mailing_properties(mailing_id, {'dont_close_if_empty': False})
        return mailing_id, count

    def test_run_big_mailings(self):
        all_mailings = []
        total = 0
        for _ in range(SETTINGS.big_mailings):
            mailing_id, count = self.create_big_mailing(SETTINGS.big_recipients)
            all_mailings.append(mailing_id)
            total += count
        RECORD['big'] = {'ids': all_mailings, 'per_mailing': SETTINGS.big_recipients}
        mailings = self.rpc.list_mailings({'id': all_mailings})
        t0 = time.time()
        while sum(m['total_pending'] for m in mailings) > 0:
            for m in mailings:
                self.assertIn(m['status'], ('READY', 'RUNNING', 'FINISHED'))
            self.assertLess(time.time() - t0, 300)
            self.pause()
            mailings = self.rpc.list_mailings({'id': all_mailings})
        mailings = self.rpc.list_mailings({'id': all_mailings})
        self.assertEqual(sum(m['total_recipient'] for m in mailings), total)
        self.assertEqual(sum(m['total_pending'] for m in mailings), 0)
        self.assertEqual(sum(m['total_sent'] for m in mailings), total)
        self.assertEqual(sum(m['total_error'] for m in mailings), 0)
        # Mailgate's addition: once dont_close_if_empty is off and all is sent, each mailing closes.
        for mailing_id in all_mailings:
            self.wait_finished(mailing_id, 60)

    def test_get_full_reports_with_email_content(self):
        mailing_id = self.create_from_fixture()
        self.rpc.set_mailing_properties(mailing_id, {'testing': True, 'backup_customized_emails': True})
        recipients = [{'email': 'camille.durand@orange.example', 'firstname': 'Camille', 'lastname': 'DURAND'},
                      {'email': 'jdoe@free.example', 'firstname': 'John', 'lastname': 'DOE'}]
        self.add_checked(mailing_id, recipients, 'send_test')
        RECORD['full_reports'] = {'id': mailing_id, 'recipients': recipients}
        mailing = self.last_mailing()
        self.assertEqual(mailing['total_recipient'], 2)

        t0 = time.time()
        by_email = {}
        cursor = ''
        while len(by_email) < len(recipients):
            self.assertLess(time.time() - t0, 60)
            page = self.rpc.get_recipients_status_updated_since(cursor, {'mailings': [mailing['id']]})
            cursor = page['cursor']
            for r in page['recipients']:
                by_email[r['email']] = r
            self.pause()
        self.assertEqual(by_email['camille.durand@orange.example']['status'], 'FINISHED')
        self.assertEqual(by_email['jdoe@free.example']['status'], 'FINISHED')
        self.assertIn('*Bonjour*Camille DURAND', by_email['camille.durand@orange.example']['customized_content'])
        self.assertIn('*Bonjour*John DOE', by_email['jdoe@free.example']['customized_content'])

    # ------------------------------------------------------------------------------------- Mailgate's flows

    def test_seed_guide_mailing_sends_everything(self):
        """The seed guide's calls: scheduled_duration 1440 is a deadline, not a pace; all is sent at once."""
        mailing_id = self.rpc.create_mailing(
            "my-mailing@%example.org", "My Mailing", "The great newsletter",
            "<h1>Title</h1><p>Coucou</p>", "Title\nCoucou\n", "UTF-8")
        self.rpc.set_mailing_properties(mailing_id, {'scheduled_duration': 1440, 'click_tracking': True})
        count = SETTINGS.seed_recipients
        recipients = [{'email': 'reader%04d@example.org' % n, 'firstname': 'Reader%d' % n, 'lastname': 'SEED'}
                      for n in range(count)]
        self.add_checked(mailing_id, recipients)
        RECORD['seed'] = {'id': mailing_id, 'count': count}
        self.rpc.start_mailing(mailing_id)

        filter_ = {'id': [mailing_id]}
        mailing = self.rpc.list_mailings(filter_)[0]
        t0 = time.time()
        while mailing['status'] != 'FINISHED':
            self.assertIn(mailing['status'], ('READY', 'RUNNING'))
            self.assertLess(time.time() - t0, 120, 'the seed mailing is not FINISHED: %r' % mailing)
            self.pause()
            mailing = self.rpc.list_mailings(filter_)[0]
        self.assertEqual(mailing['total_recipient'], count)
        self.assertEqual(mailing['total_sent'], count)
        self.assertEqual(mailing['total_error'], 0)
        self.assertEqual(mailing['total_pending'], 0)
        self.assertEqual(mailing['scheduled_duration'], 1440)
        self.assertEqual(self.rpc.get_recipients_count({'status': ['FINISHED'], 'mailings': [mailing_id]}), count)
        seen, _ = self.feed_all('', {'mailings': [mailing_id]}, count)
        self.assertEqual(len(seen), count)
        self.assertEqual({r['status'] for r in seen.values()}, {'FINISHED'})

    def test_unreadable_cursor_restarts_feed(self):
        """A cursor this server never made (one saved from the original, say) restarts the feed."""
        mailing_id = self.create_from_fixture()
        self.rpc.set_mailing_properties(mailing_id, {'testing': True})
        recipients = [{'email': 'cursor%d@calexium.example' % n, 'firstname': 'Cursor%d' % n} for n in range(5)]
        self.add_checked(mailing_id, recipients)
        RECORD['cursor'] = {'id': mailing_id, 'recipients': recipients}
        self.rpc.start_mailing(mailing_id)
        self.wait_finished(mailing_id, 60)

        filter_ = {'mailings': [mailing_id]}
        self.feed_all('', filter_, len(recipients))  # until the feed shows every final status
        fresh = self.rpc.get_recipients_status_updated_since('', filter_)
        unknown = self.rpc.get_recipients_status_updated_since('not-a-cursor-we-made', filter_)
        summary = lambda page: sorted((r['id'], r['email'], r['status']) for r in page['recipients'])
        self.assertEqual(len(fresh['recipients']), 5)
        self.assertEqual(summary(unknown), summary(fresh))
        self.assertEqual({r['status'] for r in unknown['recipients']}, {'FINISHED'})
        # The cursor it answers is a real one: nothing changed since.
        self.assertIsInstance(unknown['cursor'], str)
        self.assertEqual(self.rpc.get_recipients_status_updated_since(unknown['cursor'], filter_)['recipients'], [])

    def test_testing_mailing_stays_in_capture(self):
        """A started `testing` mailing is sent to the built-in capture, readable at /admin/outbox."""
        mailing_id = self.create_from_fixture()
        self.rpc.set_mailing_properties(mailing_id, {'testing': True})
        recipients = [{'email': 'captured%d@orange.example' % n, 'firstname': 'Captured%d' % n} for n in range(4)]
        self.add_checked(mailing_id, recipients)
        RECORD['testing_only'] = {'id': mailing_id, 'recipients': recipients}
        self.rpc.start_mailing(mailing_id)
        mailing = self.wait_finished(mailing_id, 60)
        self.assertEqual(mailing['total_sent'], 4)
        self.assertEqual(mailing['total_error'], 0)

        # The outbox lists the newest captured messages first; each of ours is there once, for its recipient.
        listing = self.outbox('/admin/outbox').decode('utf-8')
        ids = [int(n) for n in re.findall(r'href="/admin/outbox/(\d+)"', listing)][:50]
        found = {}
        for message_id in ids:
            raw = self.outbox('/admin/outbox/%d/raw' % message_id)
            head = email.parser.BytesParser().parsebytes(raw, headersonly=True)
            if head['X-Mailgate-Mailing'] == str(mailing_id):
                found.setdefault(head['To'], []).append(message_id)
        self.assertEqual(sorted(found), sorted(r['email'] for r in recipients))
        self.assertTrue(all(len(v) == 1 for v in found.values()), found)

    def outbox(self, path):
        url = 'https://%s:%d%s' % (SETTINGS.ip, SETTINGS.port, path)
        auth = base64.b64encode(('admin:%s' % SETTINGS.api_key).encode()).decode()
        request = urllib.request.Request(url, headers={'Authorization': 'Basic ' + auth})
        with urllib.request.urlopen(request, context=ssl._create_unverified_context(), timeout=30) as answer:
            self.assertEqual(answer.status, 200)
            return answer.read()


def main():
    global SETTINGS
    SETTINGS, rest = read_settings(sys.argv[1:])
    program = unittest.main(argv=[sys.argv[0]] + rest, exit=False)
    if SETTINGS.ids_out:
        with open(SETTINGS.ids_out, 'w') as f:
            f.write(json.dumps(RECORD) + '\n')
    sys.exit(0 if program.result.wasSuccessful() else 1)


if __name__ == '__main__':
    main()
