/**
 * The Jinja2 constructs the real sources use (the original CloudMailing's `jinja2.Template(body)`, Yandex
 * Sender's templates, a Yandex Cloud quota notice), each with what Jinja2 3.1.6 renders for it over
 * JINJA2_CONTEXT (`jinja2.Template(source).render(**JINJA2_CONTEXT)`). One table for the engine's tests and
 * for the bench that compares the candidate engines (bench/templates.ts).
 */
export const JINJA2_CONTEXT = {
  name: 'Ann',
  n: 7,
  items: ['a', 'b', 'c'],
  html: '<a href="x">&\'',
  users: [{ name: 'Ann' }, { name: 'Bob' }],
  prices: [1, 2, 3.5],
  user: { name: 'Zoë', plan: 'pro' },
  quotas: [
    { name: 'vCPU', cloud: 'c1', used: 9, limit: 10 },
    { name: 'RAM', cloud: null, used: 1, limit: 64 },
    { name: 'Disks', cloud: 'c2', used: 5, limit: 5 },
  ],
  data: '{{ 7*7 }}{% if true %}x{% endif %}',
};

/** Construct, template, what Jinja2 renders with JINJA2_CONTEXT. */
export const JINJA2_CONSTRUCTS: [string, string, string][] = [
  ['if / elif / else', '{% if n > 10 %}big{% elif n > 5 %}mid{% else %}small{% endif %}', 'mid'],
  ['for + loop.index', '{% for x in items %}{{ loop.index }}:{{ x }}{% if not loop.last %},{% endif %}{% endfor %}', '1:a,2:b,3:c'],
  ['|upper', '{{ name|upper }}', 'ANN'],
  ["|default('x')", "{{ missing|default('x') }}", 'x'],
  ['|e', '{{ html|e }}', '&lt;a href=&#34;x&#34;&gt;&amp;&#39;'],
  ['|format', "{{ '%s has %d items'|format(name, items|length) }}", 'Ann has 3 items'],
  ['|length', '{{ items|length }}', '3'],
  ["|map(attribute='name')", "{{ users|map(attribute='name')|join(', ') }}", 'Ann, Bob'],
  ['|sum', '{{ prices|sum }}', '6.5'],
  ['{% set %}', '{% set total = n * 2 %}{{ total }}', '14'],
  ['user.name', "{{ user.name }} ({{ user['plan'] }})", 'Zoë (pro)'],
  [
    'quota notice',
    '{% for q in quotas %}{% if q.cloud %}{{ q.cloud }}: {{ q.name }} {{ q.used }}/{{ q.limit }}{% if q.used >= q.limit %} (full){% endif %}\n{% endif %}{% endfor %}',
    'c1: vCPU 9/10\nc2: Disks 5/5 (full)\n',
  ],
  ['field holding {{ 7*7 }}', '{{ data }}', '{{ 7*7 }}{% if true %}x{% endif %}'],
  ['a missing value', '[{{ nope }}]', '[]'],
];
