import t from 'tap';
import { formatAge, formatMembersJson, formatMembersTable, membersToJson, sanitize, useColor } from '../../src/swim/table.ts';
import type { MemberInfo } from '../../src/swim/types.ts';

const m = (name: string, status: MemberInfo['status'], incarnation: number, changedAt: number, address = '127.0.0.11:7946'): MemberInfo => ({
  name,
  address,
  status,
  incarnation,
  meta: new Uint8Array([0xab, 0x01]),
  changedAt,
});

const members = [m('node-b', 'suspect', 12, 95_000, '127.0.0.12:7946'), m('a', 'alive', 1, 0), m('c\x1b[2J', 'dead', 3, 100_000 - 3_725_000)];

t.test('aligned text table, sorted, no colour by default', async (t) => {
  const out = formatMembersTable(members, { now: 100_000 });
  t.equal(
    out,
    [
      'NAME      ADDRESS          STATUS   INCARNATION  LAST CHANGE',
      'a         127.0.0.11:7946  alive              1  1m40s',
      'c\\x1b[2J  127.0.0.11:7946  dead               3  1h02m',
      'node-b    127.0.0.12:7946  suspect           12  5s',
      '',
    ].join('\n'),
  );
  t.notMatch(out, /\x1b/, 'no escape codes at all');
  t.equal(formatMembersTable([], { now: 0 }), 'NAME  ADDRESS  STATUS  INCARNATION  LAST CHANGE\n');
});

t.test('colour only on status, alignment kept', async (t) => {
  const out = formatMembersTable(members, { now: 100_000, color: true });
  const plain = out.replace(/\x1b\[[0-9;]*m/g, '');
  t.equal(plain, formatMembersTable(members, { now: 100_000 }));
  t.match(out, '\x1b[32malive\x1b[39m');
  t.match(out, '\x1b[31mdead\x1b[39m');
});

t.test('colour conventions', async (t) => {
  t.equal(useColor({ isTTY: true }, {}), true);
  t.equal(useColor({ isTTY: false }, {}), false);
  t.equal(useColor({}, {}), false);
  t.equal(useColor({ isTTY: true }, { NO_COLOR: '1' }), false);
  t.equal(useColor({ isTTY: true }, { NO_COLOR: '' }), true);
  t.equal(useColor({ isTTY: true }, { TERM: 'dumb' }), false);
  t.equal(useColor({ isTTY: false }, { FORCE_COLOR: '1' }), true);
  t.equal(useColor({ isTTY: true }, { FORCE_COLOR: '0' }), false);
});

t.test('ages and sanitising', async (t) => {
  t.equal(formatAge(-5), '0s');
  t.equal(formatAge(59_999), '59s');
  t.equal(formatAge(60_000), '1m00s');
  t.equal(formatAge(3_600_000), '1h00m');
  t.equal(formatAge(90_000_000), '1d01h');
  t.equal(sanitize('a\nb\u009bc\u007f'), 'a\\x0ab\\x9bc\\x7f');
});

t.test('json', async (t) => {
  const j = membersToJson(members, { now: 100_000, wallNow: Date.UTC(2026, 0, 1) });
  t.same(j[0], {
    name: 'a',
    address: '127.0.0.11:7946',
    status: 'alive',
    incarnation: 1,
    meta: 'ab01',
    lastChangeMs: 100_000,
    lastChange: '2025-12-31T23:58:20.000Z',
  });
  t.equal(j.map((x) => x.name).join(','), 'a,c\x1b[2J,node-b', 'JSON keeps names exact; JSON.stringify escapes them');
  const text = formatMembersJson(members, { now: 100_000 });
  t.notMatch(text, /\x1b/);
  t.same(JSON.parse(text).length, 3);
  t.notOk('lastChange' in (membersToJson(members, { now: 1 })[0] ?? {}));
});
